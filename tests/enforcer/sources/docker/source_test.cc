// DockerSource without an engine: an unreachable socket is an error in the snapshot, named, and
// stop() returns at once.
#include "enforcer/sources/docker/source.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace bulkhead::daemon {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(DockerSourceTest, UnreachableEngineIsAnErrorAndStopIsPrompt) {
  DockerSource::Options o;
  o.socket_path = "/nonexistent-bulkhead-test/docker.sock";
  DockerSource source(o);
  std::atomic<int> changes{0};
  ASSERT_TRUE(source.start([&] { ++changes; }).ok());
  EXPECT_FALSE(source.start([] {}).ok()) << "a second start must be refused";
  auto t0 = Clock::now();
  while (source.snapshot().error.empty() && Clock::now() - t0 < 5s) {
    std::this_thread::sleep_for(5ms);
  }
  Snapshot s = source.snapshot();
  EXPECT_FALSE(s.ready);
  EXPECT_NE(s.error.find("/nonexistent-bulkhead-test/docker.sock"), std::string::npos) << s.error;
  // The source publishes the error first, then logs it and calls back: the callback may still be
  // on its way (seen under the sanitizers).
  while (changes.load() == 0 && Clock::now() - t0 < 5s) std::this_thread::sleep_for(5ms);
  EXPECT_GT(changes.load(), 0);
  auto t1 = Clock::now();
  source.stop();
  EXPECT_LT(Clock::now() - t1, 500ms);
}

}  // namespace
}  // namespace bulkhead::daemon
