// bulkheadd: the node daemon. Thin main over enforcer/daemon.
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
  try {
    auto dataplane = bulkhead::netlink::make_kernel_dataplane();
    return bulkhead::daemon::run(*opts, *dataplane);
  } catch (const std::exception& e) {
    std::cerr << "bulkheadd: internal error: " << e.what() << "\n";
    return 1;
  }
}
