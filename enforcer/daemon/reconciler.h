// The reconciler: holds the desired Plan per endpoint and whether it was applied, and applies
// only the endpoints whose plan changed (or whose apply failed and is due for a retry).
// Events only call set_desired(); apply_dirty() is the one place that writes to the kernel.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "netlink/dataplane.h"
#include "policy/plan/plan.h"

namespace bulkhead::daemon {

using Clock = std::chrono::steady_clock;

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
  std::chrono::system_clock::time_point last_apply{};
  double last_apply_ms = 0;
};

struct ApplyOutcome {
  std::string endpoint;
  std::string netns;
  bool removed = false;  // the endpoint left; its objects were taken away
  Status status;
  double ms = 0;
};

class Reconciler {
 public:
  explicit Reconciler(netlink::Dataplane& dp) : dp_(dp) {}

  // Replaces the desired state. Endpoints whose plan is unchanged stay clean; new, changed and
  // departed endpoints become dirty.
  void set_desired(const policy::Plan& plan);
  // Applies every dirty endpoint that is due, each independently: one failure never blocks the
  // others. Failed endpoints are retried with exponential backoff.
  std::vector<ApplyOutcome> apply_dirty(Clock::time_point now);
  // Reads back every applied endpoint and marks those whose kernel state differs from the
  // plan dirty. Returns their names.
  // `seen` (optional) receives every observation, e.g. to refresh counter metrics on the way.
  std::vector<std::string> check_drift(
      const std::function<void(const std::string&, const netlink::Observed&)>& seen = {});

  // Marks an applied, clean endpoint dirty so the loop re-applies it at once (its objects were
  // changed behind our back). Returns false when it was already dirty or is unknown.
  bool mark_dirty(const std::string& name);

  // The earliest retry deadline of a failed endpoint, if any.
  std::optional<Clock::time_point> next_retry() const;
  bool has_due_work(Clock::time_point now) const;
  const std::map<std::string, EndpointState>& endpoints() const { return endpoints_; }

 private:
  netlink::Dataplane& dp_;
  std::map<std::string, EndpointState> endpoints_;
  std::map<std::string, std::string> departed_;  // endpoint name -> netns, awaiting cleanup
};

}  // namespace bulkhead::daemon
