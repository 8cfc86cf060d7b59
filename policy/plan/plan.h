// The Plan: for each endpoint, the exact nftables table and tc limits to enforce. Plain data,
// deterministic (same input in any order gives the same Plan), and the only thing netlink/
// knows of policy/ (docs/architecture.md); the layout is documented in docs/dataplane.md.
//
// Table layout (one per enforced namespace):
//   table inet bulkhead {
//     set <name> { type ipv4_addr|ipv6_addr; [flags interval;] elements = { ... } }
//     chain ingress { type filter hook input priority filter; policy accept; ... }
//     chain egress  { type filter hook output priority filter; policy accept; ... }
//   }
// A chain exists only for an isolated direction. Its rules, in order: the base rules
// (ct established/related accept, ct invalid drop, loopback accept, ICMPv6 neighbour discovery
// accept), the allow rules, a rate-limited nflog rule, then a counted final drop — or, when only
// audit-mode policies isolate the direction, a counted final accept (docs/dataplane.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "policy/model/address.h"
#include "policy/plan/set_elements.h"

namespace bulkhead::policy {

inline constexpr const char* kTableName = "bulkhead";
inline constexpr const char* kIfbName = "bh-ifb0";  // ingress-shaping device, inside the namespace

// Denied-flow log: every chain sends the first packet of a denied (or would-be-denied) new
// connection to this nfnetlink_log group, at most kLogRate packets per second per chain after a
// burst of kLogBurst, so a flood cannot overload the daemon.
inline constexpr uint16_t kNflogGroup = 4242;
inline constexpr uint32_t kLogRate = 10;
inline constexpr uint32_t kLogBurst = 20;
inline constexpr size_t kLogPrefixMax = 127;  // the kernel's NF_LOG_PREFIXLEN less the NUL
// Prefix: "bulkhead <verdict> <direction> <endpoint>", verdict kLogDeny or kLogWouldDeny,
// direction "ingress" or "egress", the endpoint name shortened to fit.
inline constexpr const char* kLogTag = "bulkhead";
inline constexpr const char* kLogDeny = "deny";
inline constexpr const char* kLogWouldDeny = "would-deny";

struct NftSet {
  std::string name;
  int family = 4;         // 4: type ipv4_addr; 6: type ipv6_addr
  bool interval = false;  // CIDR sets; elements then hold non-overlapping ranges
  SetElements elements;   // sorted; single addresses have first == last
  auto operator<=>(const NftSet&) const = default;
};

enum class RuleKind {
  ct_established_accept,  // ct state established,related accept
  ct_invalid_drop,        // ct state invalid drop
  loopback_accept,        // iif "lo" accept (ingress) / oif "lo" accept (egress)
  icmpv6_nd_accept,       // icmpv6 type nd-router-solicit-nd-redirect accept (types 133-137)
  allow,                  // [ip|ip6 saddr|daddr @set] [proto [dport range]] counter accept
  final_drop,             // counter drop
  // limit rate R/second [burst B packets] log prefix "P" group G: no verdict, the packet goes on
  log,
  // counter accept: the end of an audit-only chain, counting what audit policies would deny
  final_accept,
  // Host layer (docs/host-layer.md): dispatch through the verdict map named by peer_set, keyed by
  // the source address (ip saddr vmap @m), the destination address, or the input interface.
  vmap_saddr,
  vmap_daddr,
  vmap_iifname,
  // arp saddr ip @peer_set accept: an ARP frame whose sender address is the endpoint's own
  arp_sender_allow,
};

enum class L4 { any, tcp, udp, sctp, icmp, icmpv6 };

struct NftRule {
  RuleKind kind = RuleKind::allow;
  // allow rules only:
  int family = 0;        // 0: any address family; 4 or 6: the rule matches only that family
  std::string peer_set;  // matched against saddr (ingress) or daddr (egress); "" = any address
  L4 proto = L4::any;
  uint16_t port_first = 0;  // destination port range; 0 = no port match
  uint16_t port_last = 0;
  bool counter = true;  // allow and final_drop rules count
  std::string comment;  // where the rule came from, e.g. "shop: web -> api (shop.yaml:20:7)"
  // log rules only:
  uint32_t log_rate = 0;  // packets per second
  uint32_t log_burst = 0;
  uint16_t log_group = 0;
  std::string log_prefix;  // at most kLogPrefixMax bytes, no '"'
  // Read back from the kernel; never part of equality.
  uint64_t packets = 0;
  uint64_t bytes = 0;

