#include "enforcer/daemon/daemon.h"

#include <malloc.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <functional>
#include <iostream>
#include <vector>

#include "common/unique_fd.h"
#include "enforcer/daemon/diagnostics.h"
#include "enforcer/daemon/file_watch.h"
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

}  // namespace

Daemon::Daemon(const Options& opts, netlink::Dataplane& dataplane, SourceFactory& sources,
               TimeSource& time)
    : opts_(opts),
      time_(time),
      factory_(sources),
      reconciler_(dataplane, time),
      sessions_(dataplane.sessions()),
      publication_(time) {}

Daemon::~Daemon() = default;

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
  publication_.round_done(applied_any);
  publication_.endpoints(reconciler_, registry_.unenforceable().size());
  // Compiling and applying churn through short-lived allocations; hand the freed pages back so
  // the resident size reflects what the daemon keeps, not its peak.
  ::malloc_trim(0);
  return failed;
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
    policy::Plan compiled = policy::compile(candidate->set, over);
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
    plan = policy::compile(policy_.set(), merged->all);
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
         // Editors write in several steps; let them finish so one reload sees the final text.
         time_.sleep_for(50ms);
         w.reload = files.drain() || w.reload;
         files.drain();
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
    watchers_->polls().dispatch(fds, fixed.size());
    if (reconciler_.has_due_work()) apply_due();
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
