// The native bulkhead/v1 Policy format (docs/policy.md) and its mapping onto the model.
#include <algorithm>
#include <set>

#include "policy/load/state.h"
#include "policy/model/quantity.h"

namespace bulkhead::policy {

using yaml::Field;
using yaml::Map;
using yaml::Source;

namespace {

constexpr const char* kKind = "Policy";

bool valid_group_name(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  auto lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_alnum(s[0])) return false;
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return lower_alnum(c) || c == '-' || c == '_'; });
}

bool valid_policy_name(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(s[0])) return false;
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "8080", 1..65535. Reports at `at`.
std::optional<uint16_t> port_number(Source& src, std::string_view s, const SourcePos& at) {
  if (!all_digits(s) || s.size() > 6) {
    src.error(at, "invalid-port", "invalid port number \"" + std::string(s) + "\"");
    return std::nullopt;
  }
  const int v = std::stoi(std::string(s));
  if (v < 1 || v > 65535) {
    src.error(at, "invalid-port", "port " + std::to_string(v) + " is out of range (1-65535)");
    return std::nullopt;
  }
  return static_cast<uint16_t>(v);
}

// "8080/tcp", "30000-32767/udp", "tcp", "icmp".
std::optional<PortSpec> load_port(Source& src, const YAML::Node& n, const SourcePos& at) {
  auto text = yaml::scalar(src, n, at, "a port such as \"8080/tcp\"");
  if (!text) return std::nullopt;
  PortSpec p;
  p.pos = at;
  const std::string t = lower(*text);
  if (t == "tcp" || t == "udp" || t == "sctp" || t == "icmp") {
    p.proto = t == "tcp"    ? Protocol::tcp
              : t == "udp"  ? Protocol::udp
              : t == "sctp" ? Protocol::sctp
                            : Protocol::icmp;
    return p;
  }
  const auto slash = t.find('/');
  const std::string range = t.substr(0, slash);
  if (slash == std::string::npos) {
    if (all_digits(range) ||
        (range.find('-') != std::string::npos && all_digits(range.substr(0, range.find('-'))))) {
      src.error(at, "invalid-port",
                "port \"" + *text + "\" has no protocol; write \"" + *text + "/tcp\", \"" + *text +
                    "/udp\" or \"" + *text + "/sctp\"");
    } else {
      src.error(at, "invalid-port",
                "invalid port \"" + *text +
                    "\": expected PORT/PROTOCOL (e.g. \"8080/tcp\", \"30000-32767/udp\"), a "
                    "protocol alone (tcp, udp, sctp) or icmp");
    }
    return std::nullopt;
  }
  const std::string proto = t.substr(slash + 1);
  if (proto == "icmp") {
    src.error(at, "invalid-port", "icmp has no ports; write just \"icmp\"");
    return std::nullopt;
  }
  if (proto == "tcp") {
    p.proto = Protocol::tcp;
  } else if (proto == "udp") {
    p.proto = Protocol::udp;
  } else if (proto == "sctp") {
    p.proto = Protocol::sctp;
  } else {
    src.error(at, "invalid-port",
              "unknown protocol \"" + text->substr(slash + 1) + "\" in \"" + *text +
                  "\"; expected tcp, udp or sctp");
    return std::nullopt;
  }
  const auto dash = range.find('-');
  auto first = port_number(src, range.substr(0, dash), at);
  if (!first) return std::nullopt;
  p.first = p.last = *first;
  if (dash != std::string::npos) {
    auto last = port_number(src, range.substr(dash + 1), at);
    if (!last) return std::nullopt;
    if (*last < *first) {
      src.error(at, "invalid-port", "port range \"" + range + "\" ends before it starts");
      return std::nullopt;
    }
    p.last = *last;
  }
  return p;
}

std::optional<NativeRef> load_ref(Source& src, const YAML::Node& n, const SourcePos& at) {
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (s == "*") return NativeRef{NativeRef::Any{}, at};
    return NativeRef{NativeRef::Group{s}, at};
  }
  if (n.IsMap()) {
    auto m = Map::open(src, n, at, "a CIDR peer", {"cidr", "except"});
    if (!m) return std::nullopt;
    auto peer = load_cidr_peer(src, *m, false);
    if (!peer) return std::nullopt;
    return NativeRef{std::move(*peer), at};
  }
  src.error(at, "wrong-type",
            "expected a group name, \"*\" or {cidr: ...}, got " + yaml::describe(n));
  return std::nullopt;
}

