#include <linux/netlink.h>

#include <cerrno>
#include <mutex>
#include <optional>

#include "netlink/dataplane.h"
#include "netlink/nft/host_apply.h"
#include "netlink/nft/mnl_socket.h"
#include "netlink/nft/read.h"
#include "netlink/ns/netns.h"
#include "netlink/session.h"
#include "netlink/tc/nl_route_socket.h"
#include "netlink/tc/shaping.h"

namespace bulkhead::netlink {
namespace {

class KernelDataplane final : public Dataplane {
 public:
  explicit KernelDataplane(std::shared_ptr<Sessions> sessions) : sessions_(std::move(sessions)) {}

  Sessions* sessions() override { return sessions_.get(); }

  Status apply(const policy::EndpointPlan& plan, ApplyOutcome* outcome) override {
    std::lock_guard lock(mu_);
    Status st = apply_locked(plan, outcome);
    // After a failure the sockets may hold late replies; the next call starts clean.
    if (!st.ok()) drop_requests(plan.netns);
    return st;
  }

  Status remove(const std::string& path) override {
    std::lock_guard lock(mu_);
    Status st = remove_locked(path);
    if (!st.ok()) drop_requests(path);
    return st;
  }

  Result<Observed> observe(const std::string& path) override {
    std::lock_guard lock(mu_);
    auto o = observe_locked(path);
    if (!o.ok()) drop_requests(path);
    return o;
  }

  void forget(const std::string& path) override {
    std::lock_guard lock(mu_);
    sessions_->forget(path);
  }

  Status apply_host(const std::string& host_netns, const policy::HostPlan& plan) override {
    std::lock_guard lock(mu_);
    auto sock = host_socket(host_netns);
    if (!sock.ok()) return sock.error();
    auto done = commit_host_tables(**sock, host_->committed, plan);
    if (!done.ok()) {
      // The socket may hold late replies, and what the kernel holds is no longer known: the next
      // apply starts from a new socket and replaces both tables.
      host_->nft.reset();
      host_->committed.reset();
      return done.error();
    }
    host_->committed = plan;
    return {};
  }

  Result<HostPortScan> host_ports(const std::string& netns,
                                  const std::string& host_netns) override {
    std::lock_guard lock(mu_);
    auto session = sessions_->open(netns);
    if (!session.ok()) return session.error();
    auto host = host_handle(host_netns);
    if (!host.ok()) return host.error();
    return scan_host_ports((*session)->ns(), **host);
  }

  Result<std::map<std::string, ChainDrops>> host_drops(const std::string& host_netns) override {
    std::lock_guard lock(mu_);
    auto sock = host_socket(host_netns);
    if (!sock.ok()) return sock.error();
    std::map<std::string, ChainDrops> out;
    for (auto family : {policy::TableFamily::inet, policy::TableFamily::bridge}) {
      auto drops = read_drop_counters(**sock, {family, policy::kHostTableName});
      if (!drops.ok()) {
        host_->nft.reset();
        return drops.error();
      }
      out.merge(*drops);
    }
    return out;
  }

  Result<bool> host_sees_bridged_traffic(const std::string& host_netns) override {
    std::lock_guard lock(mu_);
    auto host = host_handle(host_netns);
    if (!host.ok()) return host.error();
    return bridged_traffic_reaches_ip_hooks(**host);
  }

 private:
  // After a failure the request sockets may hold late replies; the next call opens new ones. The
  // session itself (and the namespace handle its other users hold) stays.
  void drop_requests(const std::string& path) {
    if (auto s = sessions_->current(path)) s->reset_requests();
  }

