#include "enforcer/daemon/reconciler.h"

#include <algorithm>

namespace bulkhead::daemon {
namespace {

Clock::duration backoff(int failures) {
  using namespace std::chrono_literals;
  auto d = 250ms * (1 << std::min(failures - 1, 7));
  return std::min<Clock::duration>(d, 30s);
}

}  // namespace

void Reconciler::set_desired(const policy::Plan& plan) {
  std::set<std::string> seen;
  for (const auto& ep : plan.endpoints) {
    seen.insert(ep.endpoint);
    departed_.erase(ep.endpoint);
    auto [it, fresh] = endpoints_.try_emplace(ep.endpoint);
    EndpointState& st = it->second;
    if (fresh || !(st.desired == ep)) {
      // A new namespace (restarted container) holds nothing of ours yet.
      if (!fresh && st.desired.netns != ep.netns) st.applied = false;
      st.desired = ep;
      st.dirty = true;
      st.failures = 0;
      st.retry_at = {};
    }
  }
  for (auto it = endpoints_.begin(); it != endpoints_.end();) {
    if (seen.count(it->first)) {
      ++it;
      continue;
    }
    if (it->second.applied) departed_[it->first] = it->second.desired.netns;
    it = endpoints_.erase(it);
  }
}

std::vector<ApplyOutcome> Reconciler::apply_dirty(Clock::time_point now) {
  std::vector<ApplyOutcome> out;
  for (auto it = departed_.begin(); it != departed_.end();) {
    auto t0 = Clock::now();
    Status s = dp_.remove(it->second);
    dp_.forget(it->second);
    out.push_back({it->first, it->second, true, s,
                   std::chrono::duration<double, std::milli>(Clock::now() - t0).count()});
    // A namespace that is already gone took our objects with it; nothing to retry.
    it = departed_.erase(it);
  }
  for (auto& [name, st] : endpoints_) {
    if (!st.dirty || st.retry_at > now) continue;
    auto t0 = Clock::now();
    Status s = dp_.apply(st.desired);
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (s.ok()) {
      st.applied = true;
      st.dirty = false;
      st.failures = 0;
      st.last_error.clear();
      st.last_apply = std::chrono::system_clock::now();
      st.last_apply_ms = ms;
    } else {
      ++st.failures;
      st.retry_at = now + backoff(st.failures);
      st.last_error = s.error().to_string();
    }
    out.push_back({name, st.desired.netns, false, s, ms});
  }
  return out;
}

std::vector<std::string> Reconciler::check_drift(
    const std::function<void(const std::string&, const netlink::Observed&)>& on_seen) {
  std::vector<std::string> drifted;
  for (auto& [name, st] : endpoints_) {
    if (st.dirty || !st.applied) continue;
    auto seen = dp_.observe(st.desired.netns);
    if (seen.ok() && on_seen) on_seen(name, *seen);
    if (!seen.ok() || !netlink::in_sync(*seen, st.desired)) {
      st.dirty = true;
      drifted.push_back(name);
    }
  }
  return drifted;
}

bool Reconciler::mark_dirty(const std::string& name) {
  auto it = endpoints_.find(name);
  if (it == endpoints_.end() || it->second.dirty) return false;
  it->second.dirty = true;
  return true;
}

std::optional<Clock::time_point> Reconciler::next_retry() const {
  std::optional<Clock::time_point> t;
  for (const auto& [name, st] : endpoints_)
    if (st.dirty && st.failures > 0 && (!t || st.retry_at < *t)) t = st.retry_at;
  return t;
}

bool Reconciler::has_due_work(Clock::time_point now) const {
  if (!departed_.empty()) return true;
  for (const auto& [name, st] : endpoints_)
    if (st.dirty && st.retry_at <= now) return true;
  return false;
}

}  // namespace bulkhead::daemon
