// The addresses a namespace holds, for endpoints whose inventory entry names none.
#pragma once

#include <vector>

#include "common/result.h"
#include "netlink/ns/netns.h"
#include "policy/model/address.h"

namespace bulkhead::netlink {

// Every global-scope address on the namespace's interfaces (loopback and link-local excluded),
// IPv4 first, each family sorted.
Result<std::vector<policy::IpAddr>> read_addresses(const NetnsHandle& ns);

}  // namespace bulkhead::netlink
