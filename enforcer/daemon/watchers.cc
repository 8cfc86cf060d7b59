#include "enforcer/daemon/watchers.h"

namespace bulkhead::daemon {

void Watchers::notify(const ApplyOutcome& o, const Reconciler& reconciler) {
  if (o.removed) {
    tamper_.released(o.endpoint, o.netns);
    flow_log_.released(o.endpoint, o.netns);
    return;
  }
  auto it = reconciler.endpoints().find(o.endpoint);
  if (it == reconciler.endpoints().end()) return;
  tamper_.enforced(it->second.desired);
  flow_log_.enforced(it->second.desired);
}

}  // namespace bulkhead::daemon
