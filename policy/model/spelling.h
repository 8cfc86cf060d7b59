// Did-you-mean suggestions for every diagnostic that names an unknown word (fields, kinds, rule
// ids, operators).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bulkhead::policy {

// Levenshtein distance.
size_t edit_distance(std::string_view a, std::string_view b);
// The closest candidate when it is close enough to be a plausible typo.
std::optional<std::string> did_you_mean(std::string_view word,
                                        const std::vector<std::string>& candidates);

}  // namespace bulkhead::policy
