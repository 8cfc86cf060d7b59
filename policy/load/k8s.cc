// Kubernetes networking.k8s.io/v1 NetworkPolicy and v1 Namespace, decoded and validated as the
// API server does: a null field is unset where the Go type is a pointer, map or slice, and the
// zero value where it is a value; ValidateNetworkPolicy's refusals are errors here, with the
// same meaning for everything it accepts (docs/kubernetes.md, "How documents are read").
#include <algorithm>

#include "policy/load/k8s_meta.h"

namespace bulkhead::policy {

using yaml::Field;
using yaml::K8sScalar;
using yaml::Map;
using yaml::Source;

namespace {

// A field that is absent or null: Go leaves its pointer, map or slice unset.
bool unset(const Field* f) { return !f || f->is_null(); }

// IsValidPortName's rules, the first one broken; "" when the name is valid.
std::string port_name_problem(const std::string& s) {
  if (s.empty()) return "a port name cannot be empty";
  if (s.size() > 15) return "a port name has at most 15 characters";
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return std::string("character '") + c +
             "' is not allowed (lower-case letters, digits and '-')";
    }
  }
  if (std::none_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
    return "a port name must contain at least one letter";
  }
  if (s.find("--") != std::string::npos) return "a port name cannot contain \"--\"";
  if (s.front() == '-' || s.back() == '-') return "a port name cannot start or end with '-'";
  return "";
}

// A peer: podSelector, namespaceSelector and ipBlock are pointers, so null is "not set".
std::optional<Peer> load_peer(Source& src, const YAML::Node& n, const SourcePos& at,
                              const std::string& ns) {
  if (!n.IsDefined() || n.IsNull()) {
    src.error(at, "invalid-peer",
              "an empty peer (nothing) selects nothing and Kubernetes refuses it; write "
              "podSelector, namespaceSelector or ipBlock");
    return std::nullopt;
  }
  auto m = Map::open(src, n, at, "a peer (a map with podSelector, namespaceSelector or ipBlock)",
                     {"podSelector", "namespaceSelector", "ipBlock"});
  if (!m) return std::nullopt;
  const Field* pods = m->get("podSelector");
  const Field* nss = m->get("namespaceSelector");
  const Field* block = m->get("ipBlock");
  const bool null_only = (pods || nss || block) && unset(pods) && unset(nss) && unset(block);
  if (unset(pods)) pods = nullptr;
  if (unset(nss)) nss = nullptr;
  if (unset(block)) block = nullptr;
  if (block) {
    if (pods || nss) {
      src.error(at, "invalid-peer",
                "ipBlock cannot be combined with podSelector or namespaceSelector in one peer");
      return std::nullopt;
    }
    auto bm = Map::open(src, block->value, block->value_pos, "an ipBlock (a map with cidr, except)",
                        {"cidr", "except"});
    if (!bm) return std::nullopt;
    auto peer = load_cidr_peer(src, *bm, true);
    if (!peer) return std::nullopt;
    return Peer{std::move(*peer), at};
  }
  if (!pods && !nss) {
    src.error(at, "invalid-peer",
              null_only ? "a peer whose fields have no value is empty (null means \"not set\"), "
                          "and Kubernetes refuses it; write {} for every pod or namespace"
                        : "a peer needs podSelector, namespaceSelector or ipBlock");
    return std::nullopt;
  }
  EndpointPeer ep;
  if (pods) {
    auto sel = load_selector(src, *pods, true);
    if (!sel) return std::nullopt;
    ep.pods = std::move(*sel);
  }
  if (nss) {
    auto sel = load_selector(src, *nss, true);
    if (!sel) return std::nullopt;
    ep.namespaces.kind = sel->empty() ? NamespaceScope::Kind::any : NamespaceScope::Kind::selector;
    ep.namespaces.selector = std::move(*sel);
  } else {
    ep.namespaces.kind = NamespaceScope::Kind::named;
    ep.namespaces.name = ns;
  }
  return Peer{std::move(ep), at};
}

