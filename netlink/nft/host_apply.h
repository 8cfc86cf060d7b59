// The host layer's two tables (policy/plan/host.h) in the namespace that holds the host ends of
// the endpoints' veths.
#pragma once

#include "common/result.h"
#include "netlink/nft/mnl_socket.h"
#include "policy/plan/host.h"

namespace bulkhead::netlink {

// Both tables in one transaction: each replaced whole (or removed when the plan has none), so
// the kernel holds the old pair or the new pair, never one of each.
Status replace_host_tables(MnlSocket& sock, const policy::HostPlan& plan);

// Removes both tables; absent ones are fine.
Status delete_host_tables(MnlSocket& sock);

}  // namespace bulkhead::netlink
