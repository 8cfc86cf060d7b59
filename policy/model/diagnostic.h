// Source positions and diagnostics: every value loaded from YAML keeps where it came from.
#pragma once

#include <string>
#include <vector>

namespace bulkhead::policy {

struct SourcePos {
  std::string file;               // as given on the command line
  int line = 0;                   // 1-based; 0 = unknown
  int col = 0;                    // 1-based; 0 = unknown
  std::string to_string() const;  // "file:line:col"
  auto operator<=>(const SourcePos&) const = default;
};

// A note informs (a document of another kind was skipped); it never fails a run.
enum class Severity { error, warning, note };

// A silenced warning is still reported, marked: in the policy itself (annotation or field) or by
// the run (`bulkhead lint --ignore`). Errors are never silenced.
enum class Suppression { none, in_source, external };

struct Diagnostic {
  SourcePos pos;
  Severity severity = Severity::error;
  std::string message;
  std::string rule;  // stable rule id, e.g. "unknown-field", "shadowed-rule"
  Suppression suppressed = Suppression::none;
  std::string suppressed_by = {};  // where the silencing is written: "file:line:col" or "--ignore"
};

using Diagnostics = std::vector<Diagnostic>;

inline bool has_errors(const Diagnostics& d) {
  for (const auto& x : d)
    if (x.severity == Severity::error) return true;
  return false;
}

// Warnings that nothing silenced: what `bulkhead lint --strict` fails on.
inline bool has_live_warnings(const Diagnostics& d) {
  for (const auto& x : d)
    if (x.severity == Severity::warning && x.suppressed == Suppression::none) return true;
  return false;
}

}  // namespace bulkhead::policy
