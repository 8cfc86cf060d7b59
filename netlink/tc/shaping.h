// Bandwidth limits through libnl-route, inside the endpoint's namespace (DESIGN section 3):
//   egress:  htb 1: (default class 1:1, rate = ceil, explicit burst) as the root qdisc of the
//            endpoint's interface;
//   ingress: ifb device policy::kIfbName in the namespace, ingress qdisc ffff: on the interface
//            with a match-all u32 filter redirecting (mirred egress) to the ifb, and the same htb
//            as the root qdisc of the ifb.
// The endpoint's interface is the namespace's up, non-loopback, non-ifb interface; with several,
// the one carrying the IPv4 default route (then the IPv6 one), else the lowest ifindex.
#pragma once

#include <string>

#include "common/result.h"
#include "netlink/tc/nl_route_socket.h"
#include "policy/plan/plan.h"

namespace bulkhead::netlink {

struct EndpointInterface {
  int ifindex = 0;
  std::string name;
};
Result<EndpointInterface> find_endpoint_interface(NlRouteSocket& sock);

// Brings the namespace to `plan`, touching only what differs; a limit that went away is removed
// (qdiscs and the ifb).
Status apply_tc(NlRouteSocket& sock, const policy::TcPlan& plan);
// What bulkhead's layout holds now. An incomplete ingress chain reads as no ingress limit.
Result<policy::TcPlan> read_tc(NlRouteSocket& sock);
// Removes bulkhead's qdiscs and the ifb; absent pieces are fine.
Status remove_tc(NlRouteSocket& sock);

// The kernel stores bursts as transmit time, so a burst reads back a few bytes off; limits
// match when rates are equal and bursts within 1% (or 64 bytes).
bool tc_equivalent(const policy::TcPlan& observed, const policy::TcPlan& desired);

}  // namespace bulkhead::netlink
