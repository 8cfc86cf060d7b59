// Turning explain's command-line words (--from, --to, --port, --family) into a FlowQuery: endpoint
// names or addresses, PORT/PROTO, named ports. Pure; errors are values with the message to print.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "policy/inspect/explain.h"
#include "policy/model/endpoint.h"

namespace bulkhead::policy {

struct PortQuery {
  Protocol proto = Protocol::tcp;  // tcp, udp, sctp or icmp; any only with a bare named port
  uint16_t port = 0;
  std::string named;  // a named port of the receiving endpoint, resolved by make_flow_query
};

// "8080/tcp", "53/udp", "7777/sctp" (protocol case-insensitive), "icmp", or a named port of the
// receiver: "http" or "http/tcp". A number without a protocol is refused, as in policies.
Result<PortQuery> parse_port_query(std::string_view text);

// `from` and `to` are endpoint names or IP addresses. An address that belongs to an inventory
// endpoint is that endpoint; any other is outside. `family` 4 or 6 picks the endpoints' addresses;
// 0 picks IPv4 when both ends have one, else IPv6 when both do (an address given fixes it).
Result<FlowQuery> make_flow_query(const Endpoints& endpoints, std::string_view from,
                                  std::string_view to, const PortQuery& port, int family);

}  // namespace bulkhead::policy
