#include "enforcer/daemon.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <iostream>

#include "enforcer/file_watch.h"
#include "enforcer/log.h"
#include "enforcer/reconciler.h"
#include "netlink/link_addresses.h"
#include "netlink/netns.h"
#include "policy/compile.h"
#include "policy/load.h"

namespace bulkhead::daemon {
namespace {

struct Inputs {
  policy::PolicySet policies;
  policy::Endpoints endpoints;
};

void log_diagnostics(const policy::Diagnostics& diags) {
  for (const auto& d : diags) {
    log::write(d.severity == policy::Severity::error ? spdlog::level::err : spdlog::level::warn,
               d.message,
               {{"pos", d.pos.to_string()}, {"rule", d.rule}});
  }
}

std::optional<policy::PolicySet> load_policy_set(const Options& opts) {
  auto load = policy::load_policies(opts.policies);
  log_diagnostics(load.diagnostics);
  if (policy::has_errors(load.diagnostics)) return std::nullopt;
  return std::move(load.set);
}

// Inventory entries may leave addresses out: they are read from the namespace itself.
void fill_addresses(policy::Endpoints& endpoints) {
  for (auto& ep : endpoints) {
    if (!ep.addresses.empty()) continue;
    auto ns = netlink::NetnsHandle::open(ep.netns);
    if (!ns.ok()) continue;  // the apply reports the missing namespace
    auto addrs = netlink::read_addresses(*ns);
    if (addrs.ok())
      ep.addresses = std::move(*addrs);
    else
      log::warn("cannot read addresses", {{"endpoint", ep.name}, {"error", addrs.error().to_string()}});
  }
}

std::optional<policy::Endpoints> load_endpoints(const Options& opts) {
  policy::Endpoints all;
  for (const auto& src : opts.sources) {
    auto inv = policy::load_inventory(src.path);
    log_diagnostics(inv.diagnostics);
    if (policy::has_errors(inv.diagnostics)) return std::nullopt;
    all.insert(all.end(), inv.endpoints.begin(), inv.endpoints.end());
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  fill_addresses(all);
  for (size_t i = 1; i < all.size(); ++i) {
    if (all[i].name == all[i - 1].name) {
      log::error("endpoint defined by two sources", {{"endpoint", all[i].name}});
      return std::nullopt;
    }
  }
  return all;
}

// Applies what is due and logs each outcome. Returns the number of failures.
int apply(Reconciler& rec) {
  int failed = 0;
  for (const auto& o : rec.apply_dirty(Clock::now())) {
    log::Fields f{{"endpoint", o.endpoint}, {"netns", o.netns},
                  {"ms", fmt::format("{:.2f}", o.ms)}};
    if (o.status.ok()) {
      log::info(o.removed ? "endpoint released" : "endpoint enforced", f);
    } else {
      f.emplace_back("error", o.status.error().to_string());
      if (o.removed) {
        log::warn("endpoint release failed", f);
      } else {
        ++failed;
        log::error("endpoint apply failed", f);
      }
    }
  }
  return failed;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

int run(const Options& opts, netlink::Dataplane& dataplane) {
  for (const auto& s : opts.sources) {
    if (s.kind == SourceSpec::Kind::docker) {
      std::cerr << "bulkheadd: the docker source is not available in this build yet; use "
                   "--source inventory:FILE\n";
      return 2;
    }
  }
  auto policies = load_policy_set(opts);
  if (!policies) {
    std::cerr << "bulkheadd: the policies did not load; nothing was changed\n";
    return 2;
  }
  auto endpoints = load_endpoints(opts);
  if (!endpoints) {
    std::cerr << "bulkheadd: the endpoints did not load; nothing was changed\n";
    return 2;
  }

  Reconciler rec(dataplane);
  rec.set_desired(policy::compile(*policies, *endpoints));
  int failed = apply(rec);

  if (opts.once) {
    if (failed == 0) return 0;
    for (const auto& [name, st] : rec.endpoints())
      if (st.dirty)
        std::cerr << "bulkheadd: endpoint " << name << " (" << st.desired.netns
                  << ") not enforced: " << st.last_error << "\n";
    return 1;
  }

  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&mask, sig);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  Fd sigfd(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  Fd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  itimerspec its{{opts.resync_interval_s, 0}, {opts.resync_interval_s, 0}};
  ::timerfd_settime(timer.get(), 0, &its, nullptr);

  std::vector<std::string> watched = opts.policies;
  for (const auto& s : opts.sources) watched.push_back(s.path);
  FileWatch watch(watched);
  log::info("bulkheadd running", {{"endpoints", std::to_string(endpoints->size())}});

  for (;;) {
    int timeout_ms = -1;
    if (auto t = rec.next_retry()) {
      auto d = std::chrono::duration_cast<std::chrono::milliseconds>(*t - Clock::now()).count();
      timeout_ms = static_cast<int>(std::max<long>(0, d));
    }
    pollfd fds[3] = {{sigfd.get(), POLLIN, 0}, {timer.get(), POLLIN, 0}, {watch.fd(), POLLIN, 0}};
    if (::poll(fds, 3, timeout_ms) < 0 && errno != EINTR) {
      log::error("poll failed", {{"error", std::strerror(errno)}});
      return 1;
    }
    bool reload = false;
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo si;
      while (::read(sigfd.get(), &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
          reload = true;
        } else {
          log::info("bulkheadd stopping; enforcement stays in place",
                    {{"signal", strsignal(static_cast<int>(si.ssi_signo))}});
          return 0;
        }
      }
    }
    if (fds[2].revents & POLLIN) {
      // Editors write in several steps; let them finish so one reload sees the final text.
      ::usleep(50 * 1000);
      reload = watch.drain() || reload;
      watch.drain();
    }
    if (reload) {
      auto p = load_policy_set(opts);
      auto e = load_endpoints(opts);
      if (!p || !e) {
        log::error("reload failed; the running enforcement is kept as it was");
      } else {
        policies = std::move(p);
        endpoints = std::move(e);
        rec.set_desired(policy::compile(*policies, *endpoints));
        log::info("reloaded", {{"endpoints", std::to_string(endpoints->size())}});
      }
    }
    if (fds[1].revents & POLLIN) {
      uint64_t ticks;
      (void)!::read(timer.get(), &ticks, sizeof(ticks));
      for (const auto& name : rec.check_drift())
        log::warn("drift detected; repairing", {{"endpoint", name}});
    }
    if (rec.has_due_work(Clock::now())) apply(rec);
  }
}

}  // namespace bulkhead::daemon
