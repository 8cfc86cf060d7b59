#include "policy/plan/plan_limits.h"

#include <algorithm>
#include <string>

#include "policy/model/limits.h"

namespace bulkhead::policy {

Diagnostics check_plan_limits(const Plan& plan, const Endpoints& endpoints) {
  Diagnostics out;
  for (const auto& ep : plan.endpoints) {
    if (!ep.table) continue;
    auto it = std::find_if(endpoints.begin(), endpoints.end(),
                           [&](const Endpoint& e) { return e.name == ep.endpoint; });
    const SourcePos at = it != endpoints.end() ? it->pos : SourcePos{};
    auto refuse = [&](const std::string& what, size_t have, size_t limit) {
      out.push_back(Diagnostic{at, Severity::error,
                               "endpoint \"" + ep.endpoint + "\" would need " +
                                   std::to_string(have) + " " + what + "; the limit is " +
                                   std::to_string(limit) +
                                   " (the plan is refused whole and nothing is applied)",
                               "too-large"});
    };
    const NftTable& t = *ep.table;
    if (t.sets.size() > limits::kMaxSetsPerTable) {
      refuse("nftables sets", t.sets.size(), limits::kMaxSetsPerTable);
    }
    size_t elements = 0;
    for (const auto& s : t.sets) elements += s.elements.size();
    if (elements > limits::kMaxElementsPerTable) {
      refuse("set elements in its table", elements, limits::kMaxElementsPerTable);
    }
    for (const auto& c : t.chains) {
      if (c.rules.size() > limits::kMaxRulesPerChain) {
        refuse("rules in its " + c.name + " chain", c.rules.size(), limits::kMaxRulesPerChain);
      }
    }
  }
  return out;
}

}  // namespace bulkhead::policy
