// Least privilege for bulkheadd: after parsing its options and before any thread starts, the
// daemon keeps only the capabilities it needs and removes every other one from its effective,
// permitted, inheritable, ambient and bounding sets (docs/security.md, Least privilege).
// Capabilities are per thread, which is why this runs before the first thread exists: every
// thread the daemon starts later inherits the reduced sets.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/result.h"
#include "enforcer/daemon/options.h"

namespace bulkhead::daemon {

// What the daemon keeps and why (documented in docs/security.md):
//   CAP_NET_ADMIN   program nftables and tc, create the ifb, size netlink socket buffers
//   CAP_SYS_ADMIN   setns() into an endpoint's network namespace
//   CAP_SYS_PTRACE  open /proc/PID/ns/net of container processes whose capabilities are not a
//                   subset of the daemon's (every Docker container)
// plus CAP_NET_BIND_SERVICE only when the metrics port is below 1024.
std::vector<int> needed_capabilities(const Options& opts);

// Reduces the calling thread's (and so every later thread's) capabilities to `keep`, and sets
// no_new_privs. A process that does not hold some of `keep` keeps the ones it holds; one that
// holds none (not root) is left as it is.
Status drop_capabilities(const std::vector<int>& keep);

// The gid of --status-group NAME (a name or a number).
Result<gid_t> resolve_group(const std::string& name);
// Adds `gid` to the process's supplementary groups, so that the status socket can be given that
// group without CAP_CHOWN. Needs CAP_SETGID, so it runs before drop_capabilities().
Status join_group(gid_t gid);

// "cap_net_admin,cap_sys_admin,..." for logs.
std::string capability_names(const std::vector<int>& caps);

}  // namespace bulkhead::daemon
