// Whether a compiled Plan fits what one endpoint's netlink transaction may carry
// (policy/model/limits.h). A plan with any endpoint beyond a limit is refused whole: the daemon
// keeps its previous enforcement, compile and lint report it, nothing reaches the kernel.
#pragma once

#include "policy/model/diagnostic.h"
#include "policy/model/endpoint.h"
#include "policy/plan/plan.h"

namespace bulkhead::policy {

// One too-large error per endpoint and limit, at the endpoint's inventory entry when it has one
// (`endpoints` are those the plan was compiled for).
Diagnostics check_plan_limits(const Plan& plan, const Endpoints& endpoints);

}  // namespace bulkhead::policy
