// Reads a kernel rule back into a policy::NftRule. Rules that bulkhead did not write decode to an
// allow rule whose comment says so, so they never compare equal to a desired rule.
#pragma once

#include <libnftnl/rule.h>

#include "policy/plan.h"

namespace bulkhead::netlink {

// `hook` is the chain's: ingress rules match source addresses and iif, egress ones destination
// addresses and oif.
policy::NftRule decode_rule(const nftnl_rule* rule, policy::Hook hook);

}  // namespace bulkhead::netlink
