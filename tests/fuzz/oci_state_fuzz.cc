// libFuzzer target: the OCI state on bulkhead-hook's stdin and the bundle config.json the runtime
// wrapper rewrites must yield a value or an error, never a crash, a hang or an exception, whatever a
// buggy runtime or a hostile bundle holds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "enforcer/hook/bundle_config.h"
#include "enforcer/hook/oci_state.h"

using namespace bulkhead::hook;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto st = parse_oci_state(text); st.ok()) {
    // Whatever is accepted must satisfy the protocol's request rules.
    if (!valid_container_id(st->id) || !valid_pid(st->pid)) __builtin_trap();
  } else {
    (void)st.error().to_string();
  }
  const HookEntry hook{"/usr/libexec/bulkhead/bulkhead-hook", {"bulkhead-hook"}, 10};
  if (auto out = add_prestart_hook(text, hook); out.ok()) {
    // Idempotent: adding again changes nothing.
    auto again = add_prestart_hook(*out, hook);
    if (!again.ok() || *again != *out) __builtin_trap();
  }
  return 0;
}
