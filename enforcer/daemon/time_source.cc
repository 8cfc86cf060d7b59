#include "enforcer/daemon/time_source.h"

#include <thread>

namespace bulkhead::daemon {

void SystemTime::sleep_for(Clock::duration d) { std::this_thread::sleep_for(d); }

}  // namespace bulkhead::daemon
