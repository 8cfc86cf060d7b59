// The OCI runtime state a runtime hands a hook on stdin (runtime-spec "state"): the only input
// bulkhead-hook trusts nothing of. Pure, so it is fuzzed (tests/fuzz/oci_state_fuzz.cc).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"
#include "enforcer/hook/protocol.h"

namespace bulkhead::hook {

// More than this on stdin is malformed (HOOK-PROTOCOL.md): a state is a few hundred bytes.
inline constexpr size_t kMaxStateBytes = 64 * 1024;

struct OciState {
  std::string id;      // 1..128 of [A-Za-z0-9_.-], as the daemon's protocol requires
  int pid = 0;         // 1..4194304: the container's init process
  std::string bundle;  // informational; may be empty
};

// Valid per HOOK-PROTOCOL.md's request rules (protocol.h's valid_container_id and kMaxPid), so
// anything accepted here can be sent as is.
bool valid_pid(long long pid);

// A JSON object with string `id` and integer `pid`; other fields are ignored. Errors say which
// field is wrong, never throw.
Result<OciState> parse_oci_state(std::string_view text);

}  // namespace bulkhead::hook
