// libFuzzer target: the hook socket's lines (enforcer/hook/protocol.cc). The daemon parses what any
// root process on the host sends, the hook what answers its socket; both must yield a value or a
// reason, never a crash, a hang or an exception, and what parses must render and parse back equal.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "enforcer/hook/protocol.h"

using namespace bulkhead::hook;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string why;
  if (auto r = parse_request(text, &why)) {
    auto back = parse_request(render_request(*r), nullptr);
    if (!back || !(*back == *r)) std::abort();
  } else if (why.empty()) {
    std::abort();  // every refusal says why
  }
  why.clear();
  if (auto a = parse_answer(text, &why)) {
    const std::string line = render_answer(*a);
    if (line.size() > kMaxAnswerBytes) std::abort();
    auto back = parse_answer(line, nullptr);
    if (!back || back->verdict != a->verdict) std::abort();
  } else if (why.empty()) {
    std::abort();
  }
  return 0;
}
