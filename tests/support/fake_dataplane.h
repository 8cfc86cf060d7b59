// A Dataplane that only records: every change as one deterministic text line, the namespace
// state it would produce kept in memory. For the reconciler's and the daemon's unit tests
// (tests/enforcer/daemon/); a second user of the same instance sees the state the first left,
// as a restarted daemon sees the kernel.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "netlink/dataplane.h"

namespace bulkhead::netlink {

class FakeDataplane final : public Dataplane {
 public:
  // Lines look like:
  //   apply web (/run/netns/web): nft replaced, tc egress=50000000bit/62500B ingress=-
  //   apply web (/run/netns/web): nft elements peers_x +2 -1
  //   apply web (/run/netns/web): nft deleted, tc removed
  //   remove /run/netns/web
  //   error apply web (/run/netns/web): <injected error>
  // An apply that changes nothing records nothing.
  Status apply(const policy::EndpointPlan& plan, ApplyOutcome* outcome = nullptr) override;
  Status remove(const std::string& netns_path) override;
  Result<Observed> observe(const std::string& netns_path) override;
  void forget(const std::string& netns_path) override;
  //   apply host /run/netns/sw: endpoints a,b; policy 3 chains; antispoof 2 ports
  Status apply_host(const std::string& host_netns, const policy::HostPlan& plan) override;
  Result<HostPortScan> host_ports(const std::string& netns, const std::string& host_netns) override;
  Result<bool> host_sees_bridged_traffic(const std::string& host_netns) override;
  Result<std::map<std::string, ChainDrops>> host_drops(const std::string& host_netns) override;
  void set_host_drops(std::map<std::string, ChainDrops> drops) { host_drops_ = std::move(drops); }

  // What host_ports answers for an endpoint's namespace (default: no port, nothing uncovered).
  void set_host_ports(const std::string& netns_path, HostPortScan scan);
  void set_bridged_traffic_seen(bool seen) { bridged_seen_ = seen; }
  // The host plan last applied, if any.
  const std::optional<policy::HostPlan>& host_plan() const { return host_plan_; }

  const std::vector<std::string>& lines() const { return lines_; }
  std::string text() const;  // lines joined with '\n', each ending with one
  void clear_lines() { lines_.clear(); }

  // The next operation on `netns_path` fails with `error` and changes nothing.
  void fail_next(const std::string& netns_path, Error error);
  // Pretends someone changed the namespace behind bulkhead's back (drift).
  void set_observed(const std::string& netns_path, Observed observed);
  // Namespaces that observe() reports as gone (ENOENT).
  void set_missing(const std::string& netns_path, bool missing);
  // How often observe() was called: a reading of the kernel.
  size_t observations() const { return observations_; }

 private:
  std::optional<Error> take_failure(const std::string& path, const std::string& what);

  std::map<std::string, Observed> state_;
  std::map<std::string, Error> failures_;
  std::map<std::string, bool> missing_;
  std::vector<std::string> lines_;
  size_t observations_ = 0;
  std::map<std::string, HostPortScan> host_ports_;
  bool bridged_seen_ = true;
  std::optional<policy::HostPlan> host_plan_;
  std::map<std::string, ChainDrops> host_drops_;
};

}  // namespace bulkhead::netlink
