// Change notifications from one network namespace: nftables (NFNLGRP_NFTABLES) and tc/link
// (RTNLGRP_TC, RTNLGRP_LINK) events that touch bulkhead's objects, made by anyone but this
// process. The daemon uses it to restore a table or qdisc that a container with CAP_NET_ADMIN
// removed, without waiting for the periodic resync.
//
// Whose change it was comes from the kernel: every notification carries the netlink port id of the
// socket that asked for the change, and a sock_diag dump inside the namespace tells which socket
// holds that port id; a change is ours only when that socket is one of this process's open
// descriptors. A port id alone proves nothing (anyone may bind a free one), the socket inode does.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "netlink/nft/mnl_socket.h"
#include "netlink/ns/netns.h"

namespace bulkhead::netlink {

// Which of bulkhead's objects a monitor reports on (what the endpoint's plan holds).
struct WatchedObjects {
  bool table = false;       // table inet bulkhead and everything in it
  bool tc_egress = false;   // htb 1: root qdisc, its classes and filters, not on the ifb
  bool tc_ingress = false;  // ingress qdisc ffff: and its filters, the ifb and its qdiscs
  bool any() const { return table || tc_egress || tc_ingress; }
  bool tc() const { return tc_egress || tc_ingress; }
};

struct ChangeReport {
  // One line per foreign change, e.g. "DELTABLE inet bulkhead (port id 1234)".
  std::vector<std::string> changes;
  // The socket overflowed (ENOBUFS): changes may have been missed, so re-check everything.
  bool lost = false;
  bool any() const { return lost || !changes.empty(); }
};

class ChangeMonitor {
 public:
  // Opens non-blocking notification sockets inside `ns` (one visit to the namespace). The handle
  // is kept (shared, typically with the namespace's session) for the sock_diag socket, which is
  // opened only while a batch of changes is attributed: most namespaces never need one.
  static Result<ChangeMonitor> open(std::shared_ptr<const NetnsHandle> ns, WatchedObjects what);

  ChangeMonitor(ChangeMonitor&&) noexcept = default;
  ChangeMonitor& operator=(ChangeMonitor&&) noexcept = default;

  // Descriptors to poll; readable when notifications are queued.
  int nft_fd() const;
  int route_fd() const;
  ino_t netns_inode() const { return netns_inode_; }
  void set_watched(WatchedObjects what) { what_ = what; }
  const WatchedObjects& watched() const { return what_; }

  // Read every queued notification (never blocks) and return the foreign changes to watched
  // objects. Changes this process made are dropped here.
  ChangeReport read_nft();
  ChangeReport read_route();

 private:
  ChangeMonitor(MnlSocket nft, MnlSocket route, std::shared_ptr<const NetnsHandle> ns,
                WatchedObjects what, int ifb_ifindex)
      : nft_(std::move(nft)),
        route_(std::move(route)),
        ns_(std::move(ns)),
        netns_inode_(ns_->inode()),
        what_(what),
        ifb_ifindex_(ifb_ifindex) {}

  struct Candidate {
    uint32_t portid;
    std::string what;
  };
  // Drains `sock`; `relevant` describes a message that concerns a watched object, or returns "".
  ChangeReport drain(MnlSocket& sock, int protocol,
                     const std::function<std::string(const nlmsghdr*)>& relevant);
  // Port ids of netlink sockets of `protocol` in the namespace held by this process.
  std::set<uint32_t> own_portids(int protocol, const std::set<uint32_t>& asked);
  std::string describe_nft(const nlmsghdr* nlh) const;
  std::string describe_route(const nlmsghdr* nlh);

  MnlSocket nft_;
  MnlSocket route_;
  std::shared_ptr<const NetnsHandle> ns_;
  ino_t netns_inode_ = 0;
  WatchedObjects what_;
  int ifb_ifindex_ = 0;  // 0 until the ifb is seen
};

// Inodes of the sockets among this process's open descriptors (from /proc/self/fd).
std::set<ino_t> own_socket_inodes();
// Whether socket inode `ino` is one of this process's open descriptors. Socket inode numbers are
// not reused while the kernel's counter has not wrapped, so a cached "yes" stays true.
bool is_own_socket(ino_t ino);

}  // namespace bulkhead::netlink
