#include "enforcer/daemon/host_layer.h"

#include <algorithm>
#include <set>

namespace bulkhead::daemon {

netlink::HostPortScan HostLayer::ports_of(const policy::EndpointPlan& plan, bool& failed) {
  if (auto it = scans_.find(plan.netns); it != scans_.end()) return it->second;
  auto scan = dp_.host_ports(plan.netns, host_netns_);
  // A failed scan is not kept: the next round asks again.
  if (!scan.ok()) {
    failed = true;
    return {{}, {"ports not read: " + scan.error().to_string()}};
  }
  return scans_.emplace(plan.netns, std::move(*scan)).first->second;
}

Status HostLayer::apply(const std::map<std::string, EndpointState>& desired,
                        const policy::Endpoints& endpoints) {
  if (!dirty_) return {};
  policy::Plan plan;
  std::vector<policy::HostPort> ports;
  std::map<std::string, HostCoverage> coverage;
  std::set<std::string> live;
  bool scan_failed = false;
  for (const auto& [name, st] : desired) {
    plan.endpoints.push_back(st.desired);
    live.insert(st.desired.netns);
    const auto scan = ports_of(st.desired, scan_failed);
    for (const auto& p : scan.ports) ports.push_back({name, p});
    HostCoverage c;
    c.enforced = !scan.ports.empty();
    for (const auto& why : scan.uncovered) c.detail += (c.detail.empty() ? "" : "; ") + why;
    if (scan.ports.empty() && c.detail.empty()) c.detail = "no interface";
    coverage[name] = std::move(c);
  }
  for (auto it = scans_.begin(); it != scans_.end();)
    it = live.count(it->first) ? std::next(it) : scans_.erase(it);

  auto seen = dp_.host_sees_bridged_traffic(host_netns_);
  if (!seen.ok() || !*seen) {
    const std::string why =
        seen.ok() ? "anti-spoofing only: bridged traffic does not reach the IP hooks in the host "
                    "namespace (net.bridge.bridge-nf-call-iptables is 0)"
                  : "anti-spoofing only: " + seen.error().to_string();
    for (auto& [name, c] : coverage)
      if (c.enforced) {
        c.enforced = false;
        c.detail = why + (c.detail.empty() ? "" : "; " + c.detail);
      }
  }
  coverage_ = std::move(coverage);

  policy::HostPlan host = policy::compile_host(plan, endpoints, ports);
  if (!applied_ || *applied_ != host) {
    if (auto st = dp_.apply_host(host_netns_, host); !st.ok()) {
      // The kernel keeps the previous tables: what they covered is still enforced, by the plan
      // before this one.
      for (auto& [name, c] : coverage_) {
        c.enforced = applied_ && std::binary_search(applied_->endpoints.begin(),
                                                    applied_->endpoints.end(), name);
        c.detail =
            "the last host apply failed, the previous tables stay: " + st.error().to_string() +
            (c.detail.empty() ? "" : "; " + c.detail);
      }
      return st;
    }
    applied_ = std::move(host);
  }
  dirty_ = scan_failed;
  return {};
}

Status HostLayer::read_drops() {
  if (!applied_) return {};
  auto chains = dp_.host_drops(host_netns_);
  if (!chains.ok()) return chains.error();
  auto at = [&](const std::string& chain) {
    auto it = chains->find(chain);
    return it == chains->end() ? netlink::ChainDrops{} : it->second;
  };
  std::map<std::string, HostDrops> out;
  for (const auto& name : applied_->endpoints) {
    const auto egress = at(policy::host_chain_name(name, policy::ChainSide::egress));
    const auto ingress = at(policy::host_chain_name(name, policy::ChainSide::ingress));
    out[name] = {egress.dropped + ingress.dropped, egress.invalid + ingress.invalid,
                 at(policy::host_spoof_chain_name(name)).dropped};
  }
  drops_ = std::move(out);
  return {};
}

std::optional<HostDrops> HostLayer::drops(const std::string& endpoint) const {
  auto it = drops_.find(endpoint);
  if (it == drops_.end()) return std::nullopt;
  return it->second;
}

}  // namespace bulkhead::daemon
