// The flow log's aggregator: identical flows in one window become one record with a count, and
// memory stays bounded by the key cap and the ring of recent records.
#include "enforcer/daemon/flow_log.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <chrono>

#include "tests/support/policy_builders.h"

namespace bulkhead::daemon {
namespace {

namespace pt = policy::testing;

FlowRecord packet(const char* src, uint16_t port, const char* verdict = "denied") {
  FlowRecord r;
  r.endpoint = "b";
  r.direction = "ingress";
  r.verdict = verdict;
  r.src = pt::ip(src);
  r.dst = pt::ip("198.18.0.2");
  r.proto = IPPROTO_TCP;
  r.port = port;
  r.count = 1;
  r.first = r.last = std::chrono::system_clock::now();
  return r;
}

TEST(FlowAggregator, IdenticalFlowsInOneWindowBecomeOneRecordWithACount) {
  using namespace std::chrono_literals;
  FlowAggregator agg({5000ms, 100, 10});
  const auto t0 = FlowAggregator::Clock::now();
  EXPECT_TRUE(agg.add(packet("198.18.0.1", 80), t0));
  EXPECT_TRUE(agg.add(packet("198.18.0.1", 80), t0 + 1s));
  EXPECT_TRUE(agg.add(packet("198.18.0.1", 80, "would-deny"), t0 + 1s));
  EXPECT_TRUE(agg.add(packet("198.18.0.1", 81), t0 + 2s));
  EXPECT_TRUE(agg.expire(t0 + 4999ms).empty());
  EXPECT_EQ(agg.next_deadline(), t0 + 5s);
  auto done = agg.expire(t0 + 6s);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].count, 2u);
  EXPECT_EQ(done[0].verdict, "denied");
  EXPECT_EQ(done[1].count, 1u);
  EXPECT_EQ(done[1].verdict, "would-deny");
  auto snap = agg.snapshot();
  ASSERT_EQ(snap.size(), 3u);
  EXPECT_TRUE(snap[2].open);
  EXPECT_EQ(snap[2].port, 81);
  // A packet after the window opens a new record.
  EXPECT_TRUE(agg.add(packet("198.18.0.1", 80), t0 + 6s));
  EXPECT_EQ(agg.open_windows(), 2u);
}

TEST(FlowAggregator, MemoryIsBoundedByTheKeyCapAndTheRecentRing) {
  using namespace std::chrono_literals;
  FlowAggregator agg({1000ms, 50, 20});
  const auto t0 = FlowAggregator::Clock::now();
  int accepted = 0;
  for (int i = 0; i < 1000; ++i) accepted += agg.add(packet("198.18.0.1", 1000 + i), t0);
  EXPECT_EQ(accepted, 50);
  EXPECT_EQ(agg.open_windows(), 50u);
  EXPECT_EQ(agg.take_overflow(), 950u);
  EXPECT_EQ(agg.take_overflow(), 0u);
  EXPECT_EQ(agg.expire(t0 + 2s).size(), 50u);
  EXPECT_EQ(agg.snapshot().size(), 20u);  // the newest 20 closed records
  EXPECT_EQ(agg.snapshot().back().port, 1049);
}

}  // namespace
}  // namespace bulkhead::daemon
