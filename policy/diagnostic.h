// Source positions and diagnostics: every value loaded from YAML keeps where it came from.
#pragma once

#include <string>
#include <vector>

namespace bulkhead::policy {

struct SourcePos {
  std::string file;  // as given on the command line
  int line = 0;      // 1-based; 0 = unknown
  int col = 0;       // 1-based; 0 = unknown
  std::string to_string() const;  // "file:line:col"
  auto operator<=>(const SourcePos&) const = default;
};

enum class Severity { error, warning };

struct Diagnostic {
  SourcePos pos;
  Severity severity = Severity::error;
  std::string message;
  std::string rule;  // stable rule id, e.g. "unknown-field", "shadowed-rule"
};

using Diagnostics = std::vector<Diagnostic>;

inline bool has_errors(const Diagnostics& d) {
  for (const auto& x : d)
    if (x.severity == Severity::error) return true;
  return false;
}

}  // namespace bulkhead::policy
