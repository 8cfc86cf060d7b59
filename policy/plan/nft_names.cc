#include "policy/plan/nft_names.h"

#include <cctype>

namespace bulkhead::policy {

std::string stable_hash(std::string_view key, int digits) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  if (digits <= 8) h = (h ^ (h >> 32)) & 0xffffffffull;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(digits <= 8 ? 8 : 16, '0');
  for (int i = static_cast<int>(out.size()) - 1; i >= 0; --i, h >>= 4) out[i] = kHex[h & 0xf];
  return out;
}

bool usable_set_base(std::string_view name) {
  if (name.empty() || name.size() > 48) return false;
  if (!std::isalpha(static_cast<unsigned char>(name[0]))) return false;
  for (unsigned char c : name) {
    if (!std::isalnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

}  // namespace bulkhead::policy
