#include "enforcer/daemon/registry.h"

#include <algorithm>
#include <set>
#include <string_view>

#include "enforcer/log/log.h"
#include "netlink/ns/netns.h"
#include "netlink/tc/link_addresses.h"

namespace bulkhead::daemon {

void fill_addresses(policy::Endpoints& endpoints) {
  for (auto& ep : endpoints) {
    if (!ep.addresses.empty()) continue;
    auto ns = netlink::NetnsHandle::open(ep.netns);
    if (!ns.ok()) continue;  // the apply reports the missing namespace
    auto addrs = netlink::read_addresses(*ns);
    if (addrs.ok())
      ep.addresses = std::move(*addrs);
    else
      log::warn("cannot read addresses",
                {{"endpoint", ep.name}, {"error", addrs.error().to_string()}});
  }
}

Merged merge_endpoints(const Gathered& gathered) {
  Merged m;
  m.all = gathered.local;
  m.all.insert(m.all.end(), gathered.remote.begin(), gathered.remote.end());
  std::sort(m.all.begin(), m.all.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  auto dup = std::adjacent_find(m.all.begin(), m.all.end(),
                                [](const auto& a, const auto& b) { return a.name == b.name; });
  if (dup != m.all.end()) m.duplicate = dup->name;
  return m;
}

void Registry::commit(const policy::Endpoints& all, std::vector<Unenforceable> unenforceable) {
  unenforceable_ = std::move(unenforceable);
  // Updated in place (departed erased, the rest assigned over their own storage) rather than
  // rebuilt: a rebuild at every change scattered the long-lived entries through the heap.
  std::set<std::string_view> names;
  for (const auto& ep : all) names.insert(ep.name);
  std::erase_if(known_, [&](const auto& kv) { return !names.count(kv.first); });
  for (const auto& ep : all) known_[ep.name] = ep;
}

const policy::Endpoint* Registry::find(const std::string& name) const {
  auto it = known_.find(name);
  return it == known_.end() ? nullptr : &it->second;
}

std::string Registry::endpoint_at(const policy::IpAddr& addr) const {
  for (const auto& [name, ep] : known_)
    for (const auto& a : ep.addresses)
      if (a == addr) return name;
  return "";
}

policy::Endpoints Registry::endpoints() const {
  policy::Endpoints out;
  out.reserve(known_.size());
  for (const auto& [name, ep] : known_) out.push_back(ep);
  return out;
}

}  // namespace bulkhead::daemon
