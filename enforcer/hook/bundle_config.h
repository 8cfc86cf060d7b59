// Adding bulkhead-hook to an OCI bundle's config.json (bulkhead-runtime, for Docker). Pure text
// in, text out; the file handling is in bundle_file.cc.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace bulkhead::hook {

// Docker's own prestart hook, through which the engine configures the container's network
// (DATAPLANE-NOTES.md): ours must run after it.
inline constexpr std::string_view kEngineSetkeyArg = "libnetwork-setkey";

struct HookEntry {
  std::string path;               // absolute path of bulkhead-hook
  std::vector<std::string> args;  // argv, args[0] included
  int timeout_seconds = 10;       // the runtime kills a hook that outlives this
};

// Inserts `hook` into hooks.prestart right after the engine's libnetwork-setkey entry (or last
// when there is none). Idempotent: a config already holding an entry with hook.path is returned
// unchanged. Error on text that is not a JSON object or has ill-typed hooks.
Result<std::string> add_prestart_hook(std::string_view config_json, const HookEntry& hook);

}  // namespace bulkhead::hook
