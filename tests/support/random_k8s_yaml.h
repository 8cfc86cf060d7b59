// Seeded random NetworkPolicy manifests as YAML text, written the many ways Kubernetes accepts
// for one meaning: a field left out, written with no value (null), or empty; null list items (the
// zero rule, the zero port). Each case carries the model it must load as, built from the same
// draws, so the differential test checks the loader's decoding as well as the compiler.
#pragma once

#include <map>
#include <set>
#include <string>

#include "tests/support/random_policy.h"

namespace bulkhead::policy::testing {

struct K8sYamlCase {
  std::string text;   // Namespace and NetworkPolicy documents
  PolicySet meaning;  // what Kubernetes makes of them
  Endpoints endpoints;
};

class RandomK8sYamlGen : public RandomPolicyGen {
 public:
  explicit RandomK8sYamlGen(uint32_t seed) : RandomPolicyGen(seed) {}

  K8sYamlCase make() {
    RandomCase base;
    make_namespaces(base);
    make_endpoints(base);
    K8sYamlCase c;
    c.endpoints = std::move(base.endpoints);
    c.meaning.namespaces = base.policies.namespaces;
    for (const auto& ns : c.meaning.namespaces) {
      c.text +=
          "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + ns.name + "\n  labels:\n";
      for (const auto& [k, v] : ns.labels)
        if (k != kNamespaceNameLabel) c.text += "    " + k + ": " + v + "\n";
    }
    const int n = between(1, 4);
    for (int i = 0; i < n; ++i) policy(c, i);
    return c;
  }

  // How often each written form was drawn, so a test can insist every one was exercised.
  const std::map<std::string, int>& forms() const { return forms_; }

 private:
  static std::string pad(int n) { return std::string(static_cast<size_t>(n), ' '); }
  // Picks one of `n` ways to write something, counting the choice under `form`.
  int form(const std::string& name, int n) {
    const int k = between(0, n - 1);
    ++forms_[name + "#" + std::to_string(k)];
    return k;
  }

  // A selector as the value of "KEY:", at `indent`. `may_be_null`: the field is a value type
  // (spec.podSelector), so null and absence are the empty selector too.
  std::string selector(const LabelSelector& s, int indent, bool may_be_null) {
    const std::string in = pad(indent);
    if (s.empty()) {
      switch (form(may_be_null ? "empty-value-selector" : "empty-pointer-selector",
                   may_be_null ? 4 : 3)) {
        case 0:
          return " {}\n";
        case 1:
          return "\n" + in + "matchLabels:\n";  // matchLabels null: still the empty selector
        case 2:
          return "\n" + in + "matchLabels: {}\n" + in + "matchExpressions:\n";
        default:
          return "\n";  // the field itself null
      }
    }
    std::string labels, exprs;
    std::set<std::string> label_keys;
    for (const auto& r : s.requirements) {
      if (r.op == Requirement::Op::in && r.values.size() == 1 && !label_keys.count(r.key) &&
          chance(0.7)) {
        label_keys.insert(r.key);
        labels += in + "  " + r.key + ": " + r.values[0] + "\n";
        continue;
      }
      static const char* kOps[] = {"In", "NotIn", "Exists", "DoesNotExist"};
      exprs +=
          in + "- key: " + r.key + "\n" + in + "  operator: " + kOps[static_cast<int>(r.op)] + "\n";
      if (!r.values.empty()) {
        exprs += in + "  values:\n";
        for (const auto& v : r.values) exprs += in + "  - " + v + "\n";
      } else if (chance(0.5)) {
        exprs += in + "  values:\n";  // null: no values, as Exists requires
        ++forms_["null-values"];
      }
    }
    std::string out = "\n";
    if (!labels.empty()) out += in + "matchLabels:\n" + labels;
    if (!exprs.empty()) out += in + "matchExpressions:\n" + exprs;
    if (labels.empty() && chance(0.3)) out += in + "matchLabels:\n";
    if (exprs.empty() && chance(0.3)) out += in + "matchExpressions:\n";
    return out;
  }

  // An unset pointer field: left out, or written with no value.
  std::string unset(const std::string& key, int indent) {
    if (form("unset-" + key, 2) == 0) return "";
    return pad(indent) + key + ":\n";
  }

