// Lint: the semantic checks beyond what loading already reports, and the output formats.
#pragma once

#include <string>

#include "policy/diagnostic.h"
#include "policy/endpoint.h"
#include "policy/model.h"

namespace bulkhead::policy {

// Warnings that need the whole model (and the inventory, when given): groups/policies selecting
// nothing, shadowed/duplicate rules, allow-anything, too-wide CIDRs, CIDRs containing endpoint
// addresses, conflicting bandwidth limits, unresolvable named ports, unsafe endpoints.
Diagnostics lint(const PolicySet& policies, const Endpoints* inventory);

// Output formats for `bulkhead lint`. Diagnostics are printed sorted by position.
std::string format_text(const Diagnostics& diags);   // file:line:col: severity: message [rule] + source line + caret
std::string format_json(const Diagnostics& diags);
std::string format_sarif(const Diagnostics& diags);  // SARIF 2.1.0

}  // namespace bulkhead::policy
