// The document that `bulkhead status` shows (docs/daemon.md, Status), made from what the daemon
// keeps anyway: the reconciler's state with the rule counters of the last resync and the time of
// that reading, the policy and source state, the watchers' records. Nothing here asks the kernel,
// so a status request never holds back an apply.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "enforcer/daemon/flow_log.h"
#include "enforcer/daemon/options.h"
#include "enforcer/daemon/policy_state.h"
#include "enforcer/daemon/host_layer.h"
#include "enforcer/daemon/reconciler.h"
#include "enforcer/daemon/registry.h"
#include "enforcer/daemon/source_set.h"
#include "enforcer/daemon/start_gate.h"
#include "enforcer/daemon/tamper_watch.h"
#include "enforcer/sources/cluster/source.h"

namespace bulkhead::daemon {

struct StatusView {
  long pid = 0;
  const ClusterOptions& cluster_options;
  const PolicyState& policy;
  const Registry& registry;
  const Reconciler& reconciler;
  std::vector<SourceHealth> sources;
  std::optional<ClusterSource::ClusterStatus> cluster;  // with --cluster
  const TamperWatch* tamper = nullptr;                  // long-running mode only
  const FlowLog* flow_log = nullptr;                    // long-running mode only
  const std::deque<std::string>& errors;
  const StartGate* gate = nullptr;  // with a hook socket
  // The hook socket's results so far, by result (enforced, unselected, refused, malformed,
  // denied_peer); null without a hook socket.
  const std::map<std::string, uint64_t>* hook_results = nullptr;
  const HostLayer* host_layer = nullptr;  // with --layers netns,host
};

// Pretty-printed JSON ending with a newline.
std::string status_document(const StatusView& view);

}  // namespace bulkhead::daemon
