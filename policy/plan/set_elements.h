// The elements of one nftables set, shared by every table that holds the same set. At 1,000
// endpoints a peer group's addresses appear in hundreds of tables; one copy per table was most of
// the daemon's heap, and since a membership change replaces every table that names the group,
// most of its churn too (the soak's resident size grew with the holes it left).
// A value to its users: comparisons are by content, and a write copies first while shared.
#pragma once

#include <compare>
#include <initializer_list>
#include <memory>
#include <vector>

#include "policy/model/address.h"

namespace bulkhead::policy {

class SetElements {
 public:
  using List = std::vector<AddrRange>;
  using value_type = AddrRange;
  using const_iterator = List::const_iterator;

  SetElements() = default;
  SetElements(List list)  // NOLINT(google-explicit-constructor): a list is a set's elements
      : list_(list.empty() ? nullptr : std::make_shared<List>(std::move(list))) {}
  SetElements(std::initializer_list<AddrRange> list) : SetElements(List(list)) {}

  const List& list() const { return list_ ? *list_ : empty_list(); }
  size_t size() const { return list().size(); }
  bool empty() const { return list().empty(); }
  const_iterator begin() const { return list().begin(); }
  const_iterator end() const { return list().end(); }
  const AddrRange& operator[](size_t i) const { return list()[i]; }

  void push_back(const AddrRange& r) {
    if (!list_) {
      list_ = std::make_shared<List>();
    } else if (list_.use_count() > 1) {
      list_ = std::make_shared<List>(*list_);
    }
    list_->push_back(r);
  }
  void clear() { list_.reset(); }

  bool operator==(const SetElements& o) const { return list_ == o.list_ || list() == o.list(); }
  std::strong_ordering operator<=>(const SetElements& o) const {
    if (list_ == o.list_) return std::strong_ordering::equal;
    return list() <=> o.list();
  }

 private:
  static const List& empty_list() {
    static const List empty;
    return empty;
  }
  // Never written while shared (push_back copies first), so copies see a constant list.
  std::shared_ptr<List> list_;  // null: no elements
};

}  // namespace bulkhead::policy
