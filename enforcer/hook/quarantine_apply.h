// Installing the quarantine table (policy/plan/quarantine.h) in a starting container's namespace.
#pragma once

#include "common/result.h"

namespace bulkhead::hook {

// Opens /proc/<pid>/ns/net and commits the quarantine table there in one transaction, unless the
// namespace already holds a table bulkheadd compiled (a daemon that answered just after the
// hook's deadline has already done better than quarantine).
Status install_quarantine(int pid);

}  // namespace bulkhead::hook
