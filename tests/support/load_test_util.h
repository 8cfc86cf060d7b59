// Helpers for the loader tests: diagnostics as compact "line:col: severity: message [rule]" lines.
#pragma once

#include <string>
#include <vector>

#include "policy/model/diagnostic.h"

namespace bulkhead::policy::testing {

inline std::vector<std::string> lines(const Diagnostics& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds) {
    out.push_back(std::to_string(d.pos.line) + ":" + std::to_string(d.pos.col) + ": " +
                  (d.severity == Severity::error ? "error" : "warning") + ": " + d.message + " [" +
                  d.rule + "]");
  }
  return out;
}

}  // namespace bulkhead::policy::testing
