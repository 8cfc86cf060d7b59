// `bulkhead explain`: why one flow is allowed or denied, side by side (the sender's egress, the
// receiver's ingress), with the policies and rules responsible and where they are written.
// Derived from the same model the daemon enforces; the verdict is the enforced one (audit entries
// never decide it) and audit entries are reported apart. docs/explain.md describes the output.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "policy/inspect/membership.h"
#include "policy/model/endpoint.h"
#include "policy/model/model.h"

namespace bulkhead::policy {

// One end of the flow: an inventory endpoint, or an address outside the inventory.
struct FlowEnd {
  const Endpoint* endpoint = nullptr;  // nullptr: an outside address
  // The address the flow uses. nullopt only for an endpoint without an address of the flow's
  // family in the inventory: then no CIDR peer can match this end.
  std::optional<IpAddr> addr;
};

struct FlowQuery {
  FlowEnd from;
  FlowEnd to;
  Protocol proto = Protocol::tcp;  // tcp, udp, sctp or icmp (never any)
  uint16_t port = 0;               // destination port; 0 for icmp
};

// An allow rule of the side's direction that selects the endpoint.
struct RuleRef {
  Origin origin;  // pos: the rule
  // What admitted the flow (when admits): the first matching peer and port, as text with where
  // they are written; an unknown position (line 0) for "any peer" / "any port".
  std::string peer;
  SourcePos peer_pos;
  std::string port;
  SourcePos port_pos;
  // The whole rule as text ("from web, batch on 5432/tcp"), for rules that do not admit.
  std::string summary;
  bool admits = false;
  bool peer_matches = false;  // meaningful when !admits: which part failed
};

struct SideExplanation {
  Direction dir = Direction::egress;
  bool enforced = false;  // an inventory endpoint; an outside address is not enforced by bulkhead
  bool allowed = true;    // the enforced verdict of this side
  std::vector<IsolationRef> isolated_by;  // enforcing isolations; empty: not isolated
  std::vector<RuleRef> rules;             // enforcing rules selecting the endpoint, in load order
  std::vector<IsolationRef> audit_isolated_by;
  std::vector<RuleRef> audit_rules;  // audit rules selecting the endpoint, in load order
  // Enforcement allows it, but enforcing the audit entries too would deny it.
  bool would_deny = false;

  bool isolated() const { return !isolated_by.empty(); }
};

struct Explanation {
  FlowQuery query;
  bool loopback = false;  // an endpoint reaching itself: always allowed
  bool allowed = false;   // egress.allowed && ingress.allowed
  // Allowed, but a side would deny it were the audit entries enforced: what audit mode logs.
  bool would_deny = false;
  SideExplanation egress;   // the sender's
  SideExplanation ingress;  // the receiver's
};

Explanation explain(const PolicySet& policies, const FlowQuery& query);

// Renderers (explain_format.cc). Positions print as file:line:col.
std::string format_explanation_text(const Explanation& e);
std::string format_explanation_json(const Explanation& e);

}  // namespace bulkhead::policy
