// libFuzzer target: inventory loading must never crash, hang or throw.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "policy/load/load.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto l = bulkhead::policy::load_inventory_text(text, "fuzz.yaml");
  for (const auto& e : l.endpoints) (void)e.k8s_namespace();
  return 0;
}
