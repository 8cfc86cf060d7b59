// bulkheadd's main loop: load policies, gather endpoints from the sources, compile, reconcile;
// in long-running mode react to source events, file changes, SIGHUP and the resync timer, serve
// status and metrics; exit cleanly on SIGTERM/SIGINT, leaving enforcement in place.
#pragma once

#include <signal.h>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "enforcer/daemon/endpoint_watcher.h"
#include "enforcer/daemon/flow_log.h"
#include "enforcer/daemon/metrics.h"
#include "enforcer/daemon/options.h"
#include "enforcer/daemon/poll_set.h"
#include "enforcer/daemon/reconciler.h"
#include "enforcer/daemon/tamper_watch.h"
#include "enforcer/sources/cluster/source.h"
#include "enforcer/sources/inventory.h"
#include "enforcer/sources/source.h"
#include "netlink/dataplane.h"
#include "policy/model/model.h"

namespace bulkhead::daemon {

class Daemon {
 public:
  Daemon(const Options& opts, netlink::Dataplane& dataplane);
  ~Daemon();
  // Returns the process exit code.
  int run();

 private:
  bool load_policies();
  // Takes every source's snapshot and, once all are ready, recompiles the desired state.
  void refresh_desired();
  int apply_due();
  void check_drift();
  void notify_watchers(const ApplyOutcome& o);
  FlowLog::Context flow_context();
  std::string status_document();
  void remember_error(const std::string& text);
  void publish_endpoint_metrics();
  void publish_cluster_metrics();

  const Options& opts_;
  netlink::Dataplane& dataplane_;
  Reconciler reconciler_;
  std::vector<std::unique_ptr<Source>> sources_;
  std::vector<InventorySource*> inventories_;
  UniqueFd wake_;  // eventfd: a source saw a change
  std::optional<policy::PolicySet> policies_;
  std::vector<Unenforceable> unenforceable_;
  std::map<std::string, policy::Endpoint> known_;  // by name, as last compiled
  std::unique_ptr<Metrics> metrics_;
  std::deque<std::string> recent_errors_;
  std::optional<Clock::time_point> pending_event_;  // first unapplied source change
  std::string plan_refused_;  // why the last compiled plan was refused ("" when it was applied)
  std::string policy_error_;  // why the policy paths do not load now ("" when they do)
  std::chrono::system_clock::time_point policy_error_since_{};
  PollSet extra_fds_;  // per-namespace sockets of the watchers
  std::vector<std::unique_ptr<EndpointWatcher>> watchers_;
  TamperWatch* tamper_ = nullptr;     // one of watchers_, in long-running mode
  FlowLog* flow_log_ = nullptr;       // one of watchers_, in long-running mode
  ClusterSource* cluster_ = nullptr;  // one of sources_, with --cluster
  std::string policy_digest_;         // of the loaded policy files (cluster::policy_digest)
};

// SIGHUP, SIGTERM and SIGINT: the daemon reads them through a signalfd. main() blocks them before
// any thread starts (metrics, sources), so that no other thread takes the default action.
sigset_t handled_signals();

}  // namespace bulkhead::daemon
