// Short human texts for model entries: the way a reader would write a peer, a subject or a port
// back into a policy. The one renderer of descriptions: the kernel's rule comments (compile),
// explain, graph, lint and the CLI's flow table all say "8080/tcp" through here.
#pragma once

#include <cstdint>
#include <string>

#include "policy/model/model.h"

namespace bulkhead::policy {

// "8080/tcp", "30000-32767/tcp", "tcp" (every TCP port), "icmp", "http/tcp" (a named port),
// "53-8080" (a range on every protocol with ports), "any port".
std::string port_spec_text(const PortSpec& p);
// One port of a flow: "8080/tcp", "53/udp", "icmp" (ICMP has no ports).
std::string flow_port_text(Protocol proto, uint16_t port);
// A native group by name; a Kubernetes pod set as NAMESPACE/{SELECTOR}: "shop/{app=web}",
// "shop/{}" (every pod of shop), "ns{team=ops}/{app=prometheus}", "*/{app=x}" (any namespace).
std::string endpoint_peer_text(const EndpointPeer& p);
std::string subject_text(const Subject& s);
// "198.19.0.0/16", "198.19.0.0/16 except 198.19.66.0/24"
std::string cidr_peer_text(const CidrPeer& c);
std::string peer_text(const Peer& p);

}  // namespace bulkhead::policy
