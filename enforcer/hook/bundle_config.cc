#include "enforcer/hook/bundle_config.h"

#include <nlohmann/json.hpp>

namespace bulkhead::hook {
namespace {

bool is_engine_setkey(const nlohmann::json& h) {
  const auto args = h.find("args");
  if (args == h.end() || !args->is_array()) return false;
  for (const auto& a : *args)
    if (a.is_string() && a.get<std::string>() == kEngineSetkeyArg) return true;
  return false;
}

}  // namespace

Result<std::string> add_prestart_hook(std::string_view config_json, const HookEntry& hook) {
  const std::string op = "add bulkhead-hook to config.json";
  auto j = nlohmann::json::parse(config_json.begin(), config_json.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error(op, "config.json is not a JSON object");
  auto& hooks = j["hooks"];
  if (hooks.is_null()) hooks = nlohmann::json::object();
  if (!hooks.is_object()) return make_error(op, "\"hooks\" is not an object");
  auto& prestart = hooks["prestart"];
  if (prestart.is_null()) prestart = nlohmann::json::array();
  if (!prestart.is_array()) return make_error(op, "\"hooks.prestart\" is not an array");

  size_t insert_at = prestart.size();
  for (size_t i = 0; i < prestart.size(); ++i) {
    const auto& h = prestart[i];
    if (!h.is_object()) return make_error(op, "a prestart hook is not an object");
    const auto p = h.find("path");
    if (p != h.end() && p->is_string() && p->get<std::string>() == hook.path)
      return std::string(config_json);
    if (is_engine_setkey(h)) insert_at = i + 1;
  }
  nlohmann::json entry = {{"path", hook.path}, {"args", hook.args}};
  if (hook.timeout_seconds > 0) entry["timeout"] = hook.timeout_seconds;
  prestart.insert(prestart.begin() + static_cast<std::ptrdiff_t>(insert_at), std::move(entry));
  // replace: never throw on odd UTF-8 (the parser validates it; this is belt and braces).
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace bulkhead::hook
