#include "policy/inspect/membership.h"

#include "policy/model/resolve.h"

namespace bulkhead::policy {

Membership membership(const PolicySet& policies, const Endpoint& ep) {
  Membership m;
  auto note = [&](const Subject& s, const Origin& o) {
    if (!subject_selects(s, ep)) return;
    if (!s.group.empty()) m.groups.insert(s.group);
    m.policies.insert(o.policy);
  };
  for (const auto& i : policies.isolations) note(i.subject, i.origin);
  for (const auto& r : policies.rules) note(r.subject, r.origin);
  for (const auto& l : policies.limits) note(l.subject, l.origin);
  return m;
}

std::set<std::string> selector_keys(const PolicySet& policies) {
  std::set<std::string> keys = {kNamespaceLabel};
  auto read = [&](const LabelSelector& s) {
    for (const auto& r : s.requirements) keys.insert(r.key);
  };
  for (const auto& i : policies.isolations) read(i.subject.pods);
  for (const auto& l : policies.limits) read(l.subject.pods);
  for (const auto& r : policies.rules) {
    read(r.subject.pods);
    for (const auto& p : r.peers)
      if (const auto* e = std::get_if<EndpointPeer>(&p.what)) read(e->pods);
  }
  return keys;
}

SideIsolation isolations_of(const PolicySet& policies, const Endpoint& ep, Direction dir) {
  SideIsolation side;
  for (const auto& iso : policies.isolations) {
    if (iso.dir != dir || !subject_selects(iso.subject, ep)) continue;
    (iso.origin.audit ? side.audit : side.enforcing)
        .push_back(IsolationRef{iso.origin, iso.subject.group});
  }
  return side;
}

bool isolates(const PolicySet& policies, const Endpoint& ep, Direction dir, bool audit) {
  for (const auto& iso : policies.isolations)
    if (iso.dir == dir && iso.origin.audit == audit && subject_selects(iso.subject, ep))
      return true;
  return false;
}

std::vector<std::string> deciding_policies(const PolicySet& policies, const Endpoint& ep,
                                           Direction dir, bool audit) {
  std::set<std::string> names;
  for (const auto& iso : policies.isolations)
    if (iso.dir == dir && iso.origin.audit == audit && subject_selects(iso.subject, ep))
      names.insert(iso.origin.policy);
  return {names.begin(), names.end()};
}

}  // namespace bulkhead::policy
