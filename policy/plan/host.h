// The host layer (docs/host-layer.md): the rules bulkhead keeps on the host side of every
// endpoint's veth, out of reach of a workload that holds NET_ADMIN in its own namespace. Compiled
// from the same Plan as the in-namespace tables, so both layers enforce one policy.
//
//   table inet bulkhead-host {            the policy, keyed by the endpoints' own addresses
//     map egress4, egress6                an endpoint's address : jump <id>-egress
//     map ingress4, ingress6              an endpoint's address : jump <id>-ingress
//     chain forward / input / output      ct established,related accept, then
//                                         ip saddr vmap @egress4, ip daddr vmap @ingress4 (and v6)
//     chain <id>-egress, <id>-ingress     the endpoint's in-namespace chain, loopback left out,
//                                         each accept a return (the other side is asked next)
//   }
//   table bridge bulkhead-host {          anti-spoofing, keyed by bridge port
//     map ports                           "<port>" : jump <id>-spoof
//     chain prerouting                    iifname vmap @ports
//     chain <id>-spoof                    own source addresses (and ARP sender) return, else drop
//   }
// The base chains never change: an endpoint arriving or leaving adds or removes its chains, its
// sets and its map elements, and touches nothing of the others'.
// Keying the policy by address is sound only together with the anti-spoofing table: a frame
// from an endpoint's port carries one of its own addresses or is dropped before the IP hooks.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policy/model/endpoint.h"
#include "policy/plan/plan.h"

namespace bulkhead::policy {

inline constexpr const char* kHostTableName = "bulkhead-host";
// Anti-spoofing runs at the bridge's filter priority, before br_netfilter (priority 0) hands
// the frame to the IP hooks.
inline constexpr int kBridgeFilterPriority = -200;

// An endpoint's interface on the host side: the veth peer of one of its interfaces.
struct HostPort {
  std::string endpoint;
  std::string ifname;
  auto operator<=>(const HostPort&) const = default;
};

struct HostPlan {
  std::optional<NftTable> policy;      // inet bulkhead-host; nullopt: no endpoint isolated
  std::optional<NftTable> antispoof;   // bridge bulkhead-host; nullopt: no port
  std::vector<std::string> endpoints;  // those the host layer covers, sorted
  bool operator==(const HostPlan&) const = default;
};

// Pure. Endpoints without a port in `ports` are not covered (their in-namespace table alone
// enforces them); a port naming an unknown endpoint is ignored.
HostPlan compile_host(const Plan& plan, const Endpoints& endpoints,
                      const std::vector<HostPort>& ports);

// The chain and set names the host layer gives an endpoint: "e" and 8 hex digits of its name.
std::string host_id(const std::string& endpoint);
// Its chains: what its egress and ingress chains inside became, and its anti-spoofing chain.
std::string host_chain_name(const std::string& endpoint, ChainSide side);
std::string host_spoof_chain_name(const std::string& endpoint);

}  // namespace bulkhead::policy
