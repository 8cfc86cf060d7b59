// Reading the `inet bulkhead` table back from the kernel, recognised by name alone.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "common/result.h"
#include "netlink/nft/mnl_socket.h"
#include "netlink/nft/table_build.h"
#include "policy/plan/plan.h"

namespace bulkhead::netlink {

// nullopt when the namespace has no `inet bulkhead` table. Sets are sorted by name, chains put
// ingress (hook input) before egress, rules keep kernel order and carry their counters.
Result<std::optional<policy::NftTable>> read_table(MnlSocket& sock);

// The form in which a table reads back from the kernel: rule family taken from the peer set (and
// 0 where ICMP / ICMPv6 without a set implies it),
// single ports as [p, p], ports dropped where the protocol has none, set elements normalized.
// Drift detection is `read_table(...) == kernel_form(desired)`.
policy::NftTable kernel_form(const policy::NftTable& desired);

// What the counted drops of each chain of table `key` saw: its final drop, and its `ct state
// invalid` drop. Empty when the table does not exist.
struct ChainDrops {
  uint64_t dropped = 0;
  uint64_t invalid = 0;
};
Result<std::map<std::string, ChainDrops>> read_drop_counters(MnlSocket& sock, const TableKey& key);

}  // namespace bulkhead::netlink