  bool operator==(const NftRule& o) const {
    return kind == o.kind && family == o.family && peer_set == o.peer_set && proto == o.proto &&
           port_first == o.port_first && port_last == o.port_last && counter == o.counter &&
           comment == o.comment && log_rate == o.log_rate && log_burst == o.log_burst &&
           log_group == o.log_group && log_prefix == o.log_prefix;
  }
};

// `none`: a regular chain, entered only by a jump (the host layer's per-endpoint chains).
enum class Hook { input, output, forward, prerouting, none };

// Which side of a packet a chain judges: an ingress chain matches peers against the source
// address (and loopback as iif), an egress chain against the destination.
enum class ChainSide { ingress, egress };

struct NftChain {
  std::string name;  // "ingress" (hook input) or "egress" (hook output)
  Hook hook = Hook::input;
  int priority = 0;  // filter
  std::vector<NftRule> rules;
  // For chains on other hooks than input and output (where the hook says it).
  ChainSide side = ChainSide::ingress;
  // Accepts are written as `return`: a chain jumped to from the host layer's base chain, where an
  // accept would end the evaluation before the other endpoint's chain is asked.
  bool accept_returns = false;
  bool operator==(const NftChain&) const = default;
};

inline ChainSide side_of(const NftChain& c) {
  if (c.hook == Hook::input) return ChainSide::ingress;
  if (c.hook == Hook::output) return ChainSide::egress;
  return c.side;
}

// The kernel family a table lives in; the in-namespace table and the host layer's policy table
// are inet, the host layer's anti-spoofing table is bridge (its chains see bridge ports).
enum class TableFamily { inet, bridge };

// A verdict map: each key jumps to a chain. The host layer dispatches through them (an endpoint's
// address to its chains, a bridge port to its anti-spoofing chain), so an endpoint arriving or
// leaving is an element change, and a lookup costs the same at 10 endpoints as at 10,000.
enum class MapKey { ipv4, ipv6, ifname };
struct MapElement {
  std::string key;    // an address ("198.18.0.2") or an interface name
  std::string chain;  // jumped to
  auto operator<=>(const MapElement&) const = default;
};
struct NftMap {
  std::string name;
  MapKey key = MapKey::ipv4;
  std::vector<MapElement> elements;  // sorted by key
  auto operator<=>(const NftMap&) const = default;
};

struct NftTable {
  std::vector<NftSet> sets;      // sorted by name
  std::vector<NftChain> chains;  // ingress first, then egress
  std::vector<NftMap> maps;      // sorted by name
  TableFamily family = TableFamily::inet;
  std::string name = kTableName;
  bool operator==(const NftTable&) const = default;
};

struct TcLimit {
  uint64_t rate_bits = 0;    // bits per second (64-bit: rates above 4 Gbit work)
  uint64_t burst_bytes = 0;  // always explicit, never unbounded
  bool operator==(const TcLimit&) const = default;
};

struct TcPlan {
  std::optional<TcLimit> egress;  // root qdisc on the endpoint's interface
  std::optional<TcLimit>
      ingress;  // ingress qdisc + u32 match-all + mirred to kIfbName, limit there
  bool empty() const { return !egress && !ingress; }
  bool operator==(const TcPlan&) const = default;
};

struct EndpointPlan {
  std::string endpoint;           // endpoint name
  std::string netns;              // namespace path
  std::optional<NftTable> table;  // nullopt: the endpoint is not isolated; no table may exist
  TcPlan tc;
  bool operator==(const EndpointPlan&) const = default;
};

struct Plan {
  std::vector<EndpointPlan> endpoints;  // sorted by endpoint name; every endpoint appears
  bool operator==(const Plan&) const = default;
};

}  // namespace bulkhead::policy
