#include "enforcer/daemon/daemon.h"

#include <malloc.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <functional>
#include <iostream>
#include <set>
#include <variant>
#include <vector>

#include "common/scratch_heap.h"
#include "common/unique_fd.h"
#include "enforcer/daemon/diagnostics.h"
#include "enforcer/daemon/file_watch.h"
#include "enforcer/daemon/hook_socket.h"
#include "enforcer/daemon/status_document.h"
#include "enforcer/log/log.h"
#include "enforcer/status/socket.h"
#include "policy/inspect/membership.h"
#include "policy/plan/compile.h"
#include "policy/plan/plan_limits.h"

namespace bulkhead::daemon {
namespace {

using namespace std::chrono_literals;

// What one round of the loop was woken for.
struct Wakeup {
  bool stop = false;
  std::string signal;  // the one that stops the daemon
  bool reload = false;
  bool sources = false;
  bool status = false;
};

// A descriptor the loop polls and what to do when it is readable.
struct Readable {
  int fd;
  std::function<void()> on_readable;
};

void read_signals(int fd, Wakeup& w) {
  signalfd_siginfo si;
  while (::read(fd, &si, sizeof(si)) == sizeof(si)) {
    if (si.ssi_signo == SIGHUP) {
      w.reload = true;
      continue;
    }
    w.stop = true;
    w.signal = strsignal(static_cast<int>(si.ssi_signo));
    return;
  }
}

// The reconciler copies what it keeps of a plan (Reconciler::set_desired), so the compile's
// scratch and the plan itself can live and die on the scratch heap.
policy::Plan compile_plan(const policy::PolicySet& set, const policy::Endpoints& endpoints) {
  return on_scratch_heap([&] { return policy::compile(set, endpoints); });
}

}  // namespace

Daemon::Daemon(const Options& opts, netlink::Dataplane& dataplane, SourceFactory& sources,
               TimeSource& time)
    : opts_(opts),
      time_(time),
      factory_(sources),
      reconciler_(dataplane, time),
      sessions_(dataplane.sessions()),
      publication_(time) {
  if (opts.host_layer) host_layer_ = std::make_unique<HostLayer>(dataplane, opts.host_netns);
}

Daemon::~Daemon() = default;

void Daemon::set_container_lookup(std::unique_ptr<ContainerLookup> lookup) {
  lookup_ = std::move(lookup);
  gate_ = std::make_unique<StartGate>(*lookup_);
}

int Daemon::run() {
  if (auto rc = build_sources()) return *rc;
  if (auto rc = load_policies()) return *rc;
  if (auto rc = start_sources()) return *rc;
  if (opts_.once) return enforce_once();
  if (auto rc = start_metrics()) return *rc;
  auto status = StatusSocket::listen(opts_.status_socket, opts_.status_gid);
  if (!status.ok()) {
    std::cerr << "bulkheadd: " << status.error().to_string() << "\n";
    return 2;
  }
  // Before the first apply, so that a file changed meanwhile is reloaded.
  std::vector<std::string> watched = opts_.policies;
  for (auto* inv : sources_.inventories()) watched.push_back(inv->path());
  FileWatch files(watched);
  start_watchers();
  // Before the first apply: a hook asking before the first full sync is refused at once, and the
  // hook quarantines; afterwards it gets its answer.
  start_hook_socket();
  enforce();
  return loop(*status, files);
}

std::optional<int> Daemon::build_sources() {
  auto made = factory_.make(opts_);
  if (!made.ok()) {
    std::cerr << "bulkheadd: " << made.error().to_string() << "\n";
    return 2;
  }
  sources_.adopt(std::move(*made));
  if (!lookup_ && !opts_.hook_socket.empty()) {
    std::vector<std::string> engines;
    for (const auto& spec : opts_.sources)
      if (spec.kind == SourceSpec::Kind::docker) engines.push_back(spec.path);
    // The list must answer well within the hook's deadline, or there is no time left to apply.
    set_container_lookup(make_engine_lookup(std::move(engines),
                                            std::chrono::milliseconds(opts_.hook_deadline_ms / 2)));
  }
  return std::nullopt;
}

std::optional<int> Daemon::load_policies() {
  auto attempt = PolicyState::load(opts_.policies);
  if (!attempt.candidate) {
    policy_not_loaded(attempt.problem);
    std::cerr << "bulkheadd: the policies did not load; nothing was changed\n";
    return 2;
  }
  policy_.accept(std::move(*attempt.candidate));
  return std::nullopt;
}

std::optional<int> Daemon::start_sources() {
  if (Status s = sources_.start(); !s.ok()) {
    std::cerr << "bulkheadd: " << s.error().to_string() << "; nothing was changed\n";
    return 2;
  }
  return std::nullopt;
}

int Daemon::enforce_once() {
  // Wait (bounded) for every source's first full list.
  for (int i = 0; i < 300 && !sources_.ready(); ++i) time_.sleep_for(100ms);
  refresh_desired();
  if (!registry_.plan_refused().empty()) {
    std::cerr << "bulkheadd: " << registry_.plan_refused() << "; nothing was changed\n";
    return 1;
  }
  if (reconciler_.endpoints().empty() && !sources_.ready()) {
    std::cerr << "bulkheadd: a source never delivered its first list; nothing was changed\n";
    return 1;
  }
  const int failed = apply_due();
  // Enforced without remote peers is enforced, but not as the policy means it across hosts.
  std::string cluster_error;
  if (sources_.cluster()) cluster_error = sources_.cluster()->snapshot().error;
  if (!cluster_error.empty())
    std::cerr << "bulkheadd: cluster membership not read (" << cluster_error
              << "); endpoints were enforced without remote peers\n";
  if (failed == 0) return cluster_error.empty() ? 0 : 1;
  for (const auto& [name, st] : reconciler_.endpoints())
    if (st.dirty)
      std::cerr << "bulkheadd: endpoint " << name << " (" << st.desired.netns
                << ") not enforced: " << st.last_error << "\n";
  return 1;
}

std::optional<int> Daemon::start_metrics() {
  if (opts_.metrics_listen.empty()) return std::nullopt;
  if (Status s = publication_.start_metrics(opts_.metrics_listen); !s.ok()) {
    std::cerr << "bulkheadd: " << s.error().to_string() << "\n";
    return 2;
  }
  return std::nullopt;
}

void Daemon::start_watchers() {
  watchers_ =
      std::make_unique<Watchers>(reconciler_, publication_.metrics(), flow_context(), sessions_);
}

void Daemon::enforce() {
  next_resync_ = time_.now() + resync_interval();
  refresh_desired();
  apply_due();
  publication_.cluster(sources_.cluster());
  log::info("bulkheadd running", {{"sources", std::to_string(sources_.size())}});
}

void Daemon::start_hook_socket() {
  if (opts_.hook_socket.empty()) return;
  auto made = HookSocket::listen(opts_.hook_socket, time_, HookSocket::Limits{});
  if (!made.ok()) {
    publication_.remember_error(made.error().to_string());
    log::error("hook socket not listening; hooks will act as if the daemon were not there",
               {{"error", made.error().to_string()}});
    return;
  }
  hook_ = std::move(*made);
  hook_->attach(
      watchers_->polls(), [this](const auto& requests) { return answer_hooks(requests); },
      [this](const std::string& result, const std::string& why) { hook_counted(result, why); });
  log::info("hook socket listening", {{"path", opts_.hook_socket}});
}

void Daemon::pump_hook(int timeout_ms) {
  std::vector<pollfd> fds;
  watchers_->polls().fill(fds);
  if (::poll(fds.data(), fds.size(), timeout_ms) > 0) watchers_->polls().dispatch(fds, 0);
  if (hook_) {
    hook_->answer_queued();
    hook_->expire();
  }
  if (has_due_work()) apply_due();
}

void Daemon::hook_counted(const std::string& result, const std::string& why) {
  ++hook_results_[result];
  publication_.hook_counted(result);
  if (result == kHookMalformed || result == kHookDeniedPeer)
    log::warn("hook request refused", {{"result", result}, {"why", why}});
}

hook::HookAnswer Daemon::answer_hook(const hook::HookRequest& request) {
  return answer_hooks({request}).front();
}

std::vector<hook::HookAnswer> Daemon::answer_hooks(const std::vector<hook::HookRequest>& requests) {
  using hook::HookAnswer;
  using hook::Verdict;
  const auto t0 = time_.now();
  std::vector<HookAnswer> answers(requests.size());
  std::vector<std::string> names(requests.size());  // the endpoint to apply, "" once answered
  if (!gate_) {
    answers.assign(requests.size(), {Verdict::kRefused, "no start gate"});
  } else if (!sources_.ready()) {
    // Before every source's first full list, a compile would remove the tables of endpoints that
    // were simply not listed yet.
    answers.assign(requests.size(), {Verdict::kRefused, "not yet synced with its sources"});
  } else {
    auto resolved = gate_->resolve(requests, registry_.endpoints(), policy_.read_keys());
    for (size_t i = 0; i < requests.size(); ++i) {
      if (auto* a = std::get_if<HookAnswer>(&resolved[i]))
        answers[i] = std::move(*a);
      else
        names[i] = std::get<std::string>(resolved[i]);
    }
    // One compile for the whole batch; each starting container's own table; then its peers'
    // sets, before the answer: a container whose first act is to reach an allowed peer that
    // isolates its ingress must find its address there already.
    if (std::any_of(names.begin(), names.end(), [](const auto& n) { return !n.empty(); })) {
      refresh_desired();
      for (size_t i = 0; i < requests.size(); ++i)
        if (!names[i].empty()) answers[i] = enforce_at_start(names[i]);
      apply_due();
    }
  }
  const double ms = std::chrono::duration<double, std::milli>(time_.now() - t0).count();
  // Applied is applied: past the deadline the hooks may have given up, but what was applied stays.
  if (ms > opts_.hook_deadline_ms)
    log::warn("hook answers later than their deadline",
              {{"batch", std::to_string(requests.size())}, {"ms", fmt::format("{:.2f}", ms)}});
  for (size_t i = 0; i < requests.size(); ++i)
    log_hook_answer(requests[i], names[i], answers[i], ms, requests.size());
  return answers;
}

hook::HookAnswer Daemon::enforce_at_start(const std::string& name) {
  using hook::Verdict;
  auto it = reconciler_.endpoints().find(name);
  if (it == reconciler_.endpoints().end()) {
    const std::string why = registry_.plan_refused().empty()
                                ? "endpoint " + name + " was not compiled"
                                : "plan refused: " + registry_.plan_refused();
    return {Verdict::kRefused, why};
  }
  // Unselected: nothing to install; the loop's apply removes a quarantine table left earlier.
  if (!it->second.desired.table && it->second.desired.tc.empty()) return {Verdict::kUnselected, ""};
  auto applied = reconciler_.apply_now(name);
  if (!applied) return {Verdict::kRefused, "endpoint " + name + " vanished"};
  publication_.applied(*applied);
  if (!applied->status.ok())
    return {Verdict::kRefused, "apply failed: " + applied->status.error().to_string()};
  if (watchers_) watchers_->notify(*applied, reconciler_);
  gate_->enforced_at_start(name);
  return {Verdict::kEnforced, ""};
}

void Daemon::log_hook_answer(const hook::HookRequest& request, const std::string& endpoint,
                             const hook::HookAnswer& a, double ms, size_t batch) {
  log::Fields f{{"container", request.id}, {"pid", std::to_string(request.pid)}};
  if (!endpoint.empty()) f.emplace_back("endpoint", endpoint);
  f.emplace_back("verdict", std::string(hook::verdict_name(a.verdict)));
  f.emplace_back("ms", fmt::format("{:.2f}", ms));
  f.emplace_back("batch", std::to_string(batch));
  if (!a.reason.empty()) f.emplace_back("reason", a.reason);
  if (a.verdict == hook::Verdict::kRefused)
    log::warn("hook answered", f);
  else
    log::info("hook answered", f);
}

void Daemon::reload() {
  auto attempt = PolicyState::load(opts_.policies);
  bool ok = attempt.candidate.has_value();
  if (!ok) policy_not_loaded(attempt.problem);
  ok = reload_inventories() && ok;
  ok = refresh_desired(std::move(attempt.candidate)) && ok;
  publication_.reloaded(ok);
  if (!ok) {
    publication_.remember_error("reload failed; the running enforcement is kept as it was");
    log::error("reload failed; the running enforcement is kept as it was");
  } else {
    log::info("reloaded");
  }
}

void Daemon::sources_changed() {
  note_source_change();
  refresh_desired();
}

void Daemon::resync() {
  const auto drifted = reconciler_.check_drift();
  for (const auto& name : drifted) log::warn("drift detected; repairing", {{"endpoint", name}});
  if (host_layer_) {
    if (auto st = host_layer_->read_drops(); !st.ok())
      log::warn("host layer counters not read", {{"error", st.error().to_string()}});
    publication_.host_drops(*host_layer_);
  }
  publication_.resynced(drifted.size());
  publication_.counters(reconciler_);
}

int Daemon::apply_due() {
  int failed = 0;
  bool applied_any = false;
  for (const auto& o : reconciler_.apply_dirty()) {
    publication_.applied(o);
    log::Fields f{
        {"endpoint", o.endpoint}, {"netns", o.netns}, {"ms", fmt::format("{:.2f}", o.ms)}};
    if (o.status.ok()) {
      applied_any = true;
      if (watchers_) watchers_->notify(o, reconciler_);
      log::info(o.removed ? "endpoint released" : "endpoint enforced", f);
      continue;
    }
    f.emplace_back("error", o.status.error().to_string());
    publication_.remember_error(o.endpoint + ": " + o.status.error().to_string());
    if (o.removed) {
      log::warn("endpoint release failed", f);
    } else {
      ++failed;
      log::error("endpoint apply failed", f);
    }
  }
  apply_host_layer();
  publication_.round_done(applied_any);
  notify_ready_once_synced();
  publication_.endpoints(reconciler_, registry_.unenforceable().size());
  // Compiling and applying churn through short-lived allocations; hand the freed pages back so
  // the resident size reflects what the daemon keeps, not its peak.
  ::malloc_trim(0);
  return failed;
}

bool Daemon::has_due_work() const {
  return reconciler_.has_due_work() || (host_layer_ && host_layer_->dirty());
}

void Daemon::apply_host_layer() {
  if (!host_layer_ || !host_layer_->dirty()) return;
  const auto t0 = time_.now();
  Status st = host_layer_->apply(reconciler_.endpoints(), registry_.endpoints());
  const double ms = std::chrono::duration<double, std::milli>(time_.now() - t0).count();
  log::Fields f{{"netns", host_layer_->host_netns()}, {"ms", fmt::format("{:.2f}", ms)}};
  if (st.ok()) {
    log::debug("host layer applied", f);
    return;
  }
  f.emplace_back("error", st.error().to_string());
  publication_.remember_error("host layer: " + st.error().to_string());
  log::error("host layer apply failed; its previous tables are kept", f);
}

void Daemon::notify_ready_once_synced() {
  if (ready_notified_) return;
  // Synced, or every source that has not listed yet cannot reach its engine: at boot the engines
  // are ordered after us, so waiting for their list would hold them back until a timeout. Nothing
  // runs through an engine that is not up; what it starts later asks at the hook socket.
  bool settled = synced_;
  if (!settled) {
    settled = true;
    for (const auto& h : sources_.health()) settled = settled && (h.ready || !h.error.empty());
  }
  if (!settled) return;
  // A no-op without systemd (no NOTIFY_SOCKET). Engines ordered after us start only now.
  ::sd_notify(0, "READY=1");
  ready_notified_ = true;
  log::info("first full sync done; ready");
}

std::string Daemon::status_document() {
  std::optional<ClusterSource::ClusterStatus> cluster;
  if (sources_.cluster()) cluster = sources_.cluster()->status();
  return daemon::status_document(StatusView{
      .pid = ::getpid(),
      .cluster_options = opts_.cluster,
      .policy = policy_,
      .registry = registry_,
      .reconciler = reconciler_,
      .sources = sources_.health(),
      .cluster = std::move(cluster),
      .tamper = watchers_ ? &watchers_->tamper() : nullptr,
      .flow_log = watchers_ ? &watchers_->flow_log() : nullptr,
      .errors = publication_.errors(),
      .gate = gate_.get(),
      .hook_results = hook_ ? &hook_results_ : nullptr,
      .host_layer = host_layer_.get(),
  });
}

bool Daemon::refresh_desired(std::optional<PolicyState::Candidate> candidate) {
  const bool accepted = compile_desired(std::move(candidate));
  // A compile holds a second plan beside the reconciler's (one set of addresses per peer group
  // and endpoint: ~10 MiB at 1,000 endpoints); without a trim its freed pages stay resident
  // until the next apply, which a refresh that changes nothing never reaches.
  ::malloc_trim(0);
  return accepted;
}

bool Daemon::compile_desired(std::optional<PolicyState::Candidate> candidate) {
  auto gathered = sources_.gather();
  std::optional<Merged> merged;
  if (gathered) {
    // Containers the hook told us about that no source lists yet.
    if (gate_) gate_->merge_into(gathered->local);
    // Local endpoints only: remote ones carry the addresses their own node published.
    fill_addresses(gathered->local);
    merged = merge_endpoints(*gathered);
  }
  const bool complete = merged && merged->duplicate.empty();
  bool accepted = true;
  std::optional<policy::Plan> plan;
  if (candidate) {
    // Accepted, a set beyond the limits would be refused at every later event with the good set
    // gone. Checked over the endpoints now, or as last compiled while they cannot be read.
    const policy::Endpoints last = complete ? policy::Endpoints{} : registry_.endpoints();
    const policy::Endpoints& over = complete ? merged->all : last;
    policy::Plan compiled = compile_plan(candidate->set, over);
    auto refused = policy::check_plan_limits(compiled, over);
    log_diagnostics(refused);
    if (refused.empty()) {
      policy_.accept(std::move(*candidate));
      if (complete) plan = std::move(compiled);
    } else {
      policy_not_loaded(first_error(refused));
      accepted = false;
    }
  }
  // Publish after every refresh of the local endpoints; the source writes only what changed.
  if (gathered && sources_.cluster())
    sources_.cluster()->publish(gathered->local, policy_.digest());
  if (!merged) return accepted;
  if (!complete) {
    publication_.remember_error("endpoint " + merged->duplicate +
                                " is defined by two sources; keeping the last state");
    log::error("endpoint defined by two sources", {{"endpoint", merged->duplicate}});
    return accepted;
  }
  if (!plan) {
    plan = compile_plan(policy_.set(), merged->all);
    // A plan beyond the limits is refused whole, before anything reaches the kernel: every
    // endpoint keeps what it has.
    if (auto refused = policy::check_plan_limits(*plan, merged->all); !refused.empty()) {
      log_diagnostics(refused);
      registry_.set_plan_refused(first_error(refused));
      publication_.remember_error("plan refused: " + registry_.plan_refused() +
                                  "; the running enforcement is kept");
      log::error("plan refused; the running enforcement is kept as it was");
      return accepted;
    }
  }
  registry_.set_plan_refused("");
  registry_.commit(merged->all, std::move(gathered->unenforceable));
  reconciler_.set_desired(std::move(*plan));
  if (host_layer_) host_layer_->mark_dirty();
  synced_ = true;
  if (gate_) {
    std::set<std::string> names;
    for (const auto& [name, st] : reconciler_.endpoints()) names.insert(name);
    gate_->keep_only(names);
  }
  return accepted;
}

bool Daemon::reload_inventories() {
  bool ok = true;
  for (auto* inv : sources_.inventories()) {
    auto diags = inv->reload();
    log_diagnostics(diags);
    if (!policy::has_errors(diags)) continue;
    publication_.remember_error("inventory not loaded: " + first_error(diags));
    ok = false;
  }
  return ok;
}

void Daemon::policy_not_loaded(const std::string& problem) {
  policy_.refuse(problem, time_.wall_now());
  publication_.remember_error("policy not loaded: " + problem);
}

void Daemon::note_source_change() {
  publication_.source_changed();
  publication_.cluster(sources_.cluster());
}

FlowLog::Context Daemon::flow_context() {
  FlowLog::Context ctx;
  ctx.endpoint_at = [this](const policy::IpAddr& addr) { return registry_.endpoint_at(addr); };
  ctx.deciding = [this](const std::string& endpoint, bool egress, bool audit) {
    const policy::Endpoint* ep = registry_.find(endpoint);
    if (!ep || !policy_.has_set()) return std::vector<std::string>();
    return policy::deciding_policies(
        policy_.set(), *ep, egress ? policy::Direction::egress : policy::Direction::ingress, audit);
  };
  ctx.counted = [this](const FlowRecord& r) { publication_.flow_counted(r); };
  return ctx;
}

Clock::duration Daemon::resync_interval() const {
  return std::chrono::seconds(opts_.resync_interval_s);
}

int Daemon::poll_timeout_ms() const {
  Clock::time_point next = next_resync_;
  if (auto retry = reconciler_.next_retry()) next = std::min(next, *retry);
  if (hook_)
    if (auto late = hook_->next_deadline()) next = std::min(next, *late);
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(next - time_.now()).count();
  return static_cast<int>(std::clamp<decltype(left)>(left, 0, INT_MAX));
}

int Daemon::loop(StatusSocket& status, FileWatch& files) {
  sigset_t mask = handled_signals();
  UniqueFd signals(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  Wakeup w;
  const std::vector<Readable> fixed = {
      {signals.get(), [&] { read_signals(signals.get(), w); }},
      {files.fd(),
       [&] {
         // Only a change to a file the daemon reads is worth the pause below, which holds status,
         // hook answers and applies: other files in the same directory may be written often.
         if (!files.drain()) return;
         // Editors write in several steps; let them finish so one reload sees the final text.
         time_.sleep_for(50ms);
         files.drain();
         w.reload = true;
       }},
      {sources_.wake_fd(),
       [&] {
         sources_.drain_wake();
         w.sources = true;
       }},
      {status.fd(), [&] { w.status = true; }},
  };
  for (;;) {
    w = {};
    std::vector<pollfd> fds;
    for (const auto& r : fixed) fds.push_back({r.fd, POLLIN, 0});
    watchers_->polls().fill(fds);
    if (::poll(fds.data(), fds.size(), poll_timeout_ms()) < 0 && errno != EINTR) {
      log::error("poll failed", {{"error", std::strerror(errno)}});
      return 1;
    }
    for (size_t i = 0; i < fixed.size() && !w.stop; ++i)
      if (fds[i].revents & POLLIN) fixed[i].on_readable();
    if (w.stop) {
      log::info("bulkheadd stopping; enforcement stays in place", {{"signal", w.signal}});
      return 0;
    }
    watchers_->polls().dispatch(fds, fixed.size());
    // Starts wait for these answers: before the round's other compiles and the peers' applies.
    if (hook_) {
      hook_->answer_queued();
      hook_->expire();
    }
    if (w.reload) {
      if (w.sources) note_source_change();
      reload();  // one refresh for both
    } else if (w.sources) {
      sources_changed();
    }
    if (time_.now() >= next_resync_) {
      while (next_resync_ <= time_.now()) next_resync_ += resync_interval();
      resync();
    }
    if (has_due_work()) apply_due();
    notify_ready_once_synced();  // a first sync with nothing to apply
    if (w.status) {
      const auto t0 = time_.now();
      status.serve_one([this] { return status_document(); });
      log::debug(
          "status answered",
          {{"ms",
            fmt::format("{:.2f}",
                        std::chrono::duration<double, std::milli>(time_.now() - t0).count())}});
      // The answer is written; its document (~5 MiB at 1,000 endpoints) goes back to the kernel
      // instead of staying resident until the next apply.
      ::malloc_trim(0);
    }
  }
}

sigset_t handled_signals() {
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&mask, sig);
  return mask;
}

}  // namespace bulkhead::daemon
