#include "enforcer/daemon/reconciler.h"

#include <algorithm>

namespace bulkhead::daemon {
namespace {

Clock::duration backoff(int failures) {
  using namespace std::chrono_literals;
  auto d = 250ms * (1 << std::min(failures - 1, 7));
  return std::min<Clock::duration>(d, 30s);
}

double ms_since(const TimeSource& time, Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(time.now() - t0).count();
}

// The counters of an observation that matches the plan (same rules in the same order).
std::vector<RuleCounter> read_counters(const policy::NftTable& seen) {
  std::vector<RuleCounter> out;
  for (const auto& chain : seen.chains)
    for (const auto& r : chain.rules)
      if (r.counter) out.push_back({r.packets, r.bytes});
  return out;
}

}  // namespace

bool is_quarantine_table(const policy::NftTable& table) {
  for (const auto& chain : table.chains)
    for (const auto& r : chain.rules)
      if (r.comment == kQuarantineComment) return true;
  return false;
}

size_t counted_rules(const policy::NftTable& table) {
  size_t n = 0;
  for (const auto& chain : table.chains)
    for (const auto& r : chain.rules) n += r.counter;
  return n;
}

void Reconciler::set_desired(policy::Plan plan) {
  std::set<std::string> seen;
  for (auto& ep : plan.endpoints) {
    seen.insert(ep.endpoint);
    departed_.erase(ep.endpoint);
    auto [it, fresh] = endpoints_.try_emplace(ep.endpoint);
    EndpointState& st = it->second;
    if (fresh || !(st.desired == ep)) {
      // A new namespace (restarted container) holds nothing of ours yet.
      if (!fresh && st.desired.netns != ep.netns) {
        st.applied = false;
        st.counters = {};
      }
      // Assigned over the endpoint's own storage, not moved in: the compiled plan lives on the
      // compile's scratch heap (common/scratch_heap.h), which must empty out when it is freed.
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

void Reconciler::applied(EndpointState& st, const netlink::ApplyOutcome& change, double ms) {
  st.applied = true;
  st.dirty = false;
  st.failures = 0;
  st.last_error.clear();
  st.last_apply = time_.wall_now();
  st.last_apply_ms = ms;
  if (!st.desired.table) {
    st.counters = {};
  } else if (change.nft == netlink::NftChange::replaced) {
    // A table created afresh counts from zero: known without reading it.
    st.counters = {st.last_apply, std::vector<RuleCounter>(counted_rules(*st.desired.table))};
  } else if (st.counters.rules.size() != counted_rules(*st.desired.table)) {
    st.counters = {};  // the rules kept in the kernel are not those of the last reading
  }
}

std::vector<ApplyOutcome> Reconciler::apply_dirty() {
  std::vector<ApplyOutcome> out;
  for (auto it = departed_.begin(); it != departed_.end();) {
    const auto t0 = time_.now();
    Status s = dp_.remove(it->second);
    dp_.forget(it->second);
    out.push_back({it->first, it->second, true, s, ms_since(time_, t0)});
    // A namespace that is already gone took our objects with it; nothing to retry.
    it = departed_.erase(it);
  }
  const auto now = time_.now();
  for (auto& [name, st] : endpoints_) {
    if (!st.dirty || st.retry_at > now) continue;
    out.push_back(apply_one(name, st, now));
  }
  return out;
}

std::optional<ApplyOutcome> Reconciler::apply_now(const std::string& name) {
  auto it = endpoints_.find(name);
  if (it == endpoints_.end()) return std::nullopt;
  EndpointState& st = it->second;
  if (st.applied && !st.dirty) return ApplyOutcome{name, st.desired.netns, false, Status{}, 0};
  return apply_one(name, st, time_.now());
}

ApplyOutcome Reconciler::apply_one(const std::string& name, EndpointState& st,
                                   Clock::time_point now) {
  const auto t0 = time_.now();
  // A namespace we never wrote to may hold the hook's quarantine table: status says so, and the
  // apply below replaces it (atomic replace) or, for an unselected endpoint, removes it.
  if (!st.applied && st.failures == 0) {
    auto seen = dp_.observe(st.desired.netns);
    if (seen.ok() && seen->table && is_quarantine_table(*seen->table))
      st.started_quarantined = true;
  }
  netlink::ApplyOutcome change;
  Status s = dp_.apply(st.desired, &change);
  const double ms = ms_since(time_, t0);
  if (s.ok()) {
    applied(st, change, ms);
  } else {
    ++st.failures;
    st.retry_at = now + backoff(st.failures);
    st.last_error = s.error().to_string();
  }
  return {name, st.desired.netns, false, s, ms};
}

std::vector<std::string> Reconciler::check_drift() {
  std::vector<std::string> drifted;
  for (auto& [name, st] : endpoints_) {
    if (st.dirty || !st.applied) continue;
    auto seen = dp_.observe(st.desired.netns);
    if (seen.ok() && netlink::in_sync(*seen, st.desired)) {
      if (seen->table) st.counters = {time_.wall_now(), read_counters(*seen->table)};
      continue;
    }
    st.dirty = true;
    drifted.push_back(name);
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

bool Reconciler::has_due_work() const {
  if (!departed_.empty()) return true;
  const auto now = time_.now();
  for (const auto& [name, st] : endpoints_)
    if (st.dirty && st.retry_at <= now) return true;
  return false;
}

}  // namespace bulkhead::daemon
