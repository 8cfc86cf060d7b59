// The daemon's side of the host layer (policy/plan/host.h, docs/host-layer.md): after the
// endpoints' own namespaces are applied, the host namespace is brought to the host plan compiled
// from the same desired plans, in one transaction. Sources and reloads only mark it dirty.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "common/result.h"
#include "enforcer/daemon/reconciler.h"
#include "netlink/dataplane.h"
#include "policy/model/endpoint.h"
#include "policy/plan/host.h"

namespace bulkhead::daemon {

// What the host layer does for one endpoint, for status: "enforced", or why it is not.
struct HostCoverage {
  bool enforced = false;
  std::string detail;  // "" when enforced everywhere; otherwise what is missing and why
};

// What the host layer dropped of one endpoint's traffic, as of the last resync.
struct HostDrops {
  uint64_t dropped = 0;  // by its egress and ingress chains' final drops
  uint64_t invalid = 0;  // ct state invalid, in the same chains
  uint64_t spoofed = 0;  // frames from its port with a source that is not its own
};

class HostLayer {
 public:
  HostLayer(netlink::Dataplane& dp, std::string host_netns)
      : dp_(dp), host_netns_(std::move(host_netns)) {}

  void mark_dirty() { dirty_ = true; }
  bool dirty() const { return dirty_; }

  // Scans the ports of endpoints not seen before, compiles and applies when the host plan
  // changed. On failure the kernel keeps the previous pair of tables and the layer stays dirty.
  Status apply(const std::map<std::string, EndpointState>& desired,
               const policy::Endpoints& endpoints);

  const std::string& host_netns() const { return host_netns_; }
  const std::map<std::string, HostCoverage>& coverage() const { return coverage_; }

  // Reads the host tables' drop counters (the resync); on failure the last reading stays.
  Status read_drops();
  // nullopt until a reading covers the endpoint.
  std::optional<HostDrops> drops(const std::string& endpoint) const;

 private:
  // The endpoint's scan, kept per namespace path once it succeeded; `failed` set when it did not.
  netlink::HostPortScan ports_of(const policy::EndpointPlan& plan, bool& failed);

  netlink::Dataplane& dp_;
  std::string host_netns_;
  bool dirty_ = true;
  std::map<std::string, netlink::HostPortScan> scans_;  // by netns path
  std::optional<policy::HostPlan> applied_;
  std::map<std::string, HostCoverage> coverage_;
  std::map<std::string, HostDrops> drops_;
};

}  // namespace bulkhead::daemon
