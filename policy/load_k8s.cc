// Kubernetes networking.k8s.io/v1 NetworkPolicy and v1 Namespace, with Kubernetes' semantics.
#include <algorithm>

#include "policy/load_state.h"

namespace bulkhead::policy {

using yaml::Field;
using yaml::Map;
using yaml::Source;

namespace {

// Server-populated metadata that `kubectl get -o yaml` prints; meaningless here.
const std::vector<std::string> kIgnoredMetadata = {"uid",
                                                   "resourceVersion",
                                                   "creationTimestamp",
                                                   "generation",
                                                   "managedFields",
                                                   "selfLink",
                                                   "finalizers",
                                                   "ownerReferences",
                                                   "generateName",
                                                   "deletionTimestamp",
                                                   "deletionGracePeriodSeconds"};

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// RFC 1123 label (namespaces) or subdomain (object names).
bool valid_dns_name(const std::string& s, bool allow_dots, size_t max) {
  if (s.empty() || s.size() > max || !lower_alnum(s.front()) || !lower_alnum(s.back())) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return lower_alnum(c) || c == '-' || (allow_dots && c == '.');
  });
}

// IANA service name, as Kubernetes requires for named ports.
bool valid_port_name(const std::string& s) {
  if (s.empty() || s.size() > 15 || s.front() == '-' || s.back() == '-') return false;
  if (s.find("--") != std::string::npos) return false;
  bool letter = false;
  for (char c : s) {
    if (!lower_alnum(c) && c != '-') return false;
    letter = letter || (c >= 'a' && c <= 'z');
  }
  return letter;
}

struct Meta {
  std::string name;
  std::string ns = "default";
  SourcePos name_pos;
  Labels labels;
  bool audit = false;
};

std::optional<Labels> load_labels(Source& src, const Field& f) {
  if (f.is_null()) return Labels{};
  auto m = Map::open_any(src, f.value, f.value_pos, "a map of labels");
  if (!m) return std::nullopt;
  Labels labels;
  bool ok = true;
  for (const auto& l : m->fields()) {
    auto v = l.is_null() ? std::optional<std::string>("") : yaml::scalar(src, l, "a label value");
    if (!v) {
      ok = false;
      continue;
    }
    labels[l.name] = *v;
  }
  if (!ok) return std::nullopt;
  return labels;
}

// metadata: name (required), namespace, labels, annotations (bulkhead/mode).
std::optional<Meta> load_meta(Source& src, const Map& top, bool namespaced) {
  const Field* md = top.require(src, "metadata");
  if (!md) return std::nullopt;
  std::vector<std::string> known = {"name", "labels", "annotations"};
  if (namespaced) known.push_back("namespace");
  auto m = Map::open(src, md->value, md->value_pos, "metadata (a map with name and namespace)",
                     known, kIgnoredMetadata);
  if (!m) return std::nullopt;
  Meta meta;
  bool ok = true;
  const Field* nf = m->get("name");
  auto name = nf ? yaml::scalar(src, *nf, "a name") : std::nullopt;
  if (!nf) src.error(md->key_pos, "missing-field", "missing required field \"metadata.name\"");
  if (name && !valid_dns_name(*name, namespaced, namespaced ? 253 : 63)) {
    src.error(nf->value_pos, "invalid-name",
              "invalid name \"" + *name + "\": use lower-case letters, digits, '-'" +
                  (namespaced ? " and '.'" : "") + ", starting and ending with a letter or digit");
    name.reset();
  }
  if (name) {
    meta.name = *name;
    meta.name_pos = nf->value_pos;
  } else {
    ok = false;
  }
  if (const Field* nsf = m->get("namespace")) {
    auto ns = yaml::scalar(src, *nsf, "a namespace name");
    if (ns && !valid_dns_name(*ns, false, 63)) {
      src.error(nsf->value_pos, "invalid-name",
                "invalid namespace \"" + *ns +
                    "\": use lower-case letters, digits and '-', starting and ending with a "
                    "letter or digit");
      ns.reset();
    }
    if (ns) {
      meta.ns = *ns;
    } else {
      ok = false;
    }
  }
  if (const Field* lf = m->get("labels")) {
    auto labels = load_labels(src, *lf);
    if (labels) {
      meta.labels = std::move(*labels);
    } else {
      ok = false;
    }
  }
  if (const Field* af = m->get("annotations")) {
    auto annotations = Map::open_any(src, af->value, af->value_pos, "a map of annotations");
    const Field* mode = annotations ? annotations->get("bulkhead/mode") : nullptr;
    auto v = mode ? yaml::scalar(src, *mode, "enforce or audit") : std::nullopt;
    if (v && *v != "audit" && *v != "enforce") {
      src.error(mode->value_pos, "invalid-value",
                "invalid bulkhead/mode \"" + *v + "\"; expected enforce or audit");
      v.reset();
    }
    if (!annotations || (mode && !v)) ok = false;
    meta.audit = v && *v == "audit";
  }
  if (!ok) return std::nullopt;
  return meta;
}

