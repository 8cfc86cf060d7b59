// libFuzzer target: the Engine API's JSON (list, inspect, events, version, error bodies) must yield
// a value or an error, never a crash, a hang or an exception, whatever a compromised or buggy
// engine sends.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "enforcer/sources/docker/json.h"

using namespace bulkhead::daemon::docker;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // One input feeds every parser: the seeds are real responses of each kind, and a mutation that
  // turns one kind into another is as likely from a hostile engine as from the fuzzer.
  if (auto list = parse_container_list(text); list.ok()) {
    for (const auto& c : *list) (void)c.id.size();
  } else {
    (void)list.error().to_string();
  }
  if (auto info = parse_container_inspect(text); info.ok()) {
    for (const auto& a : info->addresses) (void)a.to_string();
  } else {
    (void)info.error().to_string();
  }
  (void)parse_error_message(text);
  (void)version_is_podman(text);
  // The events endpoint streams one JSON object per line.
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    if (auto e = parse_event(text.substr(start, nl - start)); e.ok()) {
      (void)event_matters(*e);
    } else {
      (void)e.error().to_string();
    }
    start = nl + 1;
  }
  return 0;
}
