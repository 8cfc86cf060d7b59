#include "enforcer/daemon/metrics.h"

#include <algorithm>

namespace bulkhead::daemon {
namespace {

const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

}  // namespace

std::string metrics_bind_address(const std::string& listen) {
  if (listen.find(':') == std::string::npos) return "127.0.0.1:" + listen;
  if (listen[0] == ':') return "127.0.0.1" + listen;
  return listen;
}

Result<std::unique_ptr<Metrics>> Metrics::start(const std::string& listen) {
  const std::string addr = metrics_bind_address(listen);
  try {
    auto exposer = std::make_unique<prometheus::Exposer>(addr, 1);
    return std::unique_ptr<Metrics>(new Metrics(std::move(exposer)));
  } catch (const std::exception& e) {
    return make_error("metrics listen " + addr, e.what());
  }
}

Metrics::Metrics(std::unique_ptr<prometheus::Exposer> exposer)
    : registry_(std::make_shared<prometheus::Registry>()),
      exposer_(std::move(exposer)),
      endpoints_(prometheus::BuildGauge()
                     .Name("bulkhead_endpoints")
                     .Help("Endpoints by enforcement state")
                     .Register(*registry_)),
      apply_seconds_(prometheus::BuildHistogram()
                         .Name("bulkhead_apply_duration_seconds")
                         .Help("Time to apply one endpoint's rules and limits")
                         .Register(*registry_)
                         .Add({}, kLatencyBuckets)),
      event_latency_(prometheus::BuildHistogram()
                         .Name("bulkhead_event_to_enforced_seconds")
                         .Help("From a source's event to the committed ruleset")
                         .Register(*registry_)
                         .Add({}, kLatencyBuckets)),
      apply_errors_(prometheus::BuildCounter()
                        .Name("bulkhead_apply_errors_total")
                        .Help("Failed applies")
                        .Register(*registry_)
                        .Add({})),
      resyncs_(prometheus::BuildCounter()
                   .Name("bulkhead_resyncs_total")
                   .Help("Full drift checks run")
                   .Register(*registry_)
                   .Add({})),
      drift_repairs_(prometheus::BuildCounter()
                         .Name("bulkhead_drift_repairs_total")
                         .Help("Endpoints whose kernel state had drifted and was restored")
                         .Register(*registry_)
                         .Add({})),
      tamper_repairs_(prometheus::BuildCounter()
                          .Name("bulkhead_tamper_repairs_total")
                          .Help("Restorations of an endpoint's table or qdiscs after a change "
                                "notification from its namespace that bulkheadd did not cause")
                          .Register(*registry_)),
      reloads_ok_(prometheus::BuildCounter()
                      .Name("bulkhead_policy_reloads_total")
                      .Help("Policy and inventory reloads")
                      .Register(*registry_)
                      .Add({{"result", "ok"}})),
      reloads_failed_(prometheus::BuildCounter()
                          .Name("bulkhead_policy_reloads_total")
                          .Help("Policy and inventory reloads")
                          .Register(*registry_)
                          .Add({{"result", "failed"}})),
      dropped_(prometheus::BuildGauge()
                   .Name("bulkhead_dropped_packets")
                   .Help("Packets dropped by an endpoint's final drop rule since its chain was "
                         "last replaced")
                   .Register(*registry_)),
      invalid_(prometheus::BuildGauge()
                   .Name("bulkhead_invalid_dropped_packets")
                   .Help("Packets dropped as conntrack state invalid in an endpoint's chain since "
                         "it was last replaced")
                   .Register(*registry_)),
      host_dropped_(prometheus::BuildGauge()
                        .Name("bulkhead_host_dropped_packets")
                        .Help("Packets of an endpoint's the host layer dropped, by reason (policy, "
                              "invalid, spoofed), since its host-side chains were made")
                        .Register(*registry_)),
      flows_(prometheus::BuildCounter()
                 .Name("bulkhead_denied_flows_total")
                 .Help("Packets of denied or would-deny new connections seen by the flow log "
                       "(rate-limited in the kernel)")
                 .Register(*registry_)),
      hook_requests_(prometheus::BuildCounter()
                         .Name("bulkhead_hook_requests_total")
                         .Help("Connections to the hook socket by result (enforced, unselected, "
                               "refused, malformed, denied_peer)")
                         .Register(*registry_)) {
  exposer_->RegisterCollectable(registry_);
}

void Metrics::set_endpoints(const std::string& state, double n) {
  endpoints_.Add({{"state", state}}).Set(n);
}

void Metrics::set_invalid(const std::string& endpoint, const std::string& direction,
                          double packets) {
  invalid_.Add({{"endpoint", endpoint}, {"direction", direction}}).Set(packets);
}

void Metrics::set_host_dropped(const std::string& endpoint, const std::string& reason,
                               double packets) {
  host_dropped_.Add({{"endpoint", endpoint}, {"reason", reason}}).Set(packets);
}

void Metrics::set_dropped(const std::string& endpoint, const std::string& direction,
                          double packets) {
  dropped_.Add({{"endpoint", endpoint}, {"direction", direction}}).Set(packets);
}

void Metrics::count_tamper_repair(const std::string& endpoint) {
  tamper_repairs_.Add({{"endpoint", endpoint}}).Increment();
}

void Metrics::count_flow(const std::string& endpoint, const std::string& direction,
                         const std::string& policy, const std::string& verdict) {
  auto& c = flows_.Add(
      {{"endpoint", endpoint}, {"direction", direction}, {"policy", policy}, {"verdict", verdict}});
  auto& series = flow_series_[endpoint];
  if (std::find(series.begin(), series.end(), &c) == series.end()) series.push_back(&c);
  c.Increment();
}

void Metrics::set_cluster(bool connected, double remote_endpoints) {
  if (!cluster_connected_) {
    cluster_connected_ = &prometheus::BuildGauge()
                              .Name("bulkhead_cluster_connected")
                              .Help("1 while etcd is reached: listed, watched and published to")
                              .Register(*registry_)
                              .Add({});
    cluster_remote_ = &prometheus::BuildGauge()
                           .Name("bulkhead_cluster_remote_endpoints")
                           .Help("Endpoints of other hosts known through etcd")
                           .Register(*registry_)
                           .Add({});
  }
  cluster_connected_->Set(connected ? 1 : 0);
  cluster_remote_->Set(remote_endpoints);
}

void Metrics::forget_endpoint(const std::string& endpoint) {
  if (auto it = flow_series_.find(endpoint); it != flow_series_.end()) {
    for (auto* c : it->second) flows_.Remove(c);
    flow_series_.erase(it);
  }
  tamper_repairs_.Remove(&tamper_repairs_.Add({{"endpoint", endpoint}}));
  for (const char* dir : {"ingress", "egress"}) {
    auto& g = dropped_.Add({{"endpoint", endpoint}, {"direction", dir}});
    dropped_.Remove(&g);
  }
}

}  // namespace bulkhead::daemon
