// The host ends of an endpoint's veths, and whether the host layer can rely on them
// (policy/plan/host.h, docs/host-layer.md).
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "netlink/ns/netns.h"

namespace bulkhead::netlink {

struct HostPortScan {
  std::vector<std::string> ports;  // the host ends that are bridge ports, sorted
  // Why an interface of the endpoint is not covered: "eth1: not a veth", "eth0: host end veth9
  // is not a bridge port", "eth0: no host end in the host namespace". Empty when all are.
  std::vector<std::string> uncovered;
};

// For each interface of `ns` but loopback: the veth peer in `host` (matched both ways by ifindex
// and peer ifindex) and whether it is a port of a bridge there.
Result<HostPortScan> scan_host_ports(const NetnsHandle& ns, const NetnsHandle& host);

// net.bridge.bridge-nf-call-iptables and -ip6tables in `host`: whether bridged IPv4 and IPv6
// reach the IP hooks, where the host layer's policy table is.
Result<bool> bridged_traffic_reaches_ip_hooks(const NetnsHandle& host);

}  // namespace bulkhead::netlink
