// Two independent answers to "may A reach B on port P?":
// - reference_allows: straight from the policy model, the obviously-correct way (DESIGN section 2);
// - plan_allows: by walking the compiled Plan's nft chains as the kernel would.
// The differential test checks that they agree on randomized policies and inventories.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "policy/endpoint.h"
#include "policy/model.h"
#include "policy/plan.h"

namespace bulkhead::policy {

struct Flow {
  const Endpoint* from = nullptr;  // nullptr: an outside address `from_addr`
  const Endpoint* to = nullptr;    // nullptr: an outside address `to_addr`
  IpAddr from_addr;                // the source address used (one of from->addresses)
  IpAddr to_addr;
  Protocol proto = Protocol::tcp;  // tcp, udp, sctp or icmp (never any)
  uint16_t port = 0;               // destination port; ignored for icmp
};

struct Verdict {
  bool allowed = false;
  bool egress_allowed = false;   // sender's side (true when the sender is outside)
  bool ingress_allowed = false;  // receiver's side (true when the receiver is outside)
};

Verdict reference_allows(const PolicySet& policies, const Endpoints& endpoints, const Flow& flow);
Verdict plan_allows(const Plan& plan, const Flow& flow);

}  // namespace bulkhead::policy