std::optional<Peer> load_peer(Source& src, const YAML::Node& n, const SourcePos& at,
                              const std::string& ns) {
  auto m = Map::open(src, n, at, "a peer (a map with podSelector, namespaceSelector or ipBlock)",
                     {"podSelector", "namespaceSelector", "ipBlock"});
  if (!m) return std::nullopt;
  const Field* pods = m->get("podSelector");
  const Field* nss = m->get("namespaceSelector");
  const Field* block = m->get("ipBlock");
  if (block) {
    if (pods || nss) {
      src.error(at, "invalid-peer",
                "ipBlock cannot be combined with podSelector or namespaceSelector in one peer");
      return std::nullopt;
    }
    auto bm = Map::open(src, block->value, block->value_pos, "an ipBlock (a map with cidr, except)",
                        {"cidr", "except"});
    if (!bm) return std::nullopt;
    auto peer = load_cidr_peer(src, *bm);
    if (!peer) return std::nullopt;
    return Peer{std::move(*peer), at};
  }
  if (!pods && !nss) {
    src.error(at, "invalid-peer", "a peer needs podSelector, namespaceSelector or ipBlock");
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

std::optional<uint16_t> port_value(Source& src, const Field& f, const std::string& what) {
  auto s = yaml::scalar(src, f, "a port number");
  if (!s) return std::nullopt;
  const bool digits =
      !s->empty() && s->size() <= 6 &&
      std::all_of(s->begin(), s->end(), [](char c) { return c >= '0' && c <= '9'; });
  const int v = digits ? std::stoi(*s) : -1;
  if (v < 1 || v > 65535) {
    src.error(f.value_pos, "invalid-port",
              "invalid " + what + " \"" + *s + "\": expected a number from 1 to 65535");
    return std::nullopt;
  }
  return static_cast<uint16_t>(v);
}

std::optional<PortSpec> load_port(Source& src, const YAML::Node& n, const SourcePos& at) {
  auto m = Map::open(src, n, at, "a port (a map with protocol, port and endPort)",
                     {"protocol", "port", "endPort"});
  if (!m) return std::nullopt;
  PortSpec p;
  p.pos = at;
  p.proto = Protocol::tcp;
  if (const Field* pf = m->get("protocol")) {
    auto s = yaml::scalar(src, *pf, "TCP, UDP or SCTP");
    if (!s) return std::nullopt;
    if (*s == "TCP") {
      p.proto = Protocol::tcp;
    } else if (*s == "UDP") {
      p.proto = Protocol::udp;
    } else if (*s == "SCTP") {
      p.proto = Protocol::sctp;
    } else {
      std::string upper = *s;
      for (auto& c : upper)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      const bool near = upper == "TCP" || upper == "UDP" || upper == "SCTP";
      src.error(pf->value_pos, "invalid-port",
                "unknown protocol \"" + *s + "\"" +
                    (near ? "; did you mean \"" + upper + "\"?" : "; expected TCP, UDP or SCTP"));
      return std::nullopt;
    }
  }
  const Field* port = m->get("port");
  const Field* end = m->get("endPort");
  if (port) {
    const bool numeric = port->value.IsScalar() && !port->value.Scalar().empty() &&
                         std::all_of(port->value.Scalar().begin(), port->value.Scalar().end(),
                                     [](char c) { return c >= '0' && c <= '9'; });
    if (numeric) {
      auto v = port_value(src, *port, "port");
      if (!v) return std::nullopt;
      p.first = p.last = *v;
    } else {
      auto name = yaml::scalar(src, *port, "a port number or name");
      if (!name) return std::nullopt;
      if (!valid_port_name(*name)) {
        src.error(port->value_pos, "invalid-port",
                  "invalid port name \"" + *name +
                      "\": at most 15 lower-case letters, digits and '-', with at least one "
                      "letter");
        return std::nullopt;
      }
      p.named = *name;
    }
  }
  if (end) {
    if (!port || !p.named.empty()) {
      src.error(end->key_pos, "invalid-port", "endPort needs a numeric port");
      return std::nullopt;
    }
    auto v = port_value(src, *end, "endPort");
    if (!v) return std::nullopt;
    if (*v < p.first) {
      src.error(end->value_pos, "invalid-port",
                "endPort " + std::to_string(*v) + " is less than port " + std::to_string(p.first));
      return std::nullopt;
    }
    p.last = *v;
  }
  return p;
}

// One ingress or egress rule; `peers_key` is "from" or "to".
std::optional<AllowRule> load_rule(Source& src, const YAML::Node& n, const SourcePos& at,
                                   Direction dir, const Subject& subject, const Origin& origin,
                                   const std::string& ns) {
  const std::string peers_key = dir == Direction::ingress ? "from" : "to";
  auto m = Map::open(src, n, at,
                     dir == Direction::ingress ? "an ingress rule (a map with from and ports)"
                                               : "an egress rule (a map with to and ports)",
                     {peers_key, "ports"});
  if (!m) return std::nullopt;
  AllowRule r;
  r.dir = dir;
  r.subject = subject;
  r.origin = origin;
  r.origin.pos = at;
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

}  // namespace

void load_network_policy(Source& src, const YAML::Node& doc, LoadState& st) {
  const SourcePos doc_pos = src.pos(doc);
  auto top = Map::open(src, doc, doc_pos, "a NetworkPolicy",
                       {"apiVersion", "kind", "metadata", "spec"}, {"status"});
  if (!top) return;
  // Metadata errors do not stop the spec from being checked: one run shows every error.
  auto meta = load_meta(src, *top, true);
  const Field* spec = top->require(src, "spec");
  if (!spec) return;
  const std::string ns = meta ? meta->ns : "default";
  auto sm = Map::open(src, spec->value, spec->value_pos,
                      "a NetworkPolicy spec (a map with podSelector, policyTypes, ingress, egress)",
                      {"podSelector", "policyTypes", "ingress", "egress"});
  if (!sm) return;
  const Field* psf = sm->get("podSelector");
  std::optional<LabelSelector> pods;
  if (psf) {
    pods = load_selector(src, *psf, true);
  } else {
    src.error(spec->key_pos, "missing-field", "missing required field \"spec.podSelector\"");
  }
  const Field* ingress = sm->get("ingress");
  const Field* egress = sm->get("egress");
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
  // Kubernetes defaulting: Ingress always; Egress only when there are egress rules.
  bool iso_in = true, iso_out = !out_rules.empty();
  bool types_ok = true;
  if (const Field* types = sm->get("policyTypes")) {
    auto list = yaml::items(src, *types, "a list of policy types (Ingress, Egress)");
    if (!list) return;
    if (!list->empty()) {
      iso_in = iso_out = false;
      for (const auto& t : *list) {
        const SourcePos at = yaml::item_pos(src, t, types->value_pos);
        auto s = yaml::scalar(src, t, at, "Ingress or Egress");
        if (!s) {
          types_ok = false;
          continue;
        }
        if (*s == "Ingress") {
          iso_in = true;
        } else if (*s == "Egress") {
          iso_out = true;
        } else {
          auto hint = yaml::did_you_mean(*s, {"Ingress", "Egress"});
          src.error(
              at, "invalid-value",
              "unknown policy type \"" + *s + "\"" +
                  (hint ? "; did you mean \"" + *hint + "\"?" : "; expected Ingress or Egress"));
          types_ok = false;
        }
      }
    }
  }
  if (!types_ok) {  // still check the rules as the defaults would apply them
    iso_in = true;
    iso_out = !out_rules.empty();
  }
  if (!iso_in && !in_rules.empty()) {
    src.warning(ingress->key_pos, "ignored-rules",
                "ingress rules are ignored: policyTypes does not include Ingress");
  }
  if (!iso_out && !out_rules.empty()) {
    src.warning(egress->key_pos, "ignored-rules",
                "egress rules are ignored: policyTypes does not include Egress");
  }
  const std::string full = meta ? meta->ns + "/" + meta->name : "";
  const Subject subject{pods.value_or(LabelSelector{}), ns, ""};
  const Origin origin{full, "NetworkPolicy", doc_pos, meta && meta->audit};
  std::vector<AllowRule> rules;
  bool ok = true;
  for (const auto& [on, list, dir, field] :
       {std::tuple{iso_in, &in_rules, Direction::ingress, ingress},
        std::tuple{iso_out, &out_rules, Direction::egress, egress}}) {
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
  if (!ok || !meta || !pods || !types_ok) return;
  if (!register_policy(src, st, full, meta->name_pos, "NetworkPolicy")) return;
  st.set.policies.push_back(PolicyInfo{full, "NetworkPolicy", doc_pos, meta->audit});
  if (iso_in) st.set.isolations.push_back(Isolation{Direction::ingress, subject, origin});
  if (iso_out) st.set.isolations.push_back(Isolation{Direction::egress, subject, origin});
  for (auto& r : rules) st.set.rules.push_back(std::move(r));
}

void load_namespace(Source& src, const YAML::Node& doc, LoadState& st) {
  const SourcePos doc_pos = src.pos(doc);
  auto top = Map::open(src, doc, doc_pos, "a Namespace", {"apiVersion", "kind", "metadata"},
                       {"spec", "status"});
  if (!top) return;
  auto meta = load_meta(src, *top, false);
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
