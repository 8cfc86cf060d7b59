// One namespace session per enforced namespace, shared by everything the daemon does there: the
// dataplane's applies and reads, the tamper watch's change monitor and the flow log's socket all
// start from the same namespace handle, opened and checked once, instead of each opening and
// re-checking the namespace on its own.
//
// A session owns the namespace handle (which keeps the namespace alive) and opens the request
// sockets lazily, the nftables and rtnetlink ones together in one visit to the namespace. The
// notification sockets stay with their users: a socket subscribed to change notifications or
// bound to a log group would see those messages among the replies to requests.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/result.h"
#include "netlink/nft/mnl_socket.h"
#include "netlink/ns/netns.h"
#include "netlink/tc/nl_route_socket.h"

namespace bulkhead::netlink {

class NetnsSession {
 public:
  explicit NetnsSession(NetnsHandle ns) : ns_(std::make_shared<const NetnsHandle>(std::move(ns))) {}

  const NetnsHandle& ns() const { return *ns_; }
  // Shared with a user that must outlive a forget() of the session (a change monitor opening its
  // sock_diag socket later); the namespace fd is the same one.
  std::shared_ptr<const NetnsHandle> shared_ns() const { return ns_; }
  ino_t inode() const { return ns_->inode(); }

  // The dataplane's request sockets, opened on first use. The nftables socket stays open for the
  // session's life: the tamper watch recognises the daemon's own changes by it (port id ->
  // sock_diag -> one of this process's open sockets).
  Result<MnlSocket*> nft();
  Result<NlRouteSocket*> route();
  // Closes the request sockets: after a failed call they may hold late replies.
  void reset_requests();

 private:
  Status open_requests();
  std::shared_ptr<const NetnsHandle> ns_;
  std::optional<MnlSocket> nft_;
  std::optional<NlRouteSocket> route_;
};

// The sessions by namespace path. Thread-safe; a session handed out stays valid while held.
class Sessions {
 public:
  // The session of `path`: the cached one while the namespace inode behind the path is unchanged,
  // a new one otherwise (a restarted container). One stat when cached. Refuses (EPERM) the
  // namespace the daemon runs in, the host's, whatever a source says.
  Result<std::shared_ptr<NetnsSession>> open(const std::string& path);
  // The session open() last returned for `path`, without a stat; nullptr when there is none.
  std::shared_ptr<NetnsSession> current(const std::string& path) const;
  // Drops the session of `path` (its endpoint went away, or a call failed).
  void forget(const std::string& path);
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<NetnsSession>> by_path_;
};

}  // namespace bulkhead::netlink
