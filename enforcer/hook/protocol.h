// The hook socket's protocol: one JSON request line from the OCI hook, one JSON answer line from
// bulkheadd. Both sides parse what the other sends, so both directions live here, pure and small.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bulkhead::hook {

inline constexpr int kProtocolVersion = 1;
// A request line, its '\n' included, is at most this long (the daemon reads no further).
inline constexpr size_t kMaxRequestBytes = 4096;
// An answer line is bounded too: the hook reads no further.
inline constexpr size_t kMaxAnswerBytes = 4096;
// Linux's pid_max ceiling (PID_MAX_LIMIT on 64-bit).
inline constexpr int64_t kMaxPid = 4194304;
inline constexpr size_t kMaxIdLength = 128;

struct HookRequest {
  std::string id;      // the container id, 1..128 of [A-Za-z0-9_.-]
  int64_t pid = 0;     // the container's init process: its netns is /proc/<pid>/ns/net
  std::string engine;  // "docker", "podman" or "oci"

  bool operator==(const HookRequest&) const = default;
};

enum class Verdict { kEnforced, kUnselected, kRefused };

struct HookAnswer {
  Verdict verdict = Verdict::kRefused;
  std::string reason;

  bool operator==(const HookAnswer&) const = default;
};

// The verdict's wire name ("enforced", "unselected", "refused"), also the metric's result label.
std::string_view verdict_name(Verdict v);

// One request line (a trailing '\n' is allowed, nothing after it). On failure returns nullopt and,
// when why is given, sets it to one sentence naming the field (`field "pid": ...`). Unknown fields
// are ignored.
std::optional<HookRequest> parse_request(std::string_view line, std::string* why);
// The request as one line, '\n' included.
std::string render_request(const HookRequest& request);

std::optional<HookAnswer> parse_answer(std::string_view line, std::string* why);
std::string render_answer(const HookAnswer& answer);

// Whether id is a well-formed container id (what parse_request accepts).
bool valid_container_id(std::string_view id);

}  // namespace bulkhead::hook
