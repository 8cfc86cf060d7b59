// Reads a kernel rule back into a policy::NftRule. Rules that bulkhead did not write decode to an
// allow rule whose comment says so, so they never compare equal to a desired rule.
#pragma once

#include <libnftnl/rule.h>

#include <vector>

#include "policy/plan/plan.h"

namespace bulkhead::netlink {

// `hook` is the chain's: ingress rules match source addresses and iif, egress ones destination
// addresses and oif.
policy::NftRule decode_rule(const nftnl_rule* rule, policy::Hook hook);

// `counter accept` reads the same as an allow rule that matches everything. Directly after a log
// rule it can only be an audit chain's final accept (bulkhead never writes an allow rule there),
// so such rules of one chain, in kernel order, are re-labelled.
void recognise_final_accepts(std::vector<policy::NftRule>& rules);

}  // namespace bulkhead::netlink