  CidrPeer cidr_peer() {
    CidrPeer p;
    if (chance(0.8)) {
      const int prefix = pick(std::vector<int>{24, 26, 28, 29});
      const int size = 1 << (32 - prefix);
      const int base = size * between(0, 255 / size);
      p.cidr = *Cidr::parse("198.18.0." + std::to_string(base) + "/" + std::to_string(prefix));
      if (chance(0.6)) {
        const int ex = between(prefix + 1, 32);
        const int ex_size = 1 << (32 - ex);
        const int at = base + ex_size * between(0, size / ex_size - 1);
        p.except.push_back(
            *Cidr::parse("198.18.0." + std::to_string(at) + "/" + std::to_string(ex)));
      }
    } else {
      p.cidr = *Cidr::parse("2001:db8::/120");
      if (chance(0.5)) p.except.push_back(*Cidr::parse("2001:db8::10/126"));
    }
    return p;
  }

  // One peer at `indent` (its "- " included) and its meaning in namespace `ns`.
  std::string peer(const std::string& ns, int indent, std::vector<Peer>& out) {
    const std::string in = pad(indent);
    std::string y;
    switch (between(0, 3)) {
      case 0: {  // pods of the policy's namespace; namespaceSelector unset
        const LabelSelector pods = random_selector();
        y = in + "- podSelector:" + selector(pods, indent + 4, false) +
            unset("namespaceSelector", indent + 2) + unset("ipBlock", indent + 2);
        out.push_back(Peer{EndpointPeer{pods, {NamespaceScope::Kind::named, ns, {}}, ""}, {}});
        break;
      }
      case 1: {  // every pod of some namespaces; podSelector unset
        const LabelSelector nss = random_ns_selector();
        const auto kind = nss.empty() ? NamespaceScope::Kind::any : NamespaceScope::Kind::selector;
        y = in + "- namespaceSelector:" + selector(nss, indent + 4, false) +
            unset("podSelector", indent + 2);
        out.push_back(Peer{EndpointPeer{{}, {kind, "", nss}, ""}, {}});
        break;
      }
      case 2: {  // both
        const LabelSelector pods = random_selector(), nss = random_ns_selector();
        const auto kind = nss.empty() ? NamespaceScope::Kind::any : NamespaceScope::Kind::selector;
        y = in + "- podSelector:" + selector(pods, indent + 4, false) + in +
            "  namespaceSelector:" + selector(nss, indent + 4, false);
        out.push_back(Peer{EndpointPeer{pods, {kind, "", nss}, ""}, {}});
        break;
      }
      default: {
        const CidrPeer c = cidr_peer();
        y = in + "- ipBlock:\n" + in + "    cidr: " + c.cidr.to_string() + "\n";
        if (!c.except.empty()) {
          y += in + "    except: [" + c.except[0].to_string() + "]\n";
        } else {
          y += unset("except", indent + 4);
        }
        y += unset("podSelector", indent + 2) + unset("namespaceSelector", indent + 2);
        out.push_back(Peer{c, {}});
        break;
      }
    }
    return y;
  }

  std::string port(int indent, std::vector<PortSpec>& out) {
    const std::string in = pad(indent);
    PortSpec p;
    p.proto = Protocol::tcp;
    static const std::vector<std::pair<const char*, Protocol>> kProtos = {
        {"TCP", Protocol::tcp}, {"UDP", Protocol::udp}, {"SCTP", Protocol::sctp}};
    std::string y;
    switch (between(0, 5)) {
      case 0:  // the zero port: TCP, every port
        y = in + "-\n";
        ++forms_["null-port-item"];
        break;
      case 1: {  // a protocol, every port
        const auto& [name, proto] = pick(kProtos);
        p.proto = proto;
        y = in + "- protocol: " + name + "\n" + unset("port", indent + 2);
        break;
      }
      case 2:  // a number, protocol unset (TCP)
        p.first = p.last = pick(std::vector<uint16_t>{80, 443, 8080, 53});
        y = in + "- port: " + std::to_string(p.first) + "\n" + unset("protocol", indent + 2) +
            unset("endPort", indent + 2);
        break;
      case 3: {  // a range
        const auto& [name, proto] = pick(kProtos);
        p.proto = proto;
        p.first = 80;
        p.last = pick(std::vector<uint16_t>{443, 9000});
        y = in + "- port: 80\n" + in + "  endPort: " + std::to_string(p.last) + "\n" + in +
            "  protocol: " + name + "\n";
        break;
      }
      default: {  // a named port
        const auto& [name, proto] = pick(kProtos);
        p.proto = proto;
        p.named = pick(std::vector<std::string>{"http", "dns", "metrics", "sig", "nope"});
        y = in + "- port: " + p.named + "\n" + in + "  protocol: " + name + "\n" +
            unset("endPort", indent + 2);
        break;
      }
    }
    out.push_back(p);
    return y;
  }

