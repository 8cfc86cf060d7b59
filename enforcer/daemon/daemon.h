// bulkheadd's main loop: load policies, gather endpoints from the sources, compile, reconcile;
// in long-running mode react to source events, file changes, SIGHUP and the resync timer, serve
// status and metrics; exit cleanly on SIGTERM/SIGINT, leaving enforcement in place.
//
// run() is the program as a list of steps. The steps and the loop's handlers are public so that
// tests drive a Daemon over a FakeDataplane, fake sources and a fake clock, without root, engines,
// descriptors or real time (tests/enforcer/daemon/daemon_test.cc).
#pragma once

#include <signal.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "enforcer/daemon/options.h"
#include "enforcer/daemon/policy_state.h"
#include "enforcer/daemon/publication.h"
#include "enforcer/daemon/host_layer.h"
#include "enforcer/daemon/reconciler.h"
#include "enforcer/daemon/registry.h"
#include "enforcer/daemon/source_set.h"
#include "enforcer/daemon/start_gate.h"
#include "enforcer/daemon/time_source.h"
#include "enforcer/daemon/watchers.h"
#include "netlink/dataplane.h"

namespace bulkhead::daemon {

class FileWatch;
class HookSocket;
class StatusSocket;

class Daemon {
 public:
  Daemon(const Options& opts, netlink::Dataplane& dataplane, SourceFactory& sources,
         TimeSource& time);
  ~Daemon();
  // Returns the process exit code.
  int run();

  // The steps of run(), in order. A step that returns an exit code ends the program with it.
  std::optional<int> build_sources();
  std::optional<int> load_policies();
  std::optional<int> start_sources();
  int enforce_once();  // --once: the rest of the program
  std::optional<int> start_metrics();
  void start_watchers();
  // --hook-socket: listens and registers it in the loop. A socket that cannot be made is logged,
  // not fatal: hooks then find no daemon and quarantine (or refuse, as configured).
  void start_hook_socket();
  void enforce();  // the first full apply of long-running mode

  // The loop's handlers.
  void reload();           // SIGHUP or a changed policy or inventory file
  void sources_changed();  // a source signalled a change
  void resync();           // the resync timer: read every table back, repair drift
  int apply_due();         // applies what is dirty and due; returns how many endpoints failed
  std::string status_document();
  // Hooks' requests during their containers' starts (docs/daemon.md#the-hook-socket): the
  // requests read in one round of the loop, answered in order after one list, one compile, the
  // starting containers' own tables and their peers' set updates.
  std::vector<hook::HookAnswer> answer_hooks(const std::vector<hook::HookRequest>& requests);
  hook::HookAnswer answer_hook(const hook::HookRequest& request);  // a batch of one
  // One hook socket connection's result: counted for status and metrics.
  void hook_counted(const std::string& result, const std::string& why);
  const std::map<std::string, uint64_t>& hook_results() const { return hook_results_; }
  // Whether the service manager was told READY=1: after the first compile over every source's
  // full list and the apply round that followed (systemd Type=notify; engines start after).
  bool ready_notified() const { return ready_notified_; }

  // One round of the loop's polled descriptors (the hook socket and the watchers') and the hook's
  // deadlines, for tests that drive the real socket without the whole loop.
  void pump_hook(int timeout_ms);

  // Tests: the gate's view of engines and namespaces (default: the --source docker sockets and
  // the kernel).
  void set_container_lookup(std::unique_ptr<ContainerLookup> lookup);

 private:
  // Compiles the policies over every source's endpoints and hands the plan to the reconciler.
  // With a reloaded `candidate`, that one compile also decides whether the candidate is taken:
  // a plan beyond the limits refuses it and the enforced set stays. False when refused.
  bool refresh_desired(std::optional<PolicyState::Candidate> candidate = std::nullopt);
  bool compile_desired(std::optional<PolicyState::Candidate> candidate);
  bool reload_inventories();
  // Applies a starting container's endpoint, compiled already; the hook's answer.
  hook::HookAnswer enforce_at_start(const std::string& name);
  void log_hook_answer(const hook::HookRequest& request, const std::string& endpoint,
                       const hook::HookAnswer& a, double ms, size_t batch);
  void policy_not_loaded(const std::string& problem);
  void note_source_change();
  void notify_ready_once_synced();
  bool has_due_work() const;  // an endpoint due, or the host layer dirty
  void apply_host_layer();
  FlowLog::Context flow_context();
  int loop(StatusSocket& status, FileWatch& files);
  int poll_timeout_ms() const;
  Clock::duration resync_interval() const;

  const Options& opts_;
  TimeSource& time_;
  SourceFactory& factory_;
  Reconciler reconciler_;
  netlink::Sessions* sessions_;  // the dataplane's, shared with the watchers; null for a fake
  SourceSet sources_;
  PolicyState policy_;
  Registry registry_;
  Publication publication_;
  std::unique_ptr<Watchers> watchers_;  // long-running mode
  Clock::time_point next_resync_{};
  std::unique_ptr<ContainerLookup> lookup_;
  std::unique_ptr<StartGate> gate_;
  std::unique_ptr<HostLayer> host_layer_;  // --layers netns,host
  std::unique_ptr<HookSocket> hook_;
  std::map<std::string, uint64_t> hook_results_;
  bool synced_ = false;  // a plan over every source's full list reached the reconciler
  bool ready_notified_ = false;
};

// SIGHUP, SIGTERM and SIGINT: the daemon reads them through a signalfd. main() blocks them before
// any thread starts (metrics, sources), so that no other thread takes the default action.
sigset_t handled_signals();

}  // namespace bulkhead::daemon
