// Lint: the semantic checks beyond what loading already reports, and the output formats.
#pragma once

#include <string>

#include "policy/load/load.h"
#include "policy/model/diagnostic.h"
#include "policy/model/endpoint.h"
#include "policy/model/model.h"

namespace bulkhead::policy {

// Warnings that need the whole model (and the inventory, when given): groups/policies selecting
// nothing, shadowed/duplicate rules, allow-anything, too-wide CIDRs, CIDRs containing endpoint
// addresses, conflicting bandwidth limits, unresolvable named ports, unsafe endpoints.
Diagnostics lint(const PolicySet& policies, const Endpoints* inventory);

// One note (rule skipped-kind) per document of another Kubernetes kind that loading skipped.
Diagnostics skipped_notes(const std::vector<SkippedDocument>& skipped);

// Marks the warnings that are silenced: by the lint-ignore list of the policy whose text holds the
// warning's position (Suppression::in_source), or by `run_ignores`, the rule ids of
// `bulkhead lint --ignore` (Suppression::external). Errors are never silenced.
void apply_suppressions(Diagnostics& diags, const PolicySet& set,
                        const std::vector<std::string>& run_ignores);

// Output formats for `bulkhead lint`. Silenced warnings are left out of the text and listed,
// marked, in JSON and SARIF (SARIF 2.1.0 `suppressions`). Diagnostics are printed sorted by
// position.
std::string format_text(
    const Diagnostics& diags);  // file:line:col: severity: message [rule] + source line + caret
std::string format_json(const Diagnostics& diags);
std::string format_sarif(const Diagnostics& diags);  // SARIF 2.1.0

}  // namespace bulkhead::policy
