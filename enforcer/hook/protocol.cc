#include "enforcer/hook/protocol.h"

#include <nlohmann/json.hpp>

namespace bulkhead::hook {
namespace {

using nlohmann::json;

bool fail(std::string* why, std::string text) {
  if (why != nullptr) *why = std::move(text);
  return false;
}

// One line: the text before an optional final '\n'; no other newline, no NUL, within the bound.
std::optional<std::string_view> one_line(std::string_view text, size_t limit, std::string* why) {
  if (text.size() > limit) {
    fail(why, "longer than " + std::to_string(limit) + " bytes");
    return std::nullopt;
  }
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.find('\n') != std::string_view::npos) {
    fail(why, "more than one line");
    return std::nullopt;
  }
  if (text.empty()) {
    fail(why, "empty");
    return std::nullopt;
  }
  return text;
}

// The object, or nullopt with why set. Never throws: parse errors come back as a discarded value,
// and a recursion bomb is bounded by the line limit.
std::optional<json> parse_object(std::string_view text, size_t limit, std::string* why) {
  auto line = one_line(text, limit, why);
  if (!line) return std::nullopt;
  json doc = json::parse(line->begin(), line->end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    fail(why, "not JSON");
    return std::nullopt;
  }
  if (!doc.is_object()) {
    fail(why, "not a JSON object");
    return std::nullopt;
  }
  return doc;
}

bool check_version(const json& doc, std::string* why) {
  auto it = doc.find("version");
  if (it == doc.end()) return fail(why, "field \"version\" is missing");
  if (!it->is_number_integer()) return fail(why, "field \"version\" must be an integer");
  if (*it != kProtocolVersion) {
    return fail(why, "field \"version\": " + it->dump() + " is not supported (this side speaks " +
                         std::to_string(kProtocolVersion) + ")");
  }
  return true;
}

// A required string field; nullptr with why set when it is missing or not a string.
const std::string* string_field(const json& doc, const char* name, std::string* why) {
  auto it = doc.find(name);
  if (it == doc.end()) {
    fail(why, std::string("field \"") + name + "\" is missing");
    return nullptr;
  }
  if (!it->is_string()) {
    fail(why, std::string("field \"") + name + "\" must be a string");
    return nullptr;
  }
  return it->get_ptr<const std::string*>();
}

std::optional<Verdict> verdict_from(std::string_view s) {
  if (s == "enforced") return Verdict::kEnforced;
  if (s == "unselected") return Verdict::kUnselected;
  if (s == "refused") return Verdict::kRefused;
  return std::nullopt;
}

}  // namespace

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kEnforced:
      return "enforced";
    case Verdict::kUnselected:
      return "unselected";
    case Verdict::kRefused:
      return "refused";
  }
  return "refused";
}

bool valid_container_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<HookRequest> parse_request(std::string_view line, std::string* why) {
  auto doc = parse_object(line, kMaxRequestBytes, why);
  if (!doc || !check_version(*doc, why)) return std::nullopt;
  HookRequest r;
  const std::string* id = string_field(*doc, "id", why);
  if (id == nullptr) return std::nullopt;
  if (!valid_container_id(*id)) {
    fail(why, "field \"id\" must be 1.." + std::to_string(kMaxIdLength) +
                  " characters of [A-Za-z0-9_.-]");
    return std::nullopt;
  }
  r.id = *id;
  auto pid = doc->find("pid");
  if (pid == doc->end()) {
    fail(why, "field \"pid\" is missing");
    return std::nullopt;
  }
  if (!pid->is_number_integer()) {
    fail(why, "field \"pid\" must be an integer");
    return std::nullopt;
  }
  // is_number_unsigned values above int64's range would wrap in get<int64_t>.
  if (pid->is_number_unsigned() && pid->get<uint64_t>() > static_cast<uint64_t>(kMaxPid)) {
    fail(why, "field \"pid\" must be 1.." + std::to_string(kMaxPid));
    return std::nullopt;
  }
  r.pid = pid->get<int64_t>();
  if (r.pid < 1 || r.pid > kMaxPid) {
    fail(why, "field \"pid\" must be 1.." + std::to_string(kMaxPid));
    return std::nullopt;
  }
  const std::string* engine = string_field(*doc, "engine", why);
  if (engine == nullptr) return std::nullopt;
  if (*engine != "docker" && *engine != "podman" && *engine != "oci") {
    fail(why, "field \"engine\" must be \"docker\", \"podman\" or \"oci\"");
    return std::nullopt;
  }
  r.engine = *engine;
  return r;
}

std::string render_request(const HookRequest& request) {
  json doc = {{"version", kProtocolVersion},
              {"id", request.id},
              {"pid", request.pid},
              {"engine", request.engine}};
  // Replace, never throw, should an id ever carry invalid UTF-8 (parse_request refuses those).
  return doc.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::optional<HookAnswer> parse_answer(std::string_view line, std::string* why) {
  auto doc = parse_object(line, kMaxAnswerBytes, why);
  if (!doc || !check_version(*doc, why)) return std::nullopt;
  const std::string* verdict = string_field(*doc, "verdict", why);
  if (verdict == nullptr) return std::nullopt;
  auto v = verdict_from(*verdict);
  if (!v) {
    fail(why, "field \"verdict\" must be \"enforced\", \"unselected\" or \"refused\"");
    return std::nullopt;
  }
  HookAnswer a{*v, ""};
  // The reason is informative: absent means empty, but a present one must be a string.
  if (auto it = doc->find("reason"); it != doc->end()) {
    if (!it->is_string()) {
      fail(why, "field \"reason\" must be a string");
      return std::nullopt;
    }
    a.reason = it->get<std::string>();
  }
  return a;
}

std::string render_answer(const HookAnswer& answer) {
  json doc = {{"version", kProtocolVersion},
              {"verdict", std::string(verdict_name(answer.verdict))},
              {"reason", answer.reason}};
  std::string line = doc.dump(-1, ' ', false, json::error_handler_t::replace);
  // A reason never makes the answer exceed what the hook reads: halve it until it fits (escapes
  // can make the line several times longer than the text).
  HookAnswer cut = answer;
  while (line.size() + 1 > kMaxAnswerBytes && !cut.reason.empty()) {
    cut.reason.resize(cut.reason.size() / 2);
    doc["reason"] = cut.reason + "...";
    line = doc.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return line + "\n";
}

}  // namespace bulkhead::hook
