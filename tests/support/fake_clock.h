// A TimeSource that moves only when told to (or when slept on): for tests of retries, backoff,
// timers and timestamps that must not wait.
#pragma once

#include "enforcer/daemon/time_source.h"

namespace bulkhead::testing {

class FakeClock final : public daemon::TimeSource {
 public:
  // Starts at a fixed wall time (2026-01-02T03:04:05Z) so that timestamps are known exactly.
  daemon::Clock::time_point now() const override { return steady_; }
  daemon::WallClock::time_point wall_now() const override { return wall_; }
  void sleep_for(daemon::Clock::duration d) override { advance(d); }

  void advance(daemon::Clock::duration d) {
    steady_ += d;
    wall_ += std::chrono::duration_cast<daemon::WallClock::duration>(d);
  }

 private:
  daemon::Clock::time_point steady_{std::chrono::hours(1000)};
  daemon::WallClock::time_point wall_{std::chrono::seconds(1767323045)};
};

}  // namespace bulkhead::testing
