// Structured logging over spdlog: a message plus key/value fields, printed as
// `message key=value ...` (text) or as one JSON object per line (json).
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bulkhead::log {

using Fields = std::vector<std::pair<std::string, std::string>>;

// level: trace, debug, info, warn, error; format: text or json. Returns false on a bad value.
bool setup(const std::string& level, const std::string& format);

// UTC as ISO 8601: "2026-11-25T21:40:01Z", with `millis` "2026-11-25T21:40:01.112Z".
std::string utc_time(std::chrono::system_clock::time_point t, bool millis);

void write(spdlog::level::level_enum level, std::string_view msg, const Fields& fields = {});
inline void info(std::string_view msg, const Fields& f = {}) { write(spdlog::level::info, msg, f); }
inline void warn(std::string_view msg, const Fields& f = {}) { write(spdlog::level::warn, msg, f); }
inline void error(std::string_view msg, const Fields& f = {}) { write(spdlog::level::err, msg, f); }
inline void debug(std::string_view msg, const Fields& f = {}) {
  write(spdlog::level::debug, msg, f);
}

}  // namespace bulkhead::log
