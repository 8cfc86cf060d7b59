// bulkheadd: the node daemon. Thin main over enforcer/daemon.
#include <signal.h>

#include <iostream>

#include "enforcer/daemon.h"
#include "enforcer/log.h"
#include "netlink/dataplane.h"

int main(int argc, char** argv) {
  bool help = false;
  auto opts = bulkhead::daemon::parse_options(argc, argv, &help);
  if (!opts) return help ? 0 : 2;
  if (!bulkhead::log::setup(opts->log_level, opts->log_format)) {
    std::cerr << "bulkheadd: bad --log-level or --log-format\n";
    return 2;
  }
  if (!opts->once) {
    sigset_t mask = bulkhead::daemon::handled_signals();
    pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  }
  try {
    auto dataplane = bulkhead::netlink::make_kernel_dataplane();
    bulkhead::daemon::Daemon daemon(*opts, *dataplane);
    return daemon.run();
  } catch (const std::exception& e) {
    std::cerr << "bulkheadd: internal error: " << e.what() << "\n";
    return 1;
  }
}
