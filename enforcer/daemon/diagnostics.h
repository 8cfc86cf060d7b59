// Policy and inventory diagnostics as the daemon reports them: every one in the log, the first
// error as one line for status.
#pragma once

#include <string>

#include "policy/model/diagnostic.h"

namespace bulkhead::daemon {

// Errors at level error, warnings at warn, with `pos` and `rule` fields.
void log_diagnostics(const policy::Diagnostics& diags);
// The first error as "file:line:col: message [rule]"; "" when there is none.
std::string first_error(const policy::Diagnostics& diags);

}  // namespace bulkhead::daemon
