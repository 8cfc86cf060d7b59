// The host layer's two tables (policy/plan/host.h) in the namespace that holds the host ends of
// the endpoints' veths.
#pragma once

#include <optional>

#include "common/result.h"
#include "netlink/nft/apply.h"
#include "netlink/nft/mnl_socket.h"
#include "policy/plan/host.h"

namespace bulkhead::netlink {

struct HostChange {
  NftChange policy = NftChange::none;
  NftChange antispoof = NftChange::none;
};

// Brings both tables from `current` (what this socket last committed; nullopt when unknown, as
// after a restart or a failure) to `desired` in one transaction: set elements only when a
// table's shape is unchanged (an endpoint's addresses or a peer group's members moved), else the
// table replaced whole, or removed when the plan has none. The kernel holds the old pair or the
// new pair, never one of each.
Result<HostChange> commit_host_tables(MnlSocket& sock,
                                      const std::optional<policy::HostPlan>& current,
                                      const policy::HostPlan& desired);

// Removes both tables; absent ones are fine.
Status delete_host_tables(MnlSocket& sock);

}  // namespace bulkhead::netlink