  // A list field left out, written with no value, or empty: the same meaning each way ("every
  // peer" for from/to, "every port" for ports, "no rules" for ingress/egress).
  std::string no_items(const std::string& key, int indent) {
    switch (form("no-items-" + key, 3)) {
      case 0:
        return "";
      case 1:
        return pad(indent) + key + ":\n";
      default:
        return pad(indent) + key + ": []\n";
    }
  }

  std::string rule(Direction dir, const Subject& subject, const std::string& ns,
                   const Origin& origin, bool keep, PolicySet& meaning) {
    AllowRule r;
    r.dir = dir;
    r.subject = subject;
    r.origin = origin;
    std::string y;
    const std::string peers_key = dir == Direction::ingress ? "from" : "to";
    if (form("rule", 5) == 0) {
      y = "  -\n";  // the zero rule: every peer, every port
      r.any_peer = r.any_port = true;
    } else {
      std::string body;
      if (chance(0.3)) {
        body += no_items(peers_key, 4);
        r.any_peer = true;
      } else {
        body += "    " + peers_key + ":\n";
        const int n = between(1, 3);
        for (int i = 0; i < n; ++i) body += peer(ns, 6, r.peers);
      }
      if (chance(0.35)) {
        body += no_items("ports", 4);
        r.any_port = true;
      } else {
        body += "    ports:\n";
        const int n = between(1, 3);
        for (int i = 0; i < n; ++i) body += port(6, r.ports);
      }
      y = body.empty() ? "  - {}\n" : "  -" + body.substr(3);
    }
    if (keep) meaning.rules.push_back(std::move(r));
    return y;
  }

  void policy(K8sYamlCase& c, int index) {
    const std::string ns = pick(namespaces_);
    const std::string name = "np" + std::to_string(index);
    const bool audit = chance(0.2);
    std::string y =
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: " + name +
        "\n";
    if (ns == "default" && chance(0.5)) {
      y += form("default-namespace", 2) ? "  namespace:\n" : "";
    } else {
      y += "  namespace: " + ns + "\n";
    }
    if (audit) {
      y += "  annotations:\n    bulkhead/mode: audit\n";
    } else {
      y += unset("labels", 2) + unset("annotations", 2);
    }
    const Origin origin{ns + "/" + name, "NetworkPolicy", {}, audit};
    c.meaning.policies.push_back(PolicyInfo{origin.policy, "NetworkPolicy", {}, audit});
    const Subject subject{random_selector(), ns, ""};
    const int in_rules = between(0, 2), out_rules = between(0, 2);
    // policyTypes: unset (the defaults), or explicit, once a duplicate.
    bool iso_in = true, iso_out = out_rules > 0;
    std::string types;
    switch (form("policy-types", 6)) {
      case 0:
        break;
      case 1:
        types = "  policyTypes:\n";
        break;
      case 2:
        types = "  policyTypes: [Ingress]\n";
        iso_out = false;
        break;
      case 3:
        types = "  policyTypes: [Egress]\n";
        iso_in = false;
        iso_out = true;
        break;
      case 4:
        types = "  policyTypes: [Egress, Egress]\n";
        iso_in = false;
        iso_out = true;
        break;
      default:
        types = "  policyTypes: [Ingress, Egress]\n";
        iso_out = true;
        break;
    }
    std::string spec = "  podSelector:" + selector(subject.pods, 4, true);
    if (subject.pods.empty() && chance(0.3)) {
      spec.clear();  // absent: the empty selector as well
      ++forms_["absent-pod-selector"];
    }
    spec += types;
    if (in_rules == 0) {
      spec += no_items("ingress", 2);
    } else {
      spec += "  ingress:\n";
      for (int i = 0; i < in_rules; ++i)
        spec += rule(Direction::ingress, subject, ns, origin, iso_in, c.meaning);
    }
    if (out_rules == 0) {
      spec += no_items("egress", 2);
    } else {
      spec += "  egress:\n";
      for (int i = 0; i < out_rules; ++i)
        spec += rule(Direction::egress, subject, ns, origin, iso_out, c.meaning);
    }
    if (iso_in) c.meaning.isolations.push_back(Isolation{Direction::ingress, subject, origin});
    if (iso_out) c.meaning.isolations.push_back(Isolation{Direction::egress, subject, origin});
    y += spec.empty() ? (chance(0.5) ? "spec:\n" : "") : "spec:\n" + spec;
    c.text += y;
  }

  std::map<std::string, int> forms_;
};

}  // namespace bulkhead::policy::testing
