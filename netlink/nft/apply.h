// Bringing a namespace's `inet bulkhead` table to the desired state with the smallest change,
// always in one transaction.
#pragma once

#include <optional>
#include <vector>

#include "common/result.h"
#include "netlink/nft/mnl_socket.h"
#include "netlink/nft/table_build.h"
#include "policy/plan/plan.h"

namespace bulkhead::netlink {

enum class NftChange {
  none,      // already as desired
  elements,  // only set elements changed; rules and their counters stay
  replaced,  // the whole table was replaced atomically (rule counters restart)
  objects,   // some sets, maps or chains came, went or changed; the others stay as they were
  deleted,   // the table was removed
};
const char* to_string(NftChange c);

struct ElementDelta {
  policy::NftSet set;  // the set as desired (elements unused)
  std::vector<policy::AddrRange> remove;
  std::vector<policy::AddrRange> add;
};

struct NftDelta {
  NftChange change = NftChange::none;
  std::vector<ElementDelta> elements;  // when change == elements
};

// Pure. `current` is what read_table returned; `desired` nullopt means no table may exist.
// Element-only when every set has the same name, family and interval flag and the chains are
// equal; otherwise a whole replace.
NftDelta plan_nft_delta(const std::optional<policy::NftTable>& current,
                        const std::optional<policy::NftTable>& desired);

// Commits `delta` (computed against the kernel's current state) in one transaction.
Status commit_nft_delta(MnlSocket& sock, const NftDelta& delta,
                        const std::optional<policy::NftTable>& desired);

// read_table + plan_nft_delta + commit_nft_delta.
Result<NftChange> apply_table(MnlSocket& sock, const std::optional<policy::NftTable>& desired);

// Unconditional atomic replace / removal (absent table is fine).
Status replace_table(MnlSocket& sock, const policy::NftTable& table);
Status delete_table(MnlSocket& sock, const TableKey& key = {});

}  // namespace bulkhead::netlink
