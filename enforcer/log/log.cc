#include "enforcer/log/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <ctime>
#include <nlohmann/json.hpp>

namespace bulkhead::log {
namespace {

bool g_json = false;

bool needs_quotes(std::string_view v) {
  return v.empty() || v.find_first_of(" \t\"=") != std::string_view::npos;
}

}  // namespace

std::string utc_time(std::chrono::system_clock::time_point t, bool millis) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm;
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!millis) return std::string(buf) + "Z";
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms));
}

bool setup(const std::string& level, const std::string& format) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") return false;
  if (format != "text" && format != "json") return false;
  g_json = format == "json";
  auto logger = spdlog::stderr_logger_mt("bulkheadd");
  spdlog::set_default_logger(logger);
  spdlog::set_level(lvl);
  // JSON lines carry their own time and level fields, so the pattern is the bare payload.
  spdlog::set_pattern(g_json ? "%v" : "%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  spdlog::flush_on(spdlog::level::info);
  return true;
}

void write(spdlog::level::level_enum level, std::string_view msg, const Fields& fields) {
  if (!spdlog::should_log(level)) return;
  if (g_json) {
    nlohmann::ordered_json j;
    j["time"] = utc_time(std::chrono::system_clock::now(), true);
    j["level"] = spdlog::level::to_string_view(level).data();
    j["msg"] = msg;
    for (const auto& [k, v] : fields) j[k] = v;
    spdlog::log(level, "{}", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  std::string line(msg);
  for (const auto& [k, v] : fields) {
    line += ' ';
    line += k;
    line += '=';
    line += needs_quotes(v) ? nlohmann::json(v).dump() : v;
  }
  spdlog::log(level, "{}", line);
}

}  // namespace bulkhead::log
