// Compiling a PolicySet over a set of endpoints into a Plan.
#pragma once

#include "policy/model/endpoint.h"
#include "policy/model/model.h"
#include "policy/plan/plan.h"

namespace bulkhead::policy {

// Deterministic: the same documents and endpoints, in any order, give the same Plan.
Plan compile(const PolicySet& policies, const Endpoints& endpoints);

}  // namespace bulkhead::policy
