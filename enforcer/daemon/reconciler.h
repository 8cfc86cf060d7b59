// The reconciler: holds the desired Plan per endpoint and whether it was applied, and applies
// only the endpoints whose plan changed (or whose apply failed and is due for a retry).
// Events only call set_desired(); apply_dirty() is the one place that writes to the kernel.
// Time (retry deadlines, apply durations and times) comes from the injected TimeSource.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "enforcer/daemon/time_source.h"
#include "netlink/dataplane.h"
#include "policy/plan/plan.h"

namespace bulkhead::daemon {

struct RuleCounter {
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

// An endpoint's rule counters as last known, without asking the kernel for them: read back by the
// resync, or zero since an apply created the table afresh. One entry per rule with a counter, in
// the plan's order (ingress chain first), so the plan itself supplies chain and comment.
struct CounterReading {
  std::optional<WallClock::time_point> at;  // nullopt: not known (no reading since the start)
  std::vector<RuleCounter> rules;
};

struct EndpointState {
  policy::EndpointPlan desired;
  // Whether `desired` has been committed to this namespace at least once. The kernel state itself
  // is never cached here: drift checks read it back, and a plan copy per endpoint would double
  // the daemon's memory.
  bool applied = false;
  bool dirty = true;
  int failures = 0;              // consecutive
  Clock::time_point retry_at{};  // when a failed endpoint may be tried again
  std::string last_error;
  WallClock::time_point last_apply{};
  double last_apply_ms = 0;
  CounterReading counters;
  // Before its first apply, the namespace held a quarantine table (the hook's, when the daemon
  // was not there to answer): the apply replaced or removed it.
  bool started_quarantined = false;
};

// The comment on the final drop rule of a quarantine table (policy/plan/quarantine.h, installed by
// bulkhead-hook when the daemon does not answer), which tells it from a compiled table.
inline constexpr const char* kQuarantineComment = "bulkhead quarantine";
bool is_quarantine_table(const policy::NftTable& table);

struct ApplyOutcome {
  std::string endpoint;
  std::string netns;
  bool removed = false;  // the endpoint left; its objects were taken away
  Status status;
  double ms = 0;
};

// How many rules of `table` carry a counter: the size of a reading of it.
size_t counted_rules(const policy::NftTable& table);

// Calls f(chain, rule, counter) for each counted rule of the endpoint's table with the value of
// its last reading, in order; nothing when there is no reading.
template <class F>
void for_each_reading(const EndpointState& st, F&& f) {
  if (!st.desired.table || !st.counters.at) return;
  size_t i = 0;
  for (const auto& chain : st.desired.table->chains)
    for (const auto& rule : chain.rules)
      if (rule.counter && i < st.counters.rules.size()) f(chain, rule, st.counters.rules[i++]);
}

class Reconciler {
 public:
  Reconciler(netlink::Dataplane& dp, const TimeSource& time) : dp_(dp), time_(time) {}

  // Replaces the desired state. Endpoints whose plan is unchanged stay clean; new, changed and
  // departed endpoints become dirty.
  void set_desired(policy::Plan plan);
  // Applies every dirty endpoint that is due, each independently: one failure never blocks the
  // others. Failed endpoints are retried with exponential backoff (250 ms doubling to 30 s).
  std::vector<ApplyOutcome> apply_dirty();
  // Applies one endpoint now, retry deadline or not (the start gate, while a container's start
  // waits). An endpoint already applied and clean is not touched: its outcome is a success.
  // nullopt when the endpoint is unknown.
  std::optional<ApplyOutcome> apply_now(const std::string& name);
  // Reads back every applied endpoint, keeps the counters of those in sync and marks those whose
  // kernel state differs from the plan dirty. Returns their names.
  std::vector<std::string> check_drift();

  // Marks an applied, clean endpoint dirty so the loop re-applies it at once (its objects were
  // changed behind our back). Returns false when it was already dirty or is unknown.
  bool mark_dirty(const std::string& name);

  // The earliest retry deadline of a failed endpoint, if any.
  std::optional<Clock::time_point> next_retry() const;
  bool has_due_work() const;
  const std::map<std::string, EndpointState>& endpoints() const { return endpoints_; }

 private:
  void applied(EndpointState& st, const netlink::ApplyOutcome& change, double ms);
  ApplyOutcome apply_one(const std::string& name, EndpointState& st, Clock::time_point now);

  netlink::Dataplane& dp_;
  const TimeSource& time_;
  std::map<std::string, EndpointState> endpoints_;
  std::map<std::string, std::string> departed_;  // endpoint name -> netns, awaiting cleanup
};

}  // namespace bulkhead::daemon
