// The one intermediate representation that both front ends (native bulkhead/v1 and Kubernetes
// NetworkPolicy) load into (docs/policy.md). Pure data; evaluation lives in evaluate.h,
// compilation in compile.h.
//
// Semantics (Kubernetes', which the native format maps onto; docs/policy.md says how):
// - An endpoint is isolated in a direction when at least one Isolation entry of that direction
//   selects it. A non-isolated direction allows everything.
// - An isolated direction allows exactly the union of the AllowRules of that direction whose
//   subject selects the endpoint.
// - A flow A -> B on port P passes when A's egress allows (B, P) and B's ingress allows (A, P).
// - Always allowed: loopback, replies (ct established/related), IPv6 neighbour discovery.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "policy/model/address.h"
#include "policy/model/diagnostic.h"
#include "policy/model/selector.h"

namespace bulkhead::policy {

enum class Direction { ingress, egress };

// `icmp` in the model means ICMP for IPv4 and ICMPv6 for IPv6 (minus neighbour discovery,
// which is always allowed).
enum class Protocol { any, tcp, udp, sctp, icmp };

struct PortSpec {
  Protocol proto = Protocol::any;  // Kubernetes: defaults to TCP at load time, never `any`
  // Numeric port range, inclusive. first == 0 means "every port of proto" (protocol-only).
  uint16_t first = 0;
  uint16_t last = 0;
  // Kubernetes named port, resolved against the destination endpoint's named ports (name and
  // protocol must both match). When set, first/last are 0.
  std::string named;
  SourcePos pos;
};

// Which namespaces an endpoint peer may come from.
struct NamespaceScope {
  enum class Kind {
    any,       // every namespace (native groups; Kubernetes `namespaceSelector: {}`)
    named,     // exactly `name` (Kubernetes podSelector-only peers: the policy's namespace)
    selector,  // namespaces whose labels match `selector`
  };
  Kind kind = Kind::any;
  std::string name;
  LabelSelector selector;
};

// A set of endpoints: those whose labels match `pods` and whose namespace is in `namespaces`.
struct EndpointPeer {
  LabelSelector pods;
  NamespaceScope namespaces;
  std::string group;  // native group name, for readable set names; "" for Kubernetes peers
};

struct CidrPeer {
  Cidr cidr;
  std::vector<Cidr> except;
};

struct Peer {
  std::variant<EndpointPeer, CidrPeer> what;
  SourcePos pos;
};

// Where a rule or isolation came from: shown by explain, lint, compile comments and status.
struct Origin {
  std::string policy;  // native: policy name; Kubernetes: "namespace/name"
  std::string kind;    // "Policy" or "NetworkPolicy"
  SourcePos pos;       // the policy document (for isolation) or the rule (for allow rules)
  bool audit = false;  // audit mode: never enforced; what it would deny is counted and logged
};

// The endpoints a policy entry applies to.
struct Subject {
  LabelSelector pods;
  std::optional<std::string> ns;  // Kubernetes: the policy's namespace; native: unset (any)
  std::string group;              // native group name; "" for Kubernetes
};

struct Isolation {
  Direction dir = Direction::ingress;
  Subject subject;
  Origin origin;
};

struct AllowRule {
  Direction dir = Direction::ingress;
  Subject subject;
  // Peers: empty with any_peer=true means every source (ingress) or destination (egress),
  // endpoints and outside addresses alike. Empty with any_peer=false allows nothing.
  bool any_peer = false;
  std::vector<Peer> peers;
  // Ports: any_port=true means every port and protocol.
  bool any_port = false;
  std::vector<PortSpec> ports;
  Origin origin;
};

struct Rate {
  uint64_t bits_per_second = 0;
  uint64_t burst_bytes = 0;  // always explicit in the plan; the loader fills a default when omitted
  SourcePos pos;
};

struct BandwidthLimit {
  Subject subject;
  std::optional<Rate> egress;   // traffic leaving the endpoint
  std::optional<Rate> ingress;  // traffic arriving at the endpoint
  Origin origin;
};

struct NamespaceInfo {
  std::string name;
  Labels labels;  // includes kubernetes.io/metadata.name
  SourcePos pos;
};

// One loaded policy document, for lint and status.
struct PolicyInfo {
  std::string name;  // as in Origin::policy
  std::string kind;
  SourcePos pos;
  bool audit = false;
  // Where the next document (or list item) of the file starts: the policy's text is [pos, end),
  // so a warning positioned there is the policy's. Unset (line 0): to the end of the file.
  SourcePos end = {};
  std::vector<std::string> lint_ignore = {};  // rule ids its author silenced (docs/lint.md)
  SourcePos lint_ignore_pos = {};             // where that list is written
};

struct PolicySet {
  std::vector<PolicyInfo> policies;
  std::vector<Isolation> isolations;
  std::vector<AllowRule> rules;
  std::vector<BandwidthLimit> limits;
  std::vector<NamespaceInfo> namespaces;  // from `kind: Namespace` documents
};

}  // namespace bulkhead::policy
