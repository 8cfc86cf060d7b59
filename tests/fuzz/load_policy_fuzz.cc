// libFuzzer target: policy loading must never crash, hang or throw, whatever the bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "policy/inspect/lint.h"
#include "policy/load/load.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto l = bulkhead::policy::load_policy_text(text, "fuzz.yaml");
  // The formatters see every message the loader can build, including odd bytes in values, and
  // silencing walks every policy's extent.
  auto notes = bulkhead::policy::skipped_notes(l.skipped);
  l.diagnostics.insert(l.diagnostics.end(), notes.begin(), notes.end());
  bulkhead::policy::apply_suppressions(l.diagnostics, l.set, {"allow-anything"});
  (void)bulkhead::policy::format_json(l.diagnostics);
  (void)bulkhead::policy::format_sarif(l.diagnostics);
  for (const auto& r : l.set.rules) (void)r.subject.pods.canonical();
  return 0;
}
