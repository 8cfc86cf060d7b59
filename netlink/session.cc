#include "netlink/session.h"

#include <linux/netlink.h>

#include <cerrno>

namespace bulkhead::netlink {

Status NetnsSession::open_requests() {
  // Both sockets from one visit to the namespace.
  std::optional<MnlSocket> nft;
  std::optional<NlRouteSocket> route;
  Status st = run_in_netns(*ns_, [&]() -> Status {
    auto n = MnlSocket::open(NETLINK_NETFILTER);
    if (!n.ok()) return n.error();
    auto r = NlRouteSocket::open();
    if (!r.ok()) return r.error();
    nft.emplace(std::move(n).value());
    route.emplace(std::move(r).value());
    return {};
  });
  if (!st.ok()) return st;
  nft_ = std::move(nft);
  route_ = std::move(route);
  return {};
}

Result<MnlSocket*> NetnsSession::nft() {
  if (!nft_)
    if (auto st = open_requests(); !st.ok()) return st.error();
  return &*nft_;
}

Result<NlRouteSocket*> NetnsSession::route() {
  if (!route_)
    if (auto st = open_requests(); !st.ok()) return st.error();
  return &*route_;
}

void NetnsSession::reset_requests() {
  nft_.reset();
  route_.reset();
}

Result<std::shared_ptr<NetnsSession>> Sessions::open(const std::string& path) {
  std::lock_guard lock(mu_);
  auto ino = netns_inode(path);
  auto it = by_path_.find(path);
  if (!ino.ok()) {
    if (it != by_path_.end()) by_path_.erase(it);
    return ino.error();
  }
  if (it != by_path_.end() && it->second->inode() == *ino) return it->second;
  auto ns = NetnsHandle::open(path);
  if (!ns.ok()) return ns.error();
  // Whatever a source says, the namespace this process started in is the host's, never an
  // endpoint's: its rules and qdiscs are not bulkhead's to write or delete.
  if (is_start_netns(*ns)) {
    return make_error("open netns " + path,
                      "refusing the namespace bulkhead runs in (the host's), not an endpoint's",
                      EPERM);
  }
  auto s = std::make_shared<NetnsSession>(std::move(ns).value());
  by_path_[path] = s;
  return s;
}

std::shared_ptr<NetnsSession> Sessions::current(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = by_path_.find(path);
  return it == by_path_.end() ? nullptr : it->second;
}

void Sessions::forget(const std::string& path) {
  std::lock_guard lock(mu_);
  by_path_.erase(path);
}

size_t Sessions::size() const {
  std::lock_guard lock(mu_);
  return by_path_.size();
}

}  // namespace bulkhead::netlink
