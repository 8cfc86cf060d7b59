// bulkheadd's main loop: load policies and endpoints, compile, reconcile; in long-running mode
// react to file changes, SIGHUP and the resync timer; exit cleanly on SIGTERM/SIGINT, leaving
// enforcement in place.
#pragma once

#include "enforcer/daemon_options.h"
#include "netlink/dataplane.h"

namespace bulkhead::daemon {

// Returns the process exit code.
int run(const Options& opts, netlink::Dataplane& dataplane);

}  // namespace bulkhead::daemon
