#include "netlink/nft/table_delta.h"

#include <algorithm>
#include <iterator>
#include <map>

namespace bulkhead::netlink {
namespace {

using policy::AddrRange;
using policy::MapElement;
using policy::NftChain;
using policy::NftMap;
using policy::NftSet;
using policy::NftTable;

template <class T>
std::map<std::string, const T*> by_name(const std::vector<T>& v) {
  std::map<std::string, const T*> out;
  for (const auto& x : v) out.emplace(x.name, &x);
  return out;
}

template <class T>
std::vector<T> minus(const std::vector<T>& a, const std::vector<T>& b) {
  std::vector<T> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

bool base(const NftChain& c) { return c.hook != policy::Hook::none; }

// Whether the two tables differ only where objects can be changed one by one.
bool deltable(const NftTable& cur, const NftTable& want) {
  std::vector<NftChain> a, b;
  std::copy_if(cur.chains.begin(), cur.chains.end(), std::back_inserter(a), base);
  std::copy_if(want.chains.begin(), want.chains.end(), std::back_inserter(b), base);
  if (a != b) return false;
  auto sets = by_name(cur.sets);
  for (const auto& s : want.sets) {
    auto it = sets.find(s.name);
    if (it != sets.end() && (it->second->family != s.family || it->second->interval != s.interval))
      return false;
  }
  auto maps = by_name(cur.maps);
  for (const auto& m : want.maps) {
    auto it = maps.find(m.name);
    if (it != maps.end() && it->second->key != m.key) return false;
  }
  return true;
}

}  // namespace

Result<std::optional<NftChange>> append_object_delta(NftBatch& batch, const NftTable& cur,
                                                     const NftTable& want) {
  if (!deltable(cur, want)) return std::optional<NftChange>();
  const TableKey key = key_of(want);
  const auto cur_sets = by_name(cur.sets), want_sets = by_name(want.sets);
  const auto cur_maps = by_name(cur.maps), want_maps = by_name(want.maps);
  const auto cur_chains = by_name(cur.chains), want_chains = by_name(want.chains);
  bool objects = false, elements = false;
  uint32_t id = 1;

  // 1. New sets with their elements, 2. new chains (empty): what rules and map elements name.
  for (const auto& s : want.sets) {
    if (cur_sets.count(s.name)) continue;
    append_add_set(batch, key, s, id++);
    if (auto st = append_element_changes(batch, key, s, {}, s.elements.list()); !st.ok())
      return st.error();
    objects = true;
  }
  for (const auto& c : want.chains) {
    if (cur_chains.count(c.name)) continue;
    append_add_chain(batch, key, c);
    objects = true;
  }
  // 3. Rules of new chains, and of changed ones after a flush.
  for (const auto& c : want.chains) {
    auto it = cur_chains.find(c.name);
    if (it != cur_chains.end() && *it->second == c) continue;
    if (it != cur_chains.end()) append_flush_chain(batch, key, c.name);
    if (auto st = append_rules(batch, want, c); !st.ok()) return st.error();
    objects = true;
  }
  // 4. Elements of the sets and maps both have; new maps.
  for (const auto& s : want.sets) {
    auto it = cur_sets.find(s.name);
    if (it == cur_sets.end()) continue;
    auto remove = minus(it->second->elements.list(), s.elements.list());
    auto add = minus(s.elements.list(), it->second->elements.list());
    if (remove.empty() && add.empty()) continue;
    if (auto st = append_element_changes(batch, key, s, remove, add); !st.ok()) return st.error();
    elements = true;
  }
  for (const auto& m : want.maps) {
    auto it = cur_maps.find(m.name);
    if (it == cur_maps.end()) {
      if (auto st = append_map(batch, key, m, id++); !st.ok()) return st.error();
      if (auto st = append_map_elements(batch, key, m, m.elements, true); !st.ok())
        return st.error();
      objects = true;
      continue;
    }
    auto remove = minus(it->second->elements, m.elements);
    auto add = minus(m.elements, it->second->elements);
    if (remove.empty() && add.empty()) continue;
    if (auto st = append_map_elements(batch, key, m, remove, false); !st.ok()) return st.error();
    if (auto st = append_map_elements(batch, key, m, add, true); !st.ok()) return st.error();
    elements = true;
  }
  // 5. What went: chains emptied, maps that jumped to them, the chains, then their sets.
  for (const auto& c : cur.chains) {
    if (want_chains.count(c.name)) continue;
    append_flush_chain(batch, key, c.name);
    objects = true;
  }
  for (const auto& m : cur.maps) {
    if (want_maps.count(m.name)) continue;
    append_delete_set(batch, key, m.name);
    objects = true;
  }
  for (const auto& c : cur.chains)
    if (!want_chains.count(c.name)) append_delete_chain(batch, key, c.name);
  for (const auto& s : cur.sets) {
    if (want_sets.count(s.name)) continue;
    append_delete_set(batch, key, s.name);
    objects = true;
  }

  if (objects) return std::optional<NftChange>(NftChange::objects);
  return std::optional<NftChange>(elements ? NftChange::elements : NftChange::none);
}

}  // namespace bulkhead::netlink
