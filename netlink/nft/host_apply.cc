#include "netlink/nft/host_apply.h"

#include "netlink/nft/batch.h"
#include "netlink/nft/table_build.h"

namespace bulkhead::netlink {
namespace {

const TableKey kHostPolicy{policy::TableFamily::inet, policy::kHostTableName};
const TableKey kHostAntispoof{policy::TableFamily::bridge, policy::kHostTableName};

Status append_table_or_delete(NftBatch& batch, const TableKey& key,
                              const std::optional<policy::NftTable>& table) {
  if (!table) {
    append_delete_table(batch, key);
    return {};
  }
  return append_replace_table(batch, *table);
}

}  // namespace

Status replace_host_tables(MnlSocket& sock, const policy::HostPlan& plan) {
  NftBatch batch(sock);
  if (auto st = append_table_or_delete(batch, kHostAntispoof, plan.antispoof); !st.ok()) return st;
  if (auto st = append_table_or_delete(batch, kHostPolicy, plan.policy); !st.ok()) return st;
  return batch.commit();
}

Status delete_host_tables(MnlSocket& sock) { return replace_host_tables(sock, {}); }

}  // namespace bulkhead::netlink
