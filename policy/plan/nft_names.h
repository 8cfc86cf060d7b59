// Stable names for nftables sets. A set's name depends only on the policy text that defines it
// (never on which endpoints are members), so membership changes are element updates and never
// rename a set or rewrite a rule. docs/dataplane.md describes the scheme.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace bulkhead::policy {

// FNV-1a 64 of `key`, as `digits` lowercase hex digits (8 or 16). Fixed forever: changing it
// renames every set on every host at the next upgrade.
std::string stable_hash(std::string_view key, int digits = 8);

// Whether `name` can be used verbatim as (the start of) an nft set name: a letter, then letters,
// digits, '_' or '-', at most 48 characters (room is kept for suffixes).
bool usable_set_base(std::string_view name);

}  // namespace bulkhead::policy