// An int32 field (endPort): a number as JSON carries it, never a string.
std::optional<int64_t> int_value(Source& src, const Field& f, const std::string& what) {
  const K8sScalar k = yaml::k8s_scalar(f.value);
  if (k.type != K8sScalar::Type::number || !f.value.IsScalar()) {
    src.error(f.value_pos, "wrong-type",
              "expected " + what + " (a number), got " + yaml::describe_k8s(f.value));
    return std::nullopt;
  }
  if (!k.integral || k.number < -2147483648.0 || k.number > 2147483647.0) {
    src.error(
        f.value_pos, "invalid-port",
        "invalid " + what + " " + f.value.Scalar() + ": expected a whole number from 1 to 65535");
    return std::nullopt;
  }
  return static_cast<int64_t>(k.number);
}

std::optional<uint16_t> port_number(Source& src, const Field& f, const std::string& what) {
  auto v = int_value(src, f, what);
  if (!v) return std::nullopt;
  if (*v < 1 || *v > 65535) {
    src.error(f.value_pos, "invalid-port",
              "invalid " + what + " " + std::to_string(*v) + ": expected a number from 1 to 65535");
    return std::nullopt;
  }
  return static_cast<uint16_t>(*v);
}

std::optional<Protocol> load_protocol(Source& src, const Field& pf) {
  auto s = yaml::k8s_string(src, pf, "TCP, UDP or SCTP");
  if (!s) return std::nullopt;
  if (*s == "TCP") return Protocol::tcp;
  if (*s == "UDP") return Protocol::udp;
  if (*s == "SCTP") return Protocol::sctp;
  std::string upper = *s;
  for (auto& c : upper)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  const bool near = upper == "TCP" || upper == "UDP" || upper == "SCTP";
  src.error(pf.value_pos, "invalid-port",
            "unknown protocol \"" + *s + "\"" +
                (near ? "; did you mean \"" + upper + "\"?" : "; expected TCP, UDP or SCTP"));
  return std::nullopt;
}

// `port` is an IntOrString: a number, or a string that must be a port name. A quoted "80" is a
// string, so a name, and an invalid one.
bool load_port_field(Source& src, const Field& port, PortSpec& p) {
  const K8sScalar k = yaml::k8s_scalar(port.value);
  if (k.type == K8sScalar::Type::number) {
    auto v = port_number(src, port, "port");
    if (!v) return false;
    p.first = p.last = *v;
    return true;
  }
  if (k.type != K8sScalar::Type::string || !port.value.IsScalar()) {
    src.error(port.value_pos, "wrong-type",
              "expected a port number or name, got " + yaml::describe_k8s(port.value));
    return false;
  }
  const std::string& name = port.value.Scalar();
  if (const std::string why = port_name_problem(name); !why.empty()) {
    const bool quoted_number = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return c >= '0' && c <= '9';
    });
    src.error(port.value_pos, "invalid-port",
              "invalid port name \"" + name + "\": " + why +
                  (quoted_number ? " (a quoted number is a name; write " + name +
                                       " without quotes for the port number)"
                                 : ""));
    return false;
  }
  p.named = name;
  return true;
}

// A port; null is the zero NetworkPolicyPort: TCP, every port.
std::optional<PortSpec> load_port(Source& src, const YAML::Node& n, const SourcePos& at) {
  PortSpec p;
  p.pos = at;
  p.proto = Protocol::tcp;
  if (!n.IsDefined() || n.IsNull()) return p;
  auto m = Map::open(src, n, at, "a port (a map with protocol, port and endPort)",
                     {"protocol", "port", "endPort"});
  if (!m) return std::nullopt;
  if (const Field* pf = m->get("protocol"); !unset(pf)) {
    auto proto = load_protocol(src, *pf);
    if (!proto) return std::nullopt;
    p.proto = *proto;
  }
  const Field* port = m->get("port");
  const Field* end = m->get("endPort");
  if (unset(port)) port = nullptr;
  if (unset(end)) end = nullptr;
  if (port && !load_port_field(src, *port, p)) return std::nullopt;
  if (!end) return p;
  if (!port || !p.named.empty()) {
    src.error(end->key_pos, "invalid-port",
              port ? "endPort needs a numeric port, not the port name \"" + p.named + "\""
                   : "endPort needs a port");
    return std::nullopt;
  }
  auto v = port_number(src, *end, "endPort");
  if (!v) return std::nullopt;
  if (*v < p.first) {
    src.error(end->value_pos, "invalid-port",
              "endPort " + std::to_string(*v) + " is less than port " + std::to_string(p.first));
    return std::nullopt;
  }
  p.last = *v;
  return p;
}

