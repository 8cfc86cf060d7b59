// The companions of enforcement in long-running mode: the tamper watch and the flow log, told of
// every apply, and the per-namespace descriptors they add to the daemon's loop.
#pragma once

#include "enforcer/daemon/flow_log.h"
#include "enforcer/daemon/metrics.h"
#include "enforcer/daemon/poll_set.h"
#include "enforcer/daemon/reconciler.h"
#include "enforcer/daemon/tamper_watch.h"

namespace bulkhead::daemon {

class Watchers {
 public:
  // `metrics` may be null (no --metrics-listen).
  // `sessions`: the dataplane's namespace sessions, whose handles the watchers use instead of
  // opening each namespace again; may be null (a fake dataplane).
  Watchers(Reconciler& reconciler, Metrics* metrics, FlowLog::Context flows,
           netlink::Sessions* sessions)
      : tamper_(polls_, reconciler, metrics, sessions),
        flow_log_(polls_, std::move(flows), {}, sessions) {}

  // After an apply: an enforced endpoint's plan, or a released endpoint.
  void notify(const ApplyOutcome& o, const Reconciler& reconciler);

  PollSet& polls() { return polls_; }
  const TamperWatch& tamper() const { return tamper_; }
  const FlowLog& flow_log() const { return flow_log_; }

 private:
  PollSet polls_;  // first: the watchers remove their descriptors from it when they go
  TamperWatch tamper_;
  FlowLog flow_log_;
};

}  // namespace bulkhead::daemon
