// The quarantine table: what bulkhead-hook installs in a starting container's namespace when
// bulkheadd cannot answer in time (docs/security.md). It is the same `inet bulkhead` table the
// daemon owns, so the daemon's atomic replace takes over from it without a gap.
#pragma once

#include "policy/plan/plan.h"

namespace bulkhead::policy {

// Marks the final drop rule of each quarantine chain; how the daemon tells a quarantine table
// from its own compiled one after a restart (HOOK-PROTOCOL.md).
inline constexpr const char* kQuarantineComment = "bulkhead quarantine";

// Both directions isolated: loopback accepted, everything else dropped and counted. No
// established/related accept: nothing the container may answer exists yet, and a quarantined
// container must not talk at all until the daemon decides.
NftTable quarantine_table();

// Whether `table` (e.g. read back from a namespace) is a quarantine table: every chain ends in a
// final drop carrying kQuarantineComment.
bool is_quarantine_table(const NftTable& table);

}  // namespace bulkhead::policy
