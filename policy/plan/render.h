// Rendering a Plan as text people (and `nft -f`) read.
#pragma once

#include <string>

#include "policy/plan/plan.h"

namespace bulkhead::policy {

// The table as `nft -f` accepts it and as `nft list table inet bulkhead` prints it (nftables
// 1.0.6 layout: tabs, one element list per set), without counter values or handles.
std::string render_nft(const NftTable& table);
// The tc plan as readable lines, e.g. "egress: htb rate 50mbit burst 62500b on the endpoint's
// interface".
std::string render_tc(const TcPlan& tc);
// Everything `bulkhead compile` prints for one endpoint.
std::string render_endpoint(const EndpointPlan& ep);

}  // namespace bulkhead::policy
