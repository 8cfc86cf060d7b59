#include "enforcer/daemon/publication.h"

#include <map>

#include "enforcer/log/log.h"

namespace bulkhead::daemon {
namespace {

constexpr size_t kRecentErrors = 20;

}  // namespace

Status Publication::start_metrics(const std::string& listen) {
  auto m = Metrics::start(listen);
  if (!m.ok()) return m.error();
  metrics_ = std::move(*m);
  return {};
}

void Publication::remember_error(const std::string& text) {
  errors_.push_back(log::utc_time(time_.wall_now(), false) + " " + text);
  while (errors_.size() > kRecentErrors) errors_.pop_front();
}

void Publication::source_changed() {
  if (!pending_event_) pending_event_ = time_.now();
}

void Publication::applied(const ApplyOutcome& o) {
  if (!metrics_) return;
  if (!o.status.ok()) {
    metrics_->count_apply_error();
    return;
  }
  metrics_->observe_apply(o.ms / 1000.0);
  if (o.removed) metrics_->forget_endpoint(o.endpoint);
}

void Publication::round_done(bool applied_any) {
  if (applied_any && pending_event_ && metrics_) {
    metrics_->observe_event_to_enforced(
        std::chrono::duration<double>(time_.now() - *pending_event_).count());
  }
  pending_event_.reset();
}

void Publication::reloaded(bool ok) {
  if (metrics_) metrics_->count_policy_reload(ok);
}

void Publication::resynced(size_t drift_repairs) {
  if (!metrics_) return;
  metrics_->count_resync();
  for (size_t i = 0; i < drift_repairs; ++i) metrics_->count_drift_repair();
}

void Publication::endpoints(const Reconciler& reconciler, size_t unenforceable) {
  if (!metrics_) return;
  double enforced = 0, failed = 0, pending = 0;
  for (const auto& [name, st] : reconciler.endpoints()) {
    if (!st.dirty)
      ++enforced;
    else if (st.failures > 0)
      ++failed;
    else
      ++pending;
  }
  metrics_->set_endpoints("enforced", enforced);
  metrics_->set_endpoints("failed", failed);
  metrics_->set_endpoints("pending", pending);
  metrics_->set_endpoints("unenforceable", static_cast<double>(unenforceable));
}

void Publication::host_drops(const HostLayer& host) {
  if (!metrics_) return;
  for (const auto& [name, coverage] : host.coverage()) {
    const auto d = host.drops(name);
    if (!d) continue;
    metrics_->set_host_dropped(name, "policy", static_cast<double>(d->dropped));
    metrics_->set_host_dropped(name, "invalid", static_cast<double>(d->invalid));
    metrics_->set_host_dropped(name, "spoofed", static_cast<double>(d->spoofed));
  }
}

void Publication::counters(const Reconciler& reconciler) {
  if (!metrics_) return;
  for (const auto& [name, st] : reconciler.endpoints()) {
    std::map<std::string, uint64_t> dropped, invalid;  // by chain
    for_each_reading(
        st, [&](const policy::NftChain& chain, const policy::NftRule& rule, const RuleCounter& c) {
          dropped[chain.name] += rule.kind == policy::RuleKind::final_drop ? c.packets : 0;
          invalid[chain.name] += rule.kind == policy::RuleKind::ct_invalid_drop ? c.packets : 0;
        });
    for (const auto& [chain, packets] : dropped)
      metrics_->set_dropped(name, chain, static_cast<double>(packets));
    for (const auto& [chain, packets] : invalid)
      metrics_->set_invalid(name, chain, static_cast<double>(packets));
  }
}

void Publication::cluster(ClusterSource* cluster) {
  if (!metrics_ || !cluster) return;
  auto st = cluster->status();
  metrics_->set_cluster(st.connected, static_cast<double>(st.remote_endpoints));
}

void Publication::flow_counted(const FlowRecord& r) {
  if (!metrics_) return;
  for (const auto& p : r.policies) metrics_->count_flow(r.endpoint, r.direction, p, r.verdict);
  if (r.policies.empty()) metrics_->count_flow(r.endpoint, r.direction, "", r.verdict);
}

}  // namespace bulkhead::daemon
