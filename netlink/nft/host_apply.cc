#include "netlink/nft/host_apply.h"

#include "netlink/nft/batch.h"
#include "netlink/nft/read.h"
#include "netlink/nft/table_build.h"

namespace bulkhead::netlink {
namespace {

const TableKey kHostPolicy{policy::TableFamily::inet, policy::kHostTableName};
const TableKey kHostAntispoof{policy::TableFamily::bridge, policy::kHostTableName};

// Appends what brings one table from `current` to `desired`; nullopt `current` replaces it.
Result<NftChange> append_table_change(NftBatch& batch, const TableKey& key,
                                      const std::optional<policy::NftTable>* current,
                                      const std::optional<policy::NftTable>& desired) {
  NftDelta delta;
  if (current) {
    std::optional<policy::NftTable> now;
    if (*current) now = kernel_form(**current);
    delta = plan_nft_delta(now, desired);
  } else {
    delta.change = desired ? NftChange::replaced : NftChange::deleted;
  }
  switch (delta.change) {
    case NftChange::none:
      break;
    case NftChange::deleted:
      append_delete_table(batch, key);
      break;
    case NftChange::replaced:
      if (auto st = append_replace_table(batch, kernel_form(*desired)); !st.ok()) return st.error();
      break;
    case NftChange::elements:
      for (const auto& e : delta.elements)
        if (auto st = append_element_changes(batch, key, e.set, e.remove, e.add); !st.ok())
          return st.error();
      break;
  }
  return delta.change;
}

}  // namespace

Result<HostChange> commit_host_tables(MnlSocket& sock,
                                      const std::optional<policy::HostPlan>& current,
                                      const policy::HostPlan& desired) {
  NftBatch batch(sock);
  HostChange change;
  auto spoof = append_table_change(batch, kHostAntispoof, current ? &current->antispoof : nullptr,
                                   desired.antispoof);
  if (!spoof.ok()) return spoof.error();
  auto pol =
      append_table_change(batch, kHostPolicy, current ? &current->policy : nullptr, desired.policy);
  if (!pol.ok()) return pol.error();
  change = {*pol, *spoof};
  if (change.policy == NftChange::none && change.antispoof == NftChange::none) return change;
  if (auto st = batch.commit(); !st.ok()) return st.error();
  return change;
}

Status delete_host_tables(MnlSocket& sock) {
  auto done = commit_host_tables(sock, std::nullopt, {});
  if (!done.ok()) return done.error();
  return {};
}

}  // namespace bulkhead::netlink
