#include "enforcer/daemon/status_document.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "enforcer/log/log.h"
#include "policy/inspect/membership.h"

namespace bulkhead::daemon {
namespace {

using Json = nlohmann::ordered_json;

// "" for a time that never came (the epoch).
std::string iso_time(WallClock::time_point t, bool millis = false) {
  return t.time_since_epoch().count() == 0 ? "" : log::utc_time(t, millis);
}

double round_ms(double ms) { return std::round(ms * 1000) / 1000; }

Json policies_json(const PolicyState& policy) {
  auto out = Json::array();
  if (!policy.has_set()) return out;
  for (const auto& p : policy.set().policies)
    out.push_back({{"name", p.name},
                   {"kind", p.kind},
                   {"mode", p.audit ? "audit" : "enforce"},
                   {"source", p.pos.to_string()}});
  return out;
}

Json cluster_json(const ClusterOptions& opts, const ClusterSource::ClusterStatus& st,
                  const std::string& digest) {
  Json c;
  c["node"] = opts.node;
  c["prefix"] = opts.prefix;
  c["etcd"] = opts.urls;
  c["connected"] = st.connected;
  c["error"] = st.error;
  c["revision"] = st.revision;
  c["remote_endpoints"] = st.remote_endpoints;
  auto& nodes = c["nodes"] = Json::array();
  for (const auto& n : st.nodes)
    nodes.push_back({{"node", n.node},
                     {"policy_digest", n.policy_digest},
                     {"endpoints", n.endpoints},
                     {"same_policy", n.policy_digest == digest}});
  return c;
}

// The rules with counters and their totals, from the last reading. Without a reading of an
// enforced table the counts are null: they are not known, not zero.
void add_counters(Json& e, const EndpointState& st) {
  auto& rules = e["rules"] = Json::array();
  if (st.dirty || !st.desired.table) {
    e["allowed_packets"] = e["dropped_packets"] = e["would_deny_packets"] = 0;
    e["invalid_packets"] = 0;
    e["counters_at"] = "";
    return;
  }
  if (!st.counters.at) {
    for (const auto& chain : st.desired.table->chains)
      for (const auto& r : chain.rules)
        if (r.counter)
          rules.push_back({{"chain", chain.name},
                           {"comment", r.comment},
                           {"packets", nullptr},
                           {"bytes", nullptr}});
    e["allowed_packets"] = e["dropped_packets"] = e["would_deny_packets"] = nullptr;
    e["invalid_packets"] = nullptr;
    e["counters_at"] = "";
    return;
  }
  uint64_t allowed = 0, dropped = 0, would_deny = 0, invalid = 0;
  for_each_reading(
      st, [&](const policy::NftChain& chain, const policy::NftRule& r, const RuleCounter& c) {
        if (r.kind == policy::RuleKind::final_drop)
          dropped += c.packets;
        else if (r.kind == policy::RuleKind::ct_invalid_drop)
          invalid += c.packets;  // not of any connection conntrack knows: dropped before policy
        else if (r.kind == policy::RuleKind::final_accept)
          would_deny += c.packets;  // an audit-only chain's end: passed, would be denied
        else
          allowed += c.packets;
        rules.push_back({{"chain", chain.name},
                         {"comment", r.comment},
                         {"packets", c.packets},
                         {"bytes", c.bytes}});
      });
  e["allowed_packets"] = allowed;
  e["dropped_packets"] = dropped;
  e["would_deny_packets"] = would_deny;
  e["invalid_packets"] = invalid;
  e["counters_at"] = iso_time(*st.counters.at, true);
}

// Which layers enforce the endpoint: its own namespace always; the host side when the host layer
// is on and found a bridge port of the endpoint's (docs/host-layer.md).
Json layers_json(const std::string& name, const StatusView& v) {
  Json host = {{"enabled", v.host_layer != nullptr}};
  if (v.host_layer) {
    auto it = v.host_layer->coverage().find(name);
    const bool known = it != v.host_layer->coverage().end();
    host["enforced"] = known && it->second.enforced;
    host["detail"] = known ? it->second.detail : "not applied yet";
    // As of the last resync; null before a reading.
    const auto drops = v.host_layer->drops(name);
    host["dropped_packets"] = drops ? Json(drops->dropped) : Json(nullptr);
    host["invalid_packets"] = drops ? Json(drops->invalid) : Json(nullptr);
    host["spoofed_packets"] = drops ? Json(drops->spoofed) : Json(nullptr);
  }
  return {{"netns", {{"enforced", true}}}, {"host", host}};
}

Json endpoint_json(const std::string& name, const EndpointState& st, const StatusView& v) {
  Json e;
  e["name"] = name;
  e["state"] = !st.dirty ? "enforced" : st.failures > 0 ? "failed" : "pending";
  e["netns"] = st.desired.netns;
  const policy::Endpoint* ep = v.registry.find(name);
  if (ep) {
    auto addrs = Json::array();
    for (const auto& a : ep->addresses) addrs.push_back(a.to_string());
    e["addresses"] = addrs;
    if (v.policy.has_set()) {
      auto m = policy::membership(v.policy.set(), *ep);
      e["groups"] = m.groups;
      e["policies"] = m.policies;
    }
  }
  e["isolated"] = st.desired.table.has_value();
  e["bandwidth_limited"] = !st.desired.tc.empty();
  // With CAP_NET_ADMIN the endpoint can undo its own rules; its isolation then rests on the
  // repair loop (docs/security.md, Tampering).
  if (ep) e["tamper_capable"] = ep->privileged || ep->net_admin;
  if (v.tamper) {
    e["tamper_watch"] = v.tamper->watching(name);
    if (auto r = v.tamper->records().find(name); r != v.tamper->records().end()) {
      e["tampering"] = {{"repairs", r->second.repairs},
                        {"last", iso_time(r->second.last)},
                        {"change", r->second.last_change},
                        {"restore_ms", round_ms(r->second.last_restore_ms)}};
    }
  }
  // Whether the rules were in place before the container's process ran (the hook asked and was
  // answered "enforced"), or came after it started (events, the list, a resync).
  e["enforced_at"] = v.gate && v.gate->was_enforced_at_start(name) ? "start" : "after";
  e["started_quarantined"] = st.started_quarantined;
  e["layers"] = layers_json(name, v);
  e["error"] = st.last_error;
  e["last_apply"] = iso_time(st.last_apply);
  e["apply_ms"] = round_ms(st.last_apply_ms);
  add_counters(e, st);
  return e;
}

Json flows_json(const FlowLog* flow_log) {
  auto flows = Json::array();
  if (!flow_log) return flows;
  for (const auto& r : flow_log->recent()) {
    Json f;
    for (const auto& [k, val] : flow_fields(r)) f[k] = val;
    f["count"] = r.count;
    f[f.contains("port") ? "port" : "icmp_type"] = r.port;
    f["open"] = r.open;
    flows.push_back(std::move(f));
  }
  return flows;
}

// The document is written one member and one endpoint at a time: a DOM of the whole answer (a
// 1 MB tree at 1,000 endpoints) spent most of the answer's time allocating and freeing itself.
class DocumentWriter {
 public:
  void member(const char* key, const Json& value) { raw(key, value.dump()); }
  void raw(const char* key, const std::string& json) {
    out_ += out_.size() == 1 ? "" : ",";
    out_ += Json(key).dump() + ":" + json;
  }
  std::string close() { return out_ + "}\n"; }

