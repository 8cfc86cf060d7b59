// bulkheadd: the node daemon. Thin main over enforcer/daemon.
#include <signal.h>
#include <sys/resource.h>

#include <iostream>

#include "enforcer/daemon/daemon.h"
#include "enforcer/daemon/privileges.h"
#include "enforcer/log/log.h"
#include "netlink/dataplane.h"

int main(int argc, char** argv) {
  bool help = false;
  auto opts = bulkhead::daemon::parse_options(argc, argv, &help);
  if (!opts) return help ? 0 : 2;
  // About 7 fds per enforced namespace (namespace, netlink sockets, change monitors): the common
  // soft limit of 1,024 would fail applies with EMFILE near 140 endpoints. The hard limit is ours
  // to take without privilege.
  if (rlimit nofile{};
      ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    // An unlimited hard limit is not a valid soft one for files (the kernel caps at nr_open).
    nofile.rlim_cur = nofile.rlim_max == RLIM_INFINITY ? 1048576 : nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  if (!bulkhead::log::setup(opts->log_level, opts->log_format)) {
    std::cerr << "bulkheadd: bad --log-level or --log-format\n";
    return 2;
  }
  if (!opts->status_group.empty()) {
    auto gid = bulkhead::daemon::resolve_group(opts->status_group);
    if (!gid.ok()) {
      std::cerr << "bulkheadd: " << gid.error().to_string() << "\n";
      return 2;
    }
    opts->status_gid = *gid;
    if (auto st = bulkhead::daemon::join_group(*gid); !st.ok()) {
      std::cerr << "bulkheadd: " << st.error().to_string() << "\n";
      return 1;
    }
  }
  // Before any thread exists: capabilities are per thread, and every later one inherits these.
  const auto keep = bulkhead::daemon::needed_capabilities(*opts);
  if (auto st = bulkhead::daemon::drop_capabilities(keep); !st.ok()) {
    std::cerr << "bulkheadd: " << st.error().to_string() << "\n";
    return 1;
  }
  bulkhead::log::debug("capabilities reduced",
                       {{"kept", bulkhead::daemon::capability_names(keep)}});
  if (!opts->once) {
    sigset_t mask = bulkhead::daemon::handled_signals();
    pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  }
  try {
    auto dataplane = bulkhead::netlink::make_kernel_dataplane();
    bulkhead::daemon::ProductionSources sources;
    bulkhead::daemon::SystemTime time;
    bulkhead::daemon::Daemon daemon(*opts, *dataplane, sources, time);
    return daemon.run();
  } catch (const std::exception& e) {
    std::cerr << "bulkheadd: internal error: " << e.what() << "\n";
    return 1;
  }
}
