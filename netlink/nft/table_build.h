// The messages that put a policy::NftTable into the kernel, appended to one transaction.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "netlink/nft/batch.h"
#include "policy/plan/plan.h"

namespace bulkhead::netlink {

// add table (no-op when present), delete table, add table + sets + elements + chains + rules:
// the old table stays whole until the kernel commits the new one, and no moment exists without
// rules.
Status append_replace_table(NftBatch& batch, const policy::NftTable& table);

// Which table a message names: its family and name (inet bulkhead unless the plan says another).
struct TableKey {
  policy::TableFamily family = policy::TableFamily::inet;
  std::string name = policy::kTableName;
};
inline TableKey key_of(const policy::NftTable& t) { return {t.family, t.name}; }
uint16_t nfproto_of(policy::TableFamily family);
std::string table_ref(const TableKey& key);  // "inet bulkhead"

// A verdict map's messages: the map itself (empty), and element changes to it. A map's elements
// jump to chains, which must exist (earlier in the batch) when the elements are added.
Status append_map(NftBatch& batch, const TableKey& key, const policy::NftMap& map, uint32_t id);
Status append_map_elements(NftBatch& batch, const TableKey& key, const policy::NftMap& map,
                           const std::vector<policy::MapElement>& elements, bool add);

// The per-object messages, for a whole table and for a delta of one that exists
// (nft/table_delta.h). A regular chain (hook none) is added without type, hook or policy.
void append_add_set(NftBatch& batch, const TableKey& key, const policy::NftSet& set, uint32_t id);
void append_delete_set(NftBatch& batch, const TableKey& key, const std::string& name);
void append_add_chain(NftBatch& batch, const TableKey& key, const policy::NftChain& chain);
void append_flush_chain(NftBatch& batch, const TableKey& key, const std::string& chain);
void append_delete_chain(NftBatch& batch, const TableKey& key, const std::string& chain);
// Builds and appends every rule of `chain` (its sets' families from `table`).
Status append_rules(NftBatch& batch, const policy::NftTable& table, const policy::NftChain& chain);

// add table + delete table: removes the table whether it exists or not.
void append_delete_table(NftBatch& batch, const TableKey& key = {});

// Element changes to an existing set. `remove` must hold ranges exactly as they are in the kernel.
Status append_element_changes(NftBatch& batch, const TableKey& key, const policy::NftSet& set,
                              const std::vector<policy::AddrRange>& remove,
                              const std::vector<policy::AddrRange>& add);

}  // namespace bulkhead::netlink
