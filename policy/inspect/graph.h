// `bulkhead graph`: the policies as a Graphviz DOT digraph. Groups and pod sets are nodes, allowed
// flows are edges labelled with their ports, CIDR peers are nodes of their own shape. Pure and
// deterministic (everything sorted); docs/explain.md describes the drawing conventions.
#pragma once

#include <string>

#include "policy/model/endpoint.h"
#include "policy/model/model.h"

namespace bulkhead::policy {

// With `endpoints` (an inventory), nodes show how many endpoints they select, and a node is also
// marked isolated when every endpoint it selects is.
std::string render_graph_dot(const PolicySet& policies, const Endpoints* endpoints);

}  // namespace bulkhead::policy
