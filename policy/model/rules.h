// Every rule id bulkhead reports, with its severity and a one-line summary. docs/lint.md has a
// section for each (tests/policy/model/rules_test.cc holds the two in step); SARIF output carries
// the summaries; `--ignore` and the lint-ignore annotation accept the warnings among them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/model/diagnostic.h"

namespace bulkhead::policy {

struct RuleInfo {
  std::string_view id;
  Severity severity;
  std::string_view summary;
};

const std::vector<RuleInfo>& all_rules();
const RuleInfo* find_rule(std::string_view id);

// Warnings and notes can be silenced; errors never (the document means nothing, or something
// unsafe).
inline bool silenceable(const RuleInfo& r) { return r.severity != Severity::error; }

// The silenceable rule closest to a misspelled id, for "did you mean".
std::optional<std::string> closest_silenceable_rule(std::string_view id);

}  // namespace bulkhead::policy
