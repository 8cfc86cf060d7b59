// Prometheus metrics on --metrics-listen, served by prometheus-cpp's exposer (text format).
// Only the daemon's loop thread updates them; the exposer thread reads them.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace bulkhead::daemon {

class Metrics {
 public:
  // `listen` is ADDR:PORT, or PORT / :PORT for loopback (127.0.0.1).
  static Result<std::unique_ptr<Metrics>> start(const std::string& listen);

  void set_endpoints(const std::string& state,
                     double n);  // enforced, failed, pending, unenforceable
  void observe_apply(double seconds) { apply_seconds_.Observe(seconds); }
  void observe_event_to_enforced(double seconds) { event_latency_.Observe(seconds); }
  void count_apply_error() { apply_errors_.Increment(); }
  void count_resync() { resyncs_.Increment(); }
  void count_drift_repair() { drift_repairs_.Increment(); }
  // An endpoint's objects changed by someone else (a container with CAP_NET_ADMIN) and restored.
  void count_tamper_repair(const std::string& endpoint);
  void count_policy_reload(bool ok) { (ok ? reloads_ok_ : reloads_failed_).Increment(); }
  // Packets the final drop rules counted, per endpoint and direction (a gauge: it mirrors the
  // kernel counters, which restart when a chain is replaced).
  void set_dropped(const std::string& endpoint, const std::string& direction, double packets);
  void set_invalid(const std::string& endpoint, const std::string& direction, double packets);
  // reason: policy (its host-side chains' final drops), invalid, spoofed
  void set_host_dropped(const std::string& endpoint, const std::string& reason, double packets);
  // One packet of a denied (or would-deny) new connection that reached the flow log, per endpoint,
  // direction, deciding policy and verdict ("denied", "would-deny").
  void count_flow(const std::string& endpoint, const std::string& direction,
                  const std::string& policy, const std::string& verdict);
  void forget_endpoint(const std::string& endpoint);
  // --cluster: whether etcd is reached (list, watch and publishing all healthy) and how many
  // remote endpoints are known. Registered on first use, so a daemon without --cluster has none.
  void set_cluster(bool connected, double remote_endpoints);
  // One connection to the hook socket and how it ended: enforced, unselected, refused,
  // malformed or denied_peer (bulkhead_hook_requests_total{result}).
  void count_hook(const std::string& result) {
    hook_requests_.Add({{"result", result}}).Increment();
  }

 private:
  explicit Metrics(std::unique_ptr<prometheus::Exposer> exposer);

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  prometheus::Family<prometheus::Gauge>& endpoints_;
  prometheus::Histogram& apply_seconds_;
  prometheus::Histogram& event_latency_;
  prometheus::Counter& apply_errors_;
  prometheus::Counter& resyncs_;
  prometheus::Counter& drift_repairs_;
  prometheus::Family<prometheus::Counter>& tamper_repairs_;
  prometheus::Counter& reloads_ok_;
  prometheus::Counter& reloads_failed_;
  prometheus::Family<prometheus::Gauge>& dropped_;
  prometheus::Family<prometheus::Gauge>& invalid_;
  prometheus::Family<prometheus::Gauge>& host_dropped_;
  prometheus::Family<prometheus::Counter>& flows_;
  prometheus::Family<prometheus::Counter>& hook_requests_;
  std::map<std::string, std::vector<prometheus::Counter*>> flow_series_;  // by endpoint
  prometheus::Gauge* cluster_connected_ = nullptr;
  prometheus::Gauge* cluster_remote_ = nullptr;
};

// "9469" -> "127.0.0.1:9469"; "[::1]:9469" and "0.0.0.0:9469" stay as given.
std::string metrics_bind_address(const std::string& listen);

}  // namespace bulkhead::daemon
