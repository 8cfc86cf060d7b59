// The daemon's clocks behind one interface, so that tests drive its timers, retries and
// timestamps without waiting: the monotonic clock for deadlines and durations, the wall clock for
// the times that status and the log show, and sleeping. SystemTime is the real thing.
#pragma once

#include <chrono>

namespace bulkhead::daemon {

using Clock = std::chrono::steady_clock;
using WallClock = std::chrono::system_clock;

class TimeSource {
 public:
  virtual ~TimeSource() = default;
  virtual Clock::time_point now() const = 0;
  virtual WallClock::time_point wall_now() const = 0;
  virtual void sleep_for(Clock::duration d) = 0;
};

class SystemTime final : public TimeSource {
 public:
  Clock::time_point now() const override { return Clock::now(); }
  WallClock::time_point wall_now() const override { return WallClock::now(); }
  void sleep_for(Clock::duration d) override;
};

}  // namespace bulkhead::daemon