 private:
  std::string out_ = "{";
};

std::string endpoints_json(const StatusView& v) {
  std::string out = "[";
  for (const auto& [name, st] : v.reconciler.endpoints()) {
    if (out.size() > 1) out += ",";
    out += endpoint_json(name, st, v).dump();
  }
  return out + "]";
}

}  // namespace

std::string status_document(const StatusView& v) {
  DocumentWriter doc;
  doc.member("daemon", {{"pid", v.pid}});
  doc.member("policies", policies_json(v.policy));
  // While the files do not load, `policies` above is the last good set, still enforced.
  const std::string& error = v.policy.error();
  doc.member("policy_load", {{"ok", error.empty()},
                             {"error", error},
                             {"since", error.empty() ? "" : iso_time(v.policy.error_since())}});
  doc.member("policy_digest", v.policy.digest());
  if (v.cluster)
    doc.member("cluster", cluster_json(v.cluster_options, *v.cluster, v.policy.digest()));
  doc.raw("endpoints", endpoints_json(v));
  auto un = Json::array();
  for (const auto& u : v.registry.unenforceable())
    un.push_back({{"name", u.name}, {"reason", u.reason}});
  doc.member("unenforceable", un);
  auto srcs = Json::array();
  for (const auto& s : v.sources)
    srcs.push_back({{"name", s.name}, {"ready", s.ready}, {"error", s.error}});
  doc.member("sources", srcs);
  doc.member("flows", flows_json(v.flow_log));
  if (v.hook_results) doc.member("hook", {{"requests", *v.hook_results}});
  doc.member("errors", v.errors);
  return doc.close();
}

}  // namespace bulkhead::daemon
