#include <linux/netlink.h>

#include <cerrno>
#include <map>
#include <mutex>

#include "netlink/dataplane.h"
#include "netlink/nft/mnl_socket.h"
#include "netlink/nft/read.h"
#include "netlink/ns/netns.h"
#include "netlink/tc/nl_route_socket.h"
#include "netlink/tc/shaping.h"

namespace bulkhead::netlink {
namespace {

struct NamespaceContext {
  NetnsHandle ns;
  MnlSocket nft;
  NlRouteSocket route;
};

class KernelDataplane final : public Dataplane {
 public:
  Status apply(const policy::EndpointPlan& plan, ApplyOutcome* outcome) override {
    std::lock_guard lock(mu_);
    Status st = apply_locked(plan, outcome);
    // After a failure the sockets may hold late replies; the next call starts clean.
    if (!st.ok()) contexts_.erase(plan.netns);
    return st;
  }

  Status remove(const std::string& path) override {
    std::lock_guard lock(mu_);
    Status st = remove_locked(path);
    if (!st.ok()) contexts_.erase(path);
    return st;
  }

  Result<Observed> observe(const std::string& path) override {
    std::lock_guard lock(mu_);
    auto o = observe_locked(path);
    if (!o.ok()) contexts_.erase(path);
    return o;
  }

  void forget(const std::string& path) override {
    std::lock_guard lock(mu_);
    contexts_.erase(path);
  }

 private:
  Status apply_locked(const policy::EndpointPlan& plan, ApplyOutcome* outcome) {
    auto ctx = context(plan.netns);
    if (!ctx.ok()) return ctx.error();
    NamespaceContext& c = **ctx;
    auto change = apply_table(c.nft, plan.table);
    if (!change.ok()) return with_endpoint(change.error(), plan);
    auto tc = read_tc(c.route);
    bool tc_changed = false;
    if (!tc.ok()) {
      // A namespace without an interface can still hold its table; limits then have no place.
      if (!plan.tc.empty() || tc.error().code != ENODEV) return with_endpoint(tc.error(), plan);
    } else if (!tc_equivalent(*tc, plan.tc)) {
      if (auto st = apply_tc(c.route, plan.tc); !st.ok()) return with_endpoint(st.error(), plan);
      tc_changed = true;
    }
    if (outcome) *outcome = ApplyOutcome{*change, tc_changed};
    return {};
  }

  Status remove_locked(const std::string& path) {
    auto ctx = context(path);
    if (!ctx.ok()) {
      if (ctx.error().code == ENOENT) {
        contexts_.erase(path);
        return {};
      }
      return ctx.error();
    }
    NamespaceContext& c = **ctx;
    if (auto st = delete_table(c.nft); !st.ok()) return st;
    if (auto st = remove_tc(c.route); !st.ok()) return st;
    return {};
  }

  Result<Observed> observe_locked(const std::string& path) {
    auto ctx = context(path);
    if (!ctx.ok()) return ctx.error();
    NamespaceContext& c = **ctx;
    Observed o;
    o.netns_inode = c.ns.inode();
    auto table = read_table(c.nft);
    if (!table.ok()) return table.error();
    o.table = std::move(*table);
    auto tc = read_tc(c.route);
    if (tc.ok()) {
      o.tc = *tc;
    } else if (tc.error().code != ENODEV) {
      return tc.error();
    }
    return o;
  }

  static Error with_endpoint(Error e, const policy::EndpointPlan& plan) {
    e.op = "endpoint " + plan.endpoint + " (" + plan.netns + "): " + e.op;
    return e;
  }

  Result<NamespaceContext*> context(const std::string& path) {
    auto ino = netns_inode(path);
    auto it = contexts_.find(path);
    if (!ino.ok()) {
      if (it != contexts_.end()) contexts_.erase(it);
      return ino.error();
    }
    if (it != contexts_.end() && it->second->ns.inode() == *ino) return it->second.get();
    auto ns = NetnsHandle::open(path);
    if (!ns.ok()) return ns.error();
    // Whatever a source says, the namespace this process started in is the host's, never an
    // endpoint's: its rules and qdiscs are not bulkhead's to write or delete.
    if (is_start_netns(*ns)) {
      return make_error("open netns " + path,
                        "refusing the namespace bulkhead runs in (the host's), not an endpoint's",
                        EPERM);
    }
    // Both sockets from one visit to the namespace.
    std::optional<MnlSocket> nft;
    std::optional<NlRouteSocket> route;
    Status st = run_in_netns(*ns, [&]() -> Status {
      auto n = MnlSocket::open(NETLINK_NETFILTER);
      if (!n.ok()) return n.error();
      auto r = NlRouteSocket::open();
      if (!r.ok()) return r.error();
      nft.emplace(std::move(n).value());
      route.emplace(std::move(r).value());
      return {};
    });
    if (!st.ok()) return st.error();
    auto c = std::make_unique<NamespaceContext>(
        NamespaceContext{std::move(ns).value(), std::move(*nft), std::move(*route)});
    NamespaceContext* raw = c.get();
    contexts_[path] = std::move(c);
    return raw;
  }

  std::mutex mu_;
  std::map<std::string, std::unique_ptr<NamespaceContext>> contexts_;
};

}  // namespace

bool in_sync(const Observed& observed, const policy::EndpointPlan& plan) {
  if (observed.table.has_value() != plan.table.has_value()) return false;
  if (plan.table && *observed.table != kernel_form(*plan.table)) return false;
  return tc_equivalent(observed.tc, plan.tc);
}

std::unique_ptr<Dataplane> make_kernel_dataplane() { return std::make_unique<KernelDataplane>(); }

}  // namespace bulkhead::netlink