std::optional<std::vector<NativeRef>> load_refs(Source& src, const Field& f) {
  auto list = yaml::items(src, f, "a list of peers (group names, \"*\" or {cidr: ...})");
  if (!list) return std::nullopt;
  if (list->empty()) {
    src.error(f.value_pos, "empty-peers",
              "\"" + f.name + "\" is empty; list group names, \"*\" or {cidr: ...}");
    return std::nullopt;
  }
  std::vector<NativeRef> refs;
  bool ok = true;
  for (const auto& x : *list) {
    auto r = load_ref(src, x, yaml::item_pos(src, x, f.value_pos));
    if (r) {
      refs.push_back(std::move(*r));
    } else {
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return refs;
}

bool has_group(const std::vector<NativeRef>& refs) {
  return std::any_of(refs.begin(), refs.end(), [](const NativeRef& r) {
    return std::holds_alternative<NativeRef::Group>(r.what);
  });
}

void load_rule(Source& src, const YAML::Node& n, const SourcePos& at, const Origin& policy,
               LoadState& st) {
  auto m = Map::open(src, n, at, "an allow rule (a map with from, to and ports)",
                     {"from", "to", "ports"});
  if (!m) return;
  const Field* from = m->require(src, "from");
  const Field* to = m->require(src, "to");
  NativeRule rule;
  rule.origin = policy;
  rule.origin.pos = at;
  bool ok = from && to;
  if (from) {
    auto refs = load_refs(src, *from);
    ok = ok && refs;
    if (refs) rule.from = std::move(*refs);
  }
  if (to) {
    auto refs = load_refs(src, *to);
    ok = ok && refs;
    if (refs) rule.to = std::move(*refs);
  }
  if (const Field* ports = m->get("ports")) {
    auto list = yaml::items(src, *ports, "a list of ports");
    if (!list) return;
    if (list->empty()) {
      src.error(ports->value_pos, "invalid-port",
                "ports is empty; omit ports to allow every port and protocol");
      return;
    }
    rule.any_port = false;
    for (const auto& x : *list) {
      auto p = load_port(src, x, yaml::item_pos(src, x, ports->value_pos));
      if (p) {
        rule.ports.push_back(std::move(*p));
      } else {
        ok = false;
      }
    }
  }
  if (!ok) return;
  if (!has_group(rule.from) && !has_group(rule.to)) {
    src.error(at, "no-endpoint-side",
              "an allow rule needs a group in \"from\" or \"to\": rules are enforced at "
              "endpoints, so a rule between addresses only would never apply");
    return;
  }
  st.native_rules.push_back(std::move(rule));
}

std::optional<Rate> load_rate(Source& src, const Field& f) {
  auto m =
      Map::open(src, f.value, f.value_pos, "a rate (a map with rate and burst)", {"rate", "burst"});
  if (!m) return std::nullopt;
  const Field* rf = m->require(src, "rate");
  if (!rf) return std::nullopt;
  auto rtext = yaml::scalar(src, *rf, "a rate such as \"50mbit\"");
  if (!rtext) return std::nullopt;
  auto rate = parse_rate(*rtext);
  if (!rate.ok()) {
    src.error(rf->value_pos, "invalid-rate", rate.error().message);
    return std::nullopt;
  }
  Rate r;
  r.bits_per_second = *rate;
  r.burst_bytes = default_burst_bytes(*rate);
  r.pos = f.key_pos;
  if (const Field* bf = m->get("burst")) {
    auto btext = yaml::scalar(src, *bf, "a burst such as \"64kb\"");
    if (!btext) return std::nullopt;
    auto burst = parse_burst(*btext);
    if (!burst.ok()) {
      src.error(bf->value_pos, "invalid-rate", burst.error().message);
      return std::nullopt;
    }
    const uint64_t min = min_burst_bytes(*rate);
    if (*burst < min) {
      src.error(bf->value_pos, "burst-too-small",
                "burst " + format_bytes(*burst) + " (" + std::to_string(*burst) +
                    " bytes) is too small for " + format_rate(*rate) + ": it must be at least " +
                    std::to_string(min) + " bytes (one full-size frame and 1 ms at the rate)");
      return std::nullopt;
    }
    r.burst_bytes = *burst;
  }
  return r;
}

void load_group(Source& src, const Field& g, const Origin& policy, LoadState& st) {
  if (!valid_group_name(g.name)) {
    src.error(g.key_pos, "invalid-name",
              "invalid group name \"" + g.name +
                  "\": use lower-case letters, digits, '-' and '_', starting with a letter or "
                  "digit (at most 63 characters)");
    st.broken_groups.insert(g.name);
    return;
  }
  auto m = Map::open(src, g.value, g.value_pos, "a group (a map with selector, isolate, bandwidth)",
                     {"selector", "isolate", "bandwidth"});
  if (!m) {
    st.broken_groups.insert(g.name);
    return;
  }
  const Field* sf = m->get("selector");
  if (!sf) {
    src.error(g.key_pos, "missing-field", "missing required field \"selector\"");
    st.broken_groups.insert(g.name);
    return;
  }
  auto sel = load_selector(src, *sf, false);
  bool iso_in = true, iso_out = true;
  bool ok = sel.has_value();
  if (const Field* iso = m->get("isolate")) {
    auto list = yaml::items(src, *iso, "a list of directions (ingress, egress)");
    ok = ok && list;
    iso_in = iso_out = false;
    for (const auto& x : list.value_or(std::vector<YAML::Node>{})) {
      const SourcePos at = yaml::item_pos(src, x, iso->value_pos);
      auto d = yaml::scalar(src, x, at, "ingress or egress");
      if (d && *d == "ingress") {
        iso_in = true;
      } else if (d && *d == "egress") {
        iso_out = true;
      } else {
        if (d) {
          src.error(at, "invalid-value",
                    "invalid direction \"" + *d + "\"; expected ingress or egress");
        }
        ok = false;
      }
    }
  }
  BandwidthLimit limit;
  if (const Field* bw = m->get("bandwidth")) {
    auto bm = Map::open(src, bw->value, bw->value_pos, "a map with ingress and/or egress rates",
                        {"ingress", "egress"});
    ok = ok && bm;
    if (bm) {
      if (const Field* e = bm->get("egress")) {
        limit.egress = load_rate(src, *e);
        ok = ok && limit.egress;
      }
      if (const Field* i = bm->get("ingress")) {
        limit.ingress = load_rate(src, *i);
        ok = ok && limit.ingress;
      }
    }
  }
  if (!ok) {
    st.broken_groups.insert(g.name);
    return;
  }
  if (auto it = st.groups.find(g.name); it != st.groups.end()) {
    src.error(
        g.key_pos, "duplicate-group",
        "duplicate group \"" + g.name + "\" (first defined at " + it->second.pos.to_string() + ")");
    return;
  }
  st.groups[g.name] = NativeGroup{g.name, *sel, g.key_pos};
  const Subject subject{*sel, std::nullopt, g.name};
  Origin origin = policy;
  origin.pos = g.key_pos;
  if (iso_in) st.set.isolations.push_back(Isolation{Direction::ingress, subject, origin});
  if (iso_out) st.set.isolations.push_back(Isolation{Direction::egress, subject, origin});
  if (limit.egress || limit.ingress) {
    limit.subject = subject;
    limit.origin = origin;
    st.set.limits.push_back(std::move(limit));
  }
}

// metadata.lintIgnore: a list of the rule ids to silence in this policy (docs/lint.md).
std::vector<std::string> load_lint_ignore(Source& src, const Field& f) {
  auto list = yaml::items(src, f, "a list of rule ids");
  if (!list) return {};
  std::vector<std::string> ids;
  std::vector<SourcePos> at;
  for (const auto& x : *list) {
    const SourcePos pos = yaml::item_pos(src, x, f.value_pos);
    if (auto id = yaml::scalar(src, x, pos, "a rule id")) {
      ids.push_back(*id);
      at.push_back(pos);
    }
  }
  return check_ignored_rules(src, ids, at);
}

}  // namespace

void load_native_policy(Source& src, const YAML::Node& doc, LoadState& st) {
  const SourcePos doc_pos = src.pos(doc);
  auto top =
      Map::open(src, doc, doc_pos, "a policy document", {"apiVersion", "kind", "metadata", "spec"});
  if (!top) return;
  // Problems with the name or mode are reported and the groups and rules still checked, so one
  // run shows every error of the document.
  std::optional<std::string> name;
  SourcePos name_pos = doc_pos;
  std::vector<std::string> lint_ignore;
  SourcePos lint_ignore_pos;
  if (const Field* md = top->require(src, "metadata")) {
    auto meta = Map::open(src, md->value, md->value_pos, "metadata (a map with name)",
                          {"name", "description", "lintIgnore"});
    const Field* nf = meta ? meta->get("name") : nullptr;
    if (meta && !nf)
      src.error(md->key_pos, "missing-field", "missing required field \"metadata.name\"");
    if (nf) name = yaml::scalar(src, *nf, "a policy name");
    if (name && !valid_policy_name(*name)) {
      src.error(nf->value_pos, "invalid-name",
                "invalid policy name \"" + *name +
                    "\": use letters, digits, '-', '_' and '.', starting with a letter or digit");
      name.reset();
    }
    if (nf) name_pos = nf->value_pos;
    if (const Field* d = meta ? meta->get("description") : nullptr) {
      yaml::scalar(src, *d, "a string");
    }
    if (const Field* li = meta ? meta->get("lintIgnore") : nullptr) {
      lint_ignore = load_lint_ignore(src, *li);
      lint_ignore_pos = li->value_pos;
    }
  }
  const Field* spec = top->require(src, "spec");
  if (!spec) return;
  auto sm = Map::open(src, spec->value, spec->value_pos, "a policy spec (a map with groups, allow)",
                      {"mode", "groups", "allow"});
  if (!sm) return;
  bool audit = false;
  if (const Field* mode = sm->get("mode")) {
    auto m = yaml::scalar(src, *mode, "enforce or audit");
    if (m && *m == "audit") {
      audit = true;
    } else if (m && *m != "enforce") {
      src.error(mode->value_pos, "invalid-value",
                "invalid mode \"" + *m + "\"; expected enforce or audit");
    }
  }
  if (name && register_policy(src, st, *name, name_pos, kKind)) {
    st.set.policies.push_back(
        PolicyInfo{*name, kKind, doc_pos, audit, st.doc_end, lint_ignore, lint_ignore_pos});
  }
  const Origin origin{name.value_or(""), kKind, doc_pos, audit};
  if (const Field* groups = sm->get("groups")) {
    if (!groups->is_null()) {
      auto gm =
          Map::open_any(src, groups->value, groups->value_pos, "a map of group names to groups");
      if (gm) {
        for (const auto& g : gm->fields()) load_group(src, g, origin, st);
      }
    }
  }
  if (const Field* allow = sm->get("allow")) {
    auto rules = yaml::items(src, *allow, "a list of allow rules");
    if (rules && count_rules(src, st, rules->size(), allow->value_pos)) {
      for (const auto& r : *rules) {
        load_rule(src, r, yaml::item_pos(src, r, allow->value_pos), origin, st);
      }
    }
  }
}

namespace {

std::vector<Peer> peers_of(const std::vector<NativeRef>& refs, const LoadState& st,
                           bool* any_peer) {
  std::vector<Peer> peers;
  *any_peer = false;
  for (const auto& r : refs) {
    if (std::holds_alternative<NativeRef::Any>(r.what)) {
      *any_peer = true;
    } else if (const auto* g = std::get_if<NativeRef::Group>(&r.what)) {
      const NativeGroup& group = st.groups.at(g->name);
      peers.push_back(Peer{EndpointPeer{group.selector, NamespaceScope{}, group.name}, r.pos});
    } else {
      peers.push_back(Peer{std::get<CidrPeer>(r.what), r.pos});
    }
  }
  if (*any_peer) peers.clear();  // "*" already covers every endpoint and address
  return peers;
}

std::vector<std::string> group_targets(const std::vector<NativeRef>& refs) {
  std::vector<std::string> names;
  for (const auto& r : refs) {
    if (const auto* g = std::get_if<NativeRef::Group>(&r.what)) {
      if (std::find(names.begin(), names.end(), g->name) == names.end()) names.push_back(g->name);
    }
  }
  return names;
}

}  // namespace

void resolve_native(LoadState& st) {
  std::vector<std::string> known;
  for (const auto& [name, g] : st.groups) known.push_back(name);
  for (const auto& rule : st.native_rules) {
    bool ok = true;
    for (const auto* side : {&rule.from, &rule.to}) {
      for (const auto& r : *side) {
        const auto* g = std::get_if<NativeRef::Group>(&r.what);
        if (!g || st.groups.count(g->name)) continue;
        ok = false;
        if (st.broken_groups.count(g->name)) continue;  // its definition is already reported
        auto hint = did_you_mean(g->name, known);
        st.diagnostics.push_back(
            Diagnostic{r.pos, Severity::error,
                       "undefined group \"" + g->name + "\"" +
                           (hint            ? "; did you mean \"" + *hint + "\"?"
                            : known.empty() ? " (no group is defined in the loaded policies)"
                                            : ""),
                       "undefined-group"});
      }
    }
    if (!ok) continue;
    for (const auto& [dir, subjects, peers] :
         {std::tuple{Direction::ingress, &rule.to, &rule.from},
          std::tuple{Direction::egress, &rule.from, &rule.to}}) {
      for (const auto& name : group_targets(*subjects)) {
        const NativeGroup& g = st.groups.at(name);
        AllowRule a;
        a.dir = dir;
        a.subject = Subject{g.selector, std::nullopt, g.name};
        a.peers = peers_of(*peers, st, &a.any_peer);
        a.any_port = rule.any_port;
        a.ports = rule.ports;
        a.origin = rule.origin;
        st.set.rules.push_back(std::move(a));
      }
    }
  }
}

}  // namespace bulkhead::policy
