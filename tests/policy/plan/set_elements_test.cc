// SetElements is a value to its users (content comparisons, writes never seen through a copy)
// while tables holding the same set share one list.
#include "policy/plan/set_elements.h"

#include <gtest/gtest.h>

#include "tests/support/plan_builders.h"

namespace bulkhead::policy {
namespace {

using bulkhead::testing::host;

TEST(SetElements, CopiesShareOneListUntilOneIsWritten) {
  SetElements a{host("198.18.0.1"), host("198.18.0.2")};
  SetElements b = a;
  EXPECT_EQ(&a.list(), &b.list());
  b.push_back(host("198.18.0.3"));
  EXPECT_NE(&a.list(), &b.list());
  EXPECT_EQ(a.size(), 2u);
  EXPECT_EQ(b.size(), 3u);
  EXPECT_EQ(b[2], host("198.18.0.3"));
}

TEST(SetElements, AnUnsharedListIsWrittenInPlace) {
  SetElements a{host("198.18.0.1")};
  const auto* before = &a.list();
  a.push_back(host("198.18.0.2"));
  EXPECT_EQ(&a.list(), before);
  EXPECT_EQ(a.size(), 2u);
}

TEST(SetElements, ComparesByContent) {
  const SetElements a{host("198.18.0.1"), host("198.18.0.2")};
  const SetElements same{host("198.18.0.1"), host("198.18.0.2")};
  const SetElements more{host("198.18.0.1"), host("198.18.0.3")};
  EXPECT_NE(&a.list(), &same.list());
  EXPECT_EQ(a, same);
  EXPECT_NE(a, more);
  EXPECT_LT(a, more);
  EXPECT_EQ(SetElements{}, SetElements(std::vector<AddrRange>{}));
  EXPECT_TRUE(SetElements{}.empty());
}

TEST(SetElements, ClearEmptiesOnlyItsOwnCopy) {
  SetElements a{host("198.18.0.1")};
  SetElements b = a;
  b.clear();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(a.size(), 1u);
}

}  // namespace
}  // namespace bulkhead::policy
