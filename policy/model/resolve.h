// Which endpoints a policy entry applies to and which endpoints a peer names: the selection
// semantics of model.h, shared by compile and lint. (The reference evaluator in evaluate.cc
// deliberately re-derives them on its own so the differential test compares two implementations.)
#pragma once

#include <map>
#include <optional>
#include <string>

#include "policy/model/endpoint.h"
#include "policy/model/model.h"

namespace bulkhead::policy {

// Namespace labels: those of the `kind: Namespace` document, plus kubernetes.io/metadata.name,
// which every namespace carries even without a document.
class NamespaceIndex {
 public:
  explicit NamespaceIndex(const PolicySet& policies);
  const Labels& labels(const std::string& ns) const;

 private:
  mutable std::map<std::string, Labels> labels_;
};

bool subject_selects(const Subject& subject, const Endpoint& ep);
bool scope_contains(const NamespaceScope& scope, const std::string& ns,
                    const NamespaceIndex& namespaces);
bool peer_selects(const EndpointPeer& peer, const Endpoint& ep, const NamespaceIndex& namespaces);
// Whether `addr` lies in the CIDR and in none of its exceptions.
bool cidr_peer_contains(const CidrPeer& peer, const IpAddr& addr);

// A named port resolved against one endpoint: the name and the protocol must both match
// (a spec protocol of `any` accepts the endpoint's protocol).
std::optional<NamedPort> resolve_named_port(const PortSpec& spec, const Endpoint& ep);

// Canonical text of a peer scope, used for set names and deduplication.
std::string scope_key(const NamespaceScope& scope);
std::string endpoint_peer_key(const EndpointPeer& peer);
std::string cidr_peer_key(const CidrPeer& peer);

const char* protocol_name(Protocol p);

}  // namespace bulkhead::policy
