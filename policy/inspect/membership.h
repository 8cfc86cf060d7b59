// Questions about one endpoint that the daemon's status, its flow log, explain and graph all ask
// of a PolicySet: which groups and policies select it, and which policies isolate one of its
// sides. Answered here once, with the selection semantics of resolve.h.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "policy/model/endpoint.h"
#include "policy/model/model.h"

namespace bulkhead::policy {

// The native groups and the policies whose entries (isolations, allow rules, bandwidth limits)
// select an endpoint.
struct Membership {
  std::set<std::string> groups;
  std::set<std::string> policies;
};
Membership membership(const PolicySet& policies, const Endpoint& ep);

// The endpoint label keys that any selector of the set reads (subjects and endpoint peers), and
// the label that names an endpoint's Kubernetes namespace: what an endpoint's labels must show
// exactly for its selection to be decided.
std::set<std::string> selector_keys(const PolicySet& policies);

// A policy entry that isolates a side.
struct IsolationRef {
  Origin origin;      // pos: the native group, or the NetworkPolicy document
  std::string group;  // native group name; "" for NetworkPolicy
};

// The isolations of the endpoint's `dir` side, in load order, enforcing and audit ones apart.
struct SideIsolation {
  std::vector<IsolationRef> enforcing;
  std::vector<IsolationRef> audit;
};
SideIsolation isolations_of(const PolicySet& policies, const Endpoint& ep, Direction dir);

// Whether an isolation of that kind (enforcing, or audit with `audit`) selects the side.
bool isolates(const PolicySet& policies, const Endpoint& ep, Direction dir, bool audit);

// The policies deciding what that side denies, sorted and unique: for a drop the enforcing ones
// that isolate it, for a would-deny (`audit`) the audit ones (docs/policy.md, Audit mode).
std::vector<std::string> deciding_policies(const PolicySet& policies, const Endpoint& ep,
                                           Direction dir, bool audit);

}  // namespace bulkhead::policy
