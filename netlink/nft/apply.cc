#include "netlink/nft/apply.h"

#include <algorithm>
#include <iterator>

#include "netlink/nft/batch.h"
#include "netlink/nft/read.h"
#include "netlink/nft/table_build.h"

namespace bulkhead::netlink {
namespace {

bool same_shape(const policy::NftTable& a, const policy::NftTable& b) {
  if (a.chains != b.chains || a.sets.size() != b.sets.size()) return false;
  for (size_t i = 0; i < a.sets.size(); ++i) {
    const auto& x = a.sets[i];
    const auto& y = b.sets[i];
    if (x.name != y.name || x.family != y.family || x.interval != y.interval) return false;
  }
  return true;
}

std::vector<policy::AddrRange> minus(const std::vector<policy::AddrRange>& a,
                                     const std::vector<policy::AddrRange>& b) {
  std::vector<policy::AddrRange> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

}  // namespace

const char* to_string(NftChange c) {
  switch (c) {
    case NftChange::none:
      return "none";
    case NftChange::elements:
      return "elements";
    case NftChange::replaced:
      return "replaced";
    case NftChange::objects:
      return "objects";
    case NftChange::deleted:
      return "deleted";
  }
  return "?";
}

NftDelta plan_nft_delta(const std::optional<policy::NftTable>& current,
                        const std::optional<policy::NftTable>& desired) {
  NftDelta d;
  if (!desired) {
    d.change = current ? NftChange::deleted : NftChange::none;
    return d;
  }
  policy::NftTable want = kernel_form(*desired);
  if (!current || !same_shape(*current, want)) {
    d.change = NftChange::replaced;
    return d;
  }
  for (size_t i = 0; i < want.sets.size(); ++i) {
    // Both sides are sorted and normalized, so whole ranges can be compared.
    ElementDelta e;
    e.set = want.sets[i];
    e.set.elements.clear();
    e.remove = minus(current->sets[i].elements.list(), want.sets[i].elements.list());
    e.add = minus(want.sets[i].elements.list(), current->sets[i].elements.list());
    if (!e.remove.empty() || !e.add.empty()) d.elements.push_back(std::move(e));
  }
  d.change = d.elements.empty() ? NftChange::none : NftChange::elements;
  return d;
}

Status commit_nft_delta(MnlSocket& sock, const NftDelta& delta,
                        const std::optional<policy::NftTable>& desired) {
  switch (delta.change) {
    case NftChange::none:
    case NftChange::objects:  // never planned by plan_nft_delta
      return {};
    case NftChange::deleted:
      return delete_table(sock);
    case NftChange::replaced:
      if (!desired) return make_error("nft replace", "no desired table", EINVAL);
      return replace_table(sock, kernel_form(*desired));
    case NftChange::elements: {
      if (!desired) return make_error("nft elements", "no desired table", EINVAL);
      NftBatch batch(sock);
      for (const auto& e : delta.elements) {
        if (auto st = append_element_changes(batch, key_of(*desired), e.set, e.remove, e.add);
            !st.ok())
          return st;
      }
      return batch.commit();
    }
  }
  return {};
}

Result<NftChange> apply_table(MnlSocket& sock, const std::optional<policy::NftTable>& desired) {
  auto current = read_table(sock);
  if (!current.ok()) return current.error();
  NftDelta delta = plan_nft_delta(*current, desired);
  if (auto st = commit_nft_delta(sock, delta, desired); !st.ok()) return st.error();
  return delta.change;
}

Status replace_table(MnlSocket& sock, const policy::NftTable& table) {
  NftBatch batch(sock);
  if (auto st = append_replace_table(batch, table); !st.ok()) return st;
  return batch.commit();
}

Status delete_table(MnlSocket& sock, const TableKey& key) {
  NftBatch batch(sock);
  append_delete_table(batch, key);
  return batch.commit();
}

}  // namespace bulkhead::netlink
