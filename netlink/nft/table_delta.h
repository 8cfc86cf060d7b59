// The smallest change between two forms of a table whose base chains stay the same: the sets,
// verdict maps and regular chains that came, went or changed, each touched alone. The host
// layer's tables are made so (policy/plan/host.h): an endpoint arriving adds its chains, sets
// and map elements and leaves every other endpoint's objects, and their counters, as they are.
#pragma once

#include <optional>

#include "netlink/nft/apply.h"
#include "netlink/nft/batch.h"
#include "netlink/nft/table_build.h"
#include "policy/plan/plan.h"

namespace bulkhead::netlink {

// Appends the change from `current` to `desired` (both in kernel form, the same family and
// name). nullopt, with nothing appended, when it cannot be done object by object (a base chain
// differs, or a set or map of one name changed its type): the caller replaces the table then.
// Otherwise none, elements (set and map elements only) or objects.
Result<std::optional<NftChange>> append_object_delta(NftBatch& batch,
                                                     const policy::NftTable& current,
                                                     const policy::NftTable& desired);

}  // namespace bulkhead::netlink
