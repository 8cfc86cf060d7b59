#include "netlink/nft/host_apply.h"

#include "netlink/nft/batch.h"
#include "netlink/nft/read.h"
#include "netlink/nft/table_build.h"
#include "netlink/nft/table_delta.h"

namespace bulkhead::netlink {
namespace {

const TableKey kHostPolicy{policy::TableFamily::inet, policy::kHostTableName};
const TableKey kHostAntispoof{policy::TableFamily::bridge, policy::kHostTableName};

// Appends what brings one table from `current` to `desired`; nullopt `current` replaces it.
Result<NftChange> append_table_change(NftBatch& batch, const TableKey& key,
                                      const std::optional<policy::NftTable>* current,
                                      const std::optional<policy::NftTable>& desired) {
  if (!desired) {
    if (current && !*current) return NftChange::none;
    append_delete_table(batch, key);
    return NftChange::deleted;
  }
  const policy::NftTable want = kernel_form(*desired);
  if (current && *current) {
    auto delta = append_object_delta(batch, kernel_form(**current), want);
    if (!delta.ok()) return delta.error();
    if (*delta) return **delta;
  }
  if (auto st = append_replace_table(batch, want); !st.ok()) return st.error();
  return NftChange::replaced;
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
