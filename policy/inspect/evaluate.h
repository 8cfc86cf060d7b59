// Two independent answers to "may A reach B on port P?":
// - reference_allows: straight from the policy model, the obviously-correct way (DESIGN section 2);
// - plan_allows: by walking the compiled Plan's nft chains as the kernel would.
// The differential test checks that they agree on randomized policies and inventories.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "policy/model/endpoint.h"
#include "policy/model/model.h"
#include "policy/plan/plan.h"

namespace bulkhead::policy {

struct Flow {
  const Endpoint* from = nullptr;  // nullptr: an outside address `from_addr`
  const Endpoint* to = nullptr;    // nullptr: an outside address `to_addr`
  IpAddr from_addr;                // the source address used (one of from->addresses)
  IpAddr to_addr;
  Protocol proto = Protocol::tcp;  // tcp, udp, sctp or icmp (never any)
  uint16_t port = 0;               // destination port; ignored for icmp
};

// Audit-mode entries never change `allowed`. A side "would deny" when it lets the flow pass but
// would not if the audit entries were enforced too (only audit policies isolate that side and no
// allow rule of the direction admits the flow); the kernel then logs and counts it.
struct Verdict {
  bool allowed = false;
  bool egress_allowed = false;   // sender's side (true when the sender is outside)
  bool ingress_allowed = false;  // receiver's side (true when the receiver is outside)
  bool egress_would_deny = false;
  bool ingress_would_deny = false;
  bool would_deny = false;  // allowed, but a side would deny it: the flow audit mode reports
};

Verdict reference_allows(const PolicySet& policies, const Endpoints& endpoints, const Flow& flow);
Verdict plan_allows(const Plan& plan, const Flow& flow);

}  // namespace bulkhead::policy
