// Turns a policy::NftRule into the expressions the nft tool generates for the same text, so that
// `nft list` prints our rules exactly as render_nft writes them.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/result.h"
#include "netlink/nft/objects.h"
#include "policy/plan/plan.h"

namespace bulkhead::netlink {

// Values the built expressions carry, which the decoder (rule_decode.cc) reads back.
inline constexpr uint32_t kCtStateInvalid = 1;
inline constexpr uint32_t kCtStateEstablishedRelated =
    2 | 4;                                       // NF_CT_STATE_BIT(established|related)
inline constexpr uint32_t kLoopbackIfindex = 1;  // "lo" is ifindex 1 in every namespace

// Set name -> address family (4 or 6) of the sets in the same table.
using SetFamilies = std::map<std::string, int>;

// Builds rule `index` (0-based, for error labels) of `chain` in `table` (its family and name; its
// sets are in `sets`).
Result<RulePtr> build_rule(const policy::NftTable& table, const policy::NftChain& chain,
                           size_t index, const SetFamilies& sets);

}  // namespace bulkhead::netlink
