#include <linux/netlink.h>

#include <cerrno>
#include <mutex>

#include "netlink/dataplane.h"
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

  std::mutex mu_;
  std::shared_ptr<Sessions> sessions_;
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
