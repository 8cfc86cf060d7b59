// Per-endpoint companions of enforcement (denied-flow log readers, tamper watchers): told when an
// endpoint's plan reached its namespace and when the endpoint left, so they can open or close
// sockets inside that namespace. Called on the daemon's loop thread, after the reconciler.
#pragma once

#include <string>

#include "policy/plan/plan.h"

namespace bulkhead::daemon {

class EndpointWatcher {
 public:
  virtual ~EndpointWatcher() = default;
  // `plan` was applied to plan.netns (first time, after a change, or after a repair).
  virtual void enforced(const policy::EndpointPlan& plan) = 0;
  // The endpoint left; its objects were removed (or its namespace is gone).
  virtual void released(const std::string& endpoint, const std::string& netns) = 0;
};

}  // namespace bulkhead::daemon
