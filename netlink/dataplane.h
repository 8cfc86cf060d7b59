// The daemon's narrow view of the kernel: bring a namespace to its EndpointPlan, remove
// bulkhead's objects, observe what is there. KernelDataplane does it for real; FakeDataplane
// (tests/support/fake_dataplane.h) records operations as text for reconciler tests.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "netlink/nft/apply.h"
#include "netlink/nft/read.h"
#include "netlink/tc/host_ports.h"
#include "policy/plan/host.h"
#include "policy/plan/plan.h"

namespace bulkhead::netlink {

class Sessions;

// What bulkhead's objects in a namespace look like now.
struct Observed {
  std::optional<policy::NftTable> table;  // nullopt: no `inet bulkhead` table
  policy::TcPlan tc;
  uint64_t netns_inode = 0;  // identity of the namespace the observation came from
};

struct ApplyOutcome {
  NftChange nft = NftChange::none;
  bool tc_changed = false;
};

// Drift check: whether `observed` already is `plan` (table compared in kernel form, limits
// within the kernel's rounding of bursts).
bool in_sync(const Observed& observed, const policy::EndpointPlan& plan);

class Dataplane {
 public:
  virtual ~Dataplane() = default;

  // Brings plan.netns to the plan with the smallest change: set elements only when the table's
  // shape is unchanged (rule counters survive), else an atomic table replace; no table when
  // plan.table is nullopt; tc limits added, changed or removed. The nftables part is one
  // transaction: on error the previous table is untouched.
  virtual Status apply(const policy::EndpointPlan& plan, ApplyOutcome* outcome = nullptr) = 0;
  // Removes bulkhead's table, qdiscs and ifb. A namespace that no longer exists is fine.
  virtual Status remove(const std::string& netns_path) = 0;
  virtual Result<Observed> observe(const std::string& netns_path) = 0;
  // Drops cached handles and sockets of a namespace (its endpoint went away).
  virtual void forget(const std::string& netns_path) = 0;
  // The host layer (policy/plan/host.h): both of its tables in the namespace at `host_netns`, in
  // one transaction. The only call that writes to the host's namespace, and only bulkhead-host
  // tables, whose rules name bulkhead's endpoints alone.
  virtual Status apply_host(const std::string& host_netns, const policy::HostPlan& plan) = 0;
  // The bridge ports in `host_netns` that are the host ends of the veths in `netns`.
  virtual Result<HostPortScan> host_ports(const std::string& netns,
                                          const std::string& host_netns) = 0;
  // Whether bridged traffic in `host_netns` passes the IP hooks (br_netfilter on), where the
  // host layer's policy table sits.
  virtual Result<bool> host_sees_bridged_traffic(const std::string& host_netns) = 0;
  // What each chain of the two host tables dropped (their counted drops), by chain name.
  virtual Result<std::map<std::string, ChainDrops>> host_drops(const std::string& host_netns) = 0;

  // The namespace sessions the calls above use, for the daemon's other users of a namespace (the
  // tamper watch, the flow log); nullptr when there are none (a fake).
  virtual Sessions* sessions() { return nullptr; }
};

// The real thing. Works through one NetnsSession per namespace path (netlink/session.h): the
// namespace fd and the request sockets opened inside it; a path whose namespace inode changed
// (restarted container) gets a new session. Calls are serialized internally. Without `sessions`
// it makes its own.
std::unique_ptr<Dataplane> make_kernel_dataplane(std::shared_ptr<Sessions> sessions = nullptr);

}  // namespace bulkhead::netlink