  Status apply_locked(const policy::EndpointPlan& plan, ApplyOutcome* outcome) {
    auto ctx = sockets(plan.netns);
    if (!ctx.ok()) return ctx.error();
    Sockets& c = *ctx;
    auto change = apply_table(*c.nft, plan.table);
    if (!change.ok()) return with_endpoint(change.error(), plan);
    auto tc = read_tc(*c.route);
    bool tc_changed = false;
    if (!tc.ok()) {
      // A namespace without an interface can still hold its table; limits then have no place.
      if (!plan.tc.empty() || tc.error().code != ENODEV) return with_endpoint(tc.error(), plan);
    } else if (!tc_equivalent(*tc, plan.tc)) {
      if (auto st = apply_tc(*c.route, plan.tc); !st.ok()) return with_endpoint(st.error(), plan);
      tc_changed = true;
    }
    if (outcome) *outcome = ApplyOutcome{*change, tc_changed};
    return {};
  }

  Status remove_locked(const std::string& path) {
    auto ctx = sockets(path);
    if (!ctx.ok()) {
      if (ctx.error().code == ENOENT) {
        sessions_->forget(path);
        return {};
      }
      return ctx.error();
    }
    Sockets& c = *ctx;
    if (auto st = delete_table(*c.nft); !st.ok()) return st;
    if (auto st = remove_tc(*c.route); !st.ok()) return st;
    return {};
  }

  Result<Observed> observe_locked(const std::string& path) {
    auto ctx = sockets(path);
    if (!ctx.ok()) return ctx.error();
    Sockets& c = *ctx;
    Observed o;
    o.netns_inode = c.session->inode();
    auto table = read_table(*c.nft);
    if (!table.ok()) return table.error();
    o.table = std::move(*table);
    auto tc = read_tc(*c.route);
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

  struct Sockets {
    std::shared_ptr<NetnsSession> session;  // holds the two below
    MnlSocket* nft;
    NlRouteSocket* route;
  };
  Result<Sockets> sockets(const std::string& path) {
    auto s = sessions_->open(path);
    if (!s.ok()) return s.error();
    auto nft = (*s)->nft();
    if (!nft.ok()) return nft.error();
    auto route = (*s)->route();
    if (!route.ok()) return route.error();
    return Sockets{*s, *nft, *route};
  }

  // The host namespace, opened apart from the endpoint sessions (which refuse the host's own
  // namespace): only the host layer goes there. Reopened when the path names another namespace.
  struct HostSession {
    std::string path;
    NetnsHandle ns;
    std::optional<MnlSocket> nft;
    // What this session last committed: the next apply changes set elements only where it can.
    // Nothing else writes these tables (no workload reaches the host's namespace).
    std::optional<policy::HostPlan> committed;
  };
  Result<const NetnsHandle*> host_handle(const std::string& path) {
    auto inode = netns_inode(path);
    if (!inode.ok()) return inode.error();
    if (!host_ || host_->path != path || host_->ns.inode() != *inode) {
      auto ns = NetnsHandle::open(path);
      if (!ns.ok()) return ns.error();
      host_ = HostSession{path, std::move(*ns), std::nullopt, std::nullopt};
    }
    return &host_->ns;
  }
  Result<MnlSocket*> host_socket(const std::string& path) {
    auto ns = host_handle(path);
    if (!ns.ok()) return ns.error();
    if (!host_->nft) {
      auto sock = MnlSocket::open_in(**ns, NETLINK_NETFILTER);
      if (!sock.ok()) return sock.error();
      host_->nft.emplace(std::move(*sock));
    }
    return &*host_->nft;
  }

  std::mutex mu_;
  std::shared_ptr<Sessions> sessions_;
  std::optional<HostSession> host_;
};

}  // namespace

bool in_sync(const Observed& observed, const policy::EndpointPlan& plan) {
  if (observed.table.has_value() != plan.table.has_value()) return false;
  if (plan.table && *observed.table != kernel_form(*plan.table)) return false;
  return tc_equivalent(observed.tc, plan.tc);
}

std::unique_ptr<Dataplane> make_kernel_dataplane(std::shared_ptr<Sessions> sessions) {
  if (!sessions) sessions = std::make_shared<Sessions>();
  return std::make_unique<KernelDataplane>(std::move(sessions));
}

}  // namespace bulkhead::netlink
