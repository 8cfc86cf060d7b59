// What the daemon tells the world besides the log: the Prometheus metrics (--metrics-listen) and
// the recent errors that status lists. Every metric update goes through here, so the daemon's
// steps do not each check whether metrics are on.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "enforcer/daemon/flow_log.h"
#include "enforcer/daemon/host_layer.h"
#include "enforcer/daemon/metrics.h"
#include "enforcer/daemon/reconciler.h"
#include "enforcer/daemon/time_source.h"
#include "enforcer/sources/cluster/source.h"

namespace bulkhead::daemon {

class Publication {
 public:
  explicit Publication(const TimeSource& time) : time_(time) {}

  Status start_metrics(const std::string& listen);
  Metrics* metrics() const { return metrics_.get(); }  // null without --metrics-listen

  // Keeps the last 20 errors, each prefixed with its time.
  void remember_error(const std::string& text);
  const std::deque<std::string>& errors() const { return errors_; }

  // A source changed: the start of bulkhead_event_to_enforced_seconds, unless one is pending.
  void source_changed();
  // One apply's result (bulkhead_apply_duration_seconds, bulkhead_apply_errors_total).
  void applied(const ApplyOutcome& o);
  // The end of a round of applies: the pending change, if any, is enforced when one succeeded.
  void round_done(bool applied_any);

  void reloaded(bool ok);
  void resynced(size_t drift_repairs);
  // bulkhead_endpoints{state} and bulkhead_dropped_packets from the reconciler's state.
  void endpoints(const Reconciler& reconciler, size_t unenforceable);
  void counters(const Reconciler& reconciler);
  // bulkhead_host_dropped_packets from the host layer's last reading.
  void host_drops(const HostLayer& host);
  void cluster(ClusterSource* cluster);
  // One packet the flow log read, under each deciding policy (bulkhead_denied_flows_total).
  void flow_counted(const FlowRecord& r);
  // A hook socket connection's result (bulkhead_hook_requests_total).
  void hook_counted(const std::string& result) {
    if (metrics_) metrics_->count_hook(result);
  }

 private:
  const TimeSource& time_;
  std::unique_ptr<Metrics> metrics_;
  std::deque<std::string> errors_;
  std::optional<Clock::time_point> pending_event_;  // first unapplied source change
};

}  // namespace bulkhead::daemon