// One ingress or egress rule; null is the zero rule (every peer, every port).
std::optional<AllowRule> load_rule(Source& src, const YAML::Node& n, const SourcePos& at,
                                   Direction dir, const Subject& subject, const Origin& origin,
                                   const std::string& ns) {
  const std::string peers_key = dir == Direction::ingress ? "from" : "to";
  AllowRule r;
  r.dir = dir;
  r.subject = subject;
  r.origin = origin;
  r.origin.pos = at;
  r.any_peer = r.any_port = true;
  if (!n.IsDefined() || n.IsNull()) return r;
  auto m = Map::open(src, n, at,
                     dir == Direction::ingress ? "an ingress rule (a map with from and ports)"
                                               : "an egress rule (a map with to and ports)",
                     {peers_key, "ports"});
  if (!m) return std::nullopt;
  bool ok = true;
  std::vector<YAML::Node> peers, ports;
  const Field* pf = m->get(peers_key);
  if (pf) {
    auto list = yaml::items(src, *pf, "a list of peers");
    if (!list) return std::nullopt;
    peers = std::move(*list);
  }
  const Field* portf = m->get("ports");
  if (portf) {
    auto list = yaml::items(src, *portf, "a list of ports");
    if (!list) return std::nullopt;
    ports = std::move(*list);
  }
  r.any_peer = peers.empty();
  for (const auto& x : peers) {
    auto p = load_peer(src, x, yaml::item_pos(src, x, pf->value_pos), ns);
    if (p) {
      r.peers.push_back(std::move(*p));
    } else {
      ok = false;
    }
  }
  r.any_port = ports.empty();
  for (const auto& x : ports) {
    auto p = load_port(src, x, yaml::item_pos(src, x, portf->value_pos));
    if (p) {
      r.ports.push_back(std::move(*p));
    } else {
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return r;
}

struct PolicyTypes {
  bool ingress = true;
  bool egress = false;
  bool ok = true;
};

// policyTypes: at most two, each Ingress or Egress; absent, null or [] is SetDefaults's choice.
PolicyTypes load_policy_types(Source& src, const Field* types, bool egress_rules) {
  PolicyTypes t{true, egress_rules, true};
  if (unset(types)) return t;
  auto list = yaml::items(src, *types, "a list of policy types (Ingress, Egress)");
  if (!list) return PolicyTypes{true, egress_rules, false};
  if (list->empty()) return t;
  if (list->size() > 2) {
    src.error(types->value_pos, "invalid-value",
              "policyTypes lists " + std::to_string(list->size()) +
                  " types; Kubernetes allows at most two (Ingress, Egress)");
    return PolicyTypes{true, egress_rules, false};
  }
  t.ingress = t.egress = false;
  for (const auto& x : *list) {
    const SourcePos at = yaml::item_pos(src, x, types->value_pos);
    auto s = yaml::k8s_string(src, x, at, "Ingress or Egress");
    if (!s) {
      t.ok = false;
      continue;
    }
    bool* which = *s == "Ingress" ? &t.ingress : *s == "Egress" ? &t.egress : nullptr;
    if (!which) {
      auto hint = did_you_mean(*s, {"Ingress", "Egress"});
      src.error(at, "invalid-value",
                "unknown policy type \"" + *s + "\"" +
                    (hint ? "; did you mean \"" + *hint + "\"?" : "; expected Ingress or Egress"));
      t.ok = false;
      continue;
    }
    if (*which) {
      src.warning(at, "duplicate-policy-type",
                  "policy type \"" + *s + "\" is listed twice (Kubernetes accepts it; the policy " +
                      "isolates only " + *s + ")");
    }
    *which = true;
  }
  if (!t.ok) return PolicyTypes{true, egress_rules, false};
  return t;
}

}  // namespace

void load_network_policy(Source& src, const YAML::Node& doc, LoadState& st) {
  const SourcePos doc_pos = src.pos(doc);
  auto top = Map::open(src, doc, doc_pos, "a NetworkPolicy",
                       {"apiVersion", "kind", "metadata", "spec"}, {"status"});
  if (!top) return;
  // Metadata errors do not stop the spec from being checked: one run shows every error.
  auto meta = load_k8s_meta(src, *top, true);
  const std::string ns = meta ? meta->ns : "default";
  // spec is a value: absent or null is the zero spec (every pod of the namespace, ingress).
  const Field* spec = top->get("spec");
  std::optional<Map> sm;
  if (!unset(spec)) {
    sm = Map::open(src, spec->value, spec->value_pos,
                   "a NetworkPolicy spec (a map with podSelector, policyTypes, ingress, egress)",
                   {"podSelector", "policyTypes", "ingress", "egress"});
    if (!sm) return;
  }
  auto get = [&](std::string_view name) { return sm ? sm->get(name) : nullptr; };
  // podSelector is a value too: absent or null selects every pod.
  std::optional<LabelSelector> pods = LabelSelector{};
  if (const Field* psf = get("podSelector")) pods = load_selector(src, *psf, true);
  const Field* ingress = get("ingress");
  const Field* egress = get("egress");
  std::vector<YAML::Node> in_rules, out_rules;
  if (ingress) {
    auto list = yaml::items(src, *ingress, "a list of ingress rules");
    if (!list || !count_rules(src, st, list->size(), ingress->value_pos)) return;
    in_rules = std::move(*list);
  }
  if (egress) {
    auto list = yaml::items(src, *egress, "a list of egress rules");
    if (!list || !count_rules(src, st, list->size(), egress->value_pos)) return;
    out_rules = std::move(*list);
  }
  const PolicyTypes types = load_policy_types(src, get("policyTypes"), !out_rules.empty());
  if (!types.ingress && !in_rules.empty()) {
    src.warning(ingress->key_pos, "ignored-rules",
                "ingress rules are ignored: policyTypes does not include Ingress");
  }
  if (!types.egress && !out_rules.empty()) {
    src.warning(egress->key_pos, "ignored-rules",
                "egress rules are ignored: policyTypes does not include Egress");
  }
  const std::string full = meta ? meta->ns + "/" + meta->name : "";
  const Subject subject{pods.value_or(LabelSelector{}), ns, ""};
  const Origin origin{full, "NetworkPolicy", doc_pos, meta && meta->audit};
  std::vector<AllowRule> rules;
  bool ok = true;
  for (const auto& [on, list, dir, field] :
       {std::tuple{types.ingress, &in_rules, Direction::ingress, ingress},
        std::tuple{types.egress, &out_rules, Direction::egress, egress}}) {
    if (!on) continue;
    for (const auto& x : *list) {
      auto r =
          load_rule(src, x, yaml::item_pos(src, x, field->value_pos), dir, subject, origin, ns);
      if (r) {
        rules.push_back(std::move(*r));
      } else {
        ok = false;
      }
    }
  }
  if (!ok || !meta || !pods || !types.ok) return;
  if (!register_policy(src, st, full, meta->name_pos, "NetworkPolicy")) return;
  st.set.policies.push_back(PolicyInfo{full, "NetworkPolicy", doc_pos, meta->audit, st.doc_end,
                                       meta->lint_ignore, meta->lint_ignore_pos});
  if (types.ingress) st.set.isolations.push_back(Isolation{Direction::ingress, subject, origin});
  if (types.egress) st.set.isolations.push_back(Isolation{Direction::egress, subject, origin});
  for (auto& r : rules) st.set.rules.push_back(std::move(r));
}

void load_namespace(Source& src, const YAML::Node& doc, LoadState& st) {
  const SourcePos doc_pos = src.pos(doc);
  auto top = Map::open(src, doc, doc_pos, "a Namespace", {"apiVersion", "kind", "metadata"},
                       {"spec", "status"});
  if (!top) return;
  auto meta = load_k8s_meta(src, *top, false);
  if (!meta) return;
  if (auto it = st.namespace_names.find(meta->name); it != st.namespace_names.end()) {
    src.error(meta->name_pos, "duplicate-namespace",
              "duplicate namespace \"" + meta->name + "\" (first defined at " +
                  it->second.to_string() + ")");
    return;
  }
  st.namespace_names[meta->name] = meta->name_pos;
  meta->labels[kNamespaceNameLabel] = meta->name;
  st.set.namespaces.push_back(NamespaceInfo{meta->name, std::move(meta->labels), doc_pos});
}

}  // namespace bulkhead::policy
