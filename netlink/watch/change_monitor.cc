#include "netlink/watch/change_monitor.h"

#include <dirent.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/netlink_diag.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>

#include "policy/plan/plan.h"

namespace bulkhead::netlink {
namespace {

// Our own applies of large sets queue many notifications at once; losing them would force a
// needless re-check, so give the kernel room.
constexpr int kReceiveBuffer = 4 << 20;

Status subscribe(MnlSocket& s, std::initializer_list<unsigned> groups, const std::string& op) {
  for (unsigned g : groups) {
    if (mnl_socket_setsockopt(s.get(), NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) != 0)
      return make_error(op, "cannot subscribe to group " + std::to_string(g), errno);
  }
  int fd = mnl_socket_get_fd(s.get());
  int size = kReceiveBuffer;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
    return make_error(op, "cannot make the socket non-blocking", errno);
  return {};
}

const char* nft_message_name(uint16_t msg) {
  switch (msg) {
    case NFT_MSG_NEWTABLE:
      return "NEWTABLE";
    case NFT_MSG_DELTABLE:
      return "DELTABLE";
    case NFT_MSG_NEWCHAIN:
      return "NEWCHAIN";
    case NFT_MSG_DELCHAIN:
      return "DELCHAIN";
    case NFT_MSG_NEWRULE:
      return "NEWRULE";
    case NFT_MSG_DELRULE:
      return "DELRULE";
    case NFT_MSG_NEWSET:
      return "NEWSET";
    case NFT_MSG_DELSET:
      return "DELSET";
    case NFT_MSG_NEWSETELEM:
      return "NEWSETELEM";
    case NFT_MSG_DELSETELEM:
      return "DELSETELEM";
    default:
      return "nftables change";
  }
}

const char* route_message_name(uint16_t type) {
  switch (type) {
    case RTM_NEWQDISC:
      return "NEWQDISC";
    case RTM_DELQDISC:
      return "DELQDISC";
    case RTM_NEWTCLASS:
      return "NEWTCLASS";
    case RTM_DELTCLASS:
      return "DELTCLASS";
    case RTM_NEWTFILTER:
      return "NEWTFILTER";
    case RTM_DELTFILTER:
      return "DELTFILTER";
    case RTM_NEWLINK:
      return "NEWLINK";
    case RTM_DELLINK:
      return "DELLINK";
    default:
      return "rtnetlink change";
  }
}

std::string handle_text(uint32_t h) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%x:%x", TC_H_MAJ(h) >> 16, TC_H_MIN(h));
  return buf;
}

// The first attribute of type `type` as a string, if the message has one.
std::optional<std::string> string_attr(const nlmsghdr* nlh, size_t header, uint16_t type) {
  std::optional<std::string> out;
  struct Ctx {
    uint16_t type;
    std::optional<std::string>* out;
  } ctx{type, &out};
  mnl_attr_parse(
      nlh, static_cast<unsigned>(header),
      [](const nlattr* a, void* data) -> int {
        auto* c = static_cast<Ctx*>(data);
        if (mnl_attr_get_type(a) != c->type) return MNL_CB_OK;
        if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0) return MNL_CB_STOP;
        *c->out = mnl_attr_get_str(a);
        return MNL_CB_STOP;
      },
      &ctx);
  return out;
}

}  // namespace

std::set<ino_t> own_socket_inodes() {
  std::set<ino_t> out;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    char link[64];
    ssize_t n = ::readlinkat(::dirfd(d), e->d_name, link, sizeof(link) - 1);
    if (n <= 0) continue;
    link[n] = '\0';
    unsigned long ino = 0;
    if (std::sscanf(link, "socket:[%lu]", &ino) == 1) out.insert(static_cast<ino_t>(ino));
  }
  ::closedir(d);
  return out;
}

bool is_own_socket(ino_t ino) {
  // The daemon's sockets live long, so the scan of /proc/self/fd (thousands of descriptors with
  // many endpoints) runs only for an inode not seen before: a new socket of ours, or a stranger's.
  static std::mutex mu;
  static std::set<ino_t> known;
  std::lock_guard lock(mu);
  if (known.count(ino)) return true;
  known = own_socket_inodes();
  return known.count(ino) > 0;
}

Result<ChangeMonitor> ChangeMonitor::open(std::shared_ptr<const NetnsHandle> ns,
                                          WatchedObjects what) {
  std::optional<MnlSocket> nft, route;
  int ifb = 0;
  const std::string op = "change monitor " + ns->path();
  Status st = run_in_netns(*ns, [&]() -> Status {
    auto n = MnlSocket::open(NETLINK_NETFILTER);
    if (!n.ok()) return n.error();
    auto r = MnlSocket::open(NETLINK_ROUTE);
    if (!r.ok()) return r.error();
    if (auto s = subscribe(*n, {NFNLGRP_NFTABLES}, op); !s.ok()) return s;
    if (auto s = subscribe(*r, {RTNLGRP_TC, RTNLGRP_LINK}, op); !s.ok()) return s;
    ifb = static_cast<int>(::if_nametoindex(policy::kIfbName));
    nft.emplace(std::move(n).value());
    route.emplace(std::move(r).value());
    return {};
  });
  if (!st.ok()) return st.error();
  return ChangeMonitor(std::move(*nft), std::move(*route), std::move(ns), what, ifb);
}

int ChangeMonitor::nft_fd() const { return mnl_socket_get_fd(nft_.get()); }
int ChangeMonitor::route_fd() const { return mnl_socket_get_fd(route_.get()); }

std::set<uint32_t> ChangeMonitor::own_portids(int protocol, const std::set<uint32_t>& asked) {
  std::map<uint32_t, ino_t> by_port;
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  auto* req =
      static_cast<netlink_diag_req*>(mnl_nlmsg_put_extra_header(nlh, sizeof(netlink_diag_req)));
  req->sdiag_family = AF_NETLINK;
  req->sdiag_protocol = static_cast<uint8_t>(protocol);
  // Opened for this dump only: a socket per namespace held for the rare attribution would cost a
  // descriptor per enforced namespace.
  auto diag = MnlSocket::open_in(*ns_, NETLINK_SOCK_DIAG);
  if (!diag.ok()) return {};  // unknown owners count as foreign, as below
  Status st = diag->dump(
      nlh,
      [&](const nlmsghdr* m) {
        if (m->nlmsg_len < mnl_nlmsg_size(sizeof(netlink_diag_msg))) return false;
        auto* d = static_cast<const netlink_diag_msg*>(mnl_nlmsg_get_payload(m));
        // Only the senders in question: the namespace's kernel sockets and strangers' sockets are
        // never ours, and looking them up would rescan /proc/self/fd on every notification.
        if (asked.count(d->ndiag_portid)) by_port[d->ndiag_portid] = d->ndiag_ino;
        return true;
      },
      "sock_diag netlink");
  std::set<uint32_t> out;
  if (!st.ok()) return out;  // unknown owners count as foreign: a needless repair, never a miss
  for (const auto& [port, ino] : by_port)
    if (is_own_socket(ino)) out.insert(port);
  return out;
}

ChangeReport ChangeMonitor::drain(MnlSocket& sock, int protocol,
                                  const std::function<std::string(const nlmsghdr*)>& relevant) {
  ChangeReport report;
  std::vector<Candidate> candidates;
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(sock.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == ENOBUFS) {
        report.lost = true;
        continue;
      }
      if (errno == EINTR) continue;
      report.lost = true;  // a broken socket: re-check rather than trust silence
      break;
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      std::string what = relevant(nlh);
      if (!what.empty()) candidates.push_back({nlh->nlmsg_pid, std::move(what)});
    }
  }
  if (candidates.empty()) return report;
  // One dump per batch, and only when a watched object changed.
  std::set<uint32_t> asked;
  for (const auto& c : candidates)
    if (c.portid != 0) asked.insert(c.portid);
  std::set<uint32_t> own = asked.empty() ? std::set<uint32_t>{} : own_portids(protocol, asked);
  for (auto& c : candidates) {
    // Port id 0 is the kernel acting on its own or on behalf of a request it did not attribute.
    if (c.portid != 0 && own.count(c.portid)) continue;
    report.changes.push_back(c.what + " (port id " + std::to_string(c.portid) + ")");
  }
  return report;
}

std::string ChangeMonitor::describe_nft(const nlmsghdr* nlh) const {
  if (!what_.table) return "";
  if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES) return "";
  const uint16_t msg = NFNL_MSG_TYPE(nlh->nlmsg_type);
  if (msg == NFT_MSG_NEWGEN) return "";
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nfgenmsg))) return "";
  auto* g = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
  if (g->nfgen_family != NFPROTO_INET) return "";
  // Attribute 1 names the table in every object message (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE,
  // NFTA_RULE_TABLE, NFTA_SET_TABLE, NFTA_SET_ELEM_LIST_TABLE, NFTA_OBJ_TABLE, ...).
  auto table = string_attr(nlh, sizeof(nfgenmsg), 1);
  if (!table || *table != policy::kTableName) return "";
  return std::string(nft_message_name(msg)) + " inet " + policy::kTableName;
}

std::string ChangeMonitor::describe_route(const nlmsghdr* nlh) {
  const uint16_t type = nlh->nlmsg_type;
  if (type == RTM_NEWLINK || type == RTM_DELLINK) {
    if (!what_.tc_ingress || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(ifinfomsg))) return "";
    auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
    auto name = string_attr(nlh, sizeof(ifinfomsg), IFLA_IFNAME);
    const bool is_ifb_name = name && *name == policy::kIfbName;
    if (type == RTM_NEWLINK) {
      if (is_ifb_name) {
        ifb_ifindex_ = ifi->ifi_index;
        return "";
      }
      // The ifb renamed away is as good as gone.
      if (ifi->ifi_index != ifb_ifindex_ || ifb_ifindex_ == 0) return "";
      return "ifb " + std::string(policy::kIfbName) + " renamed to " + name.value_or("?");
    }
    if (!is_ifb_name && (ifb_ifindex_ == 0 || ifi->ifi_index != ifb_ifindex_)) return "";
    ifb_ifindex_ = 0;
    return "DELLINK " + std::string(policy::kIfbName);
  }
  if (type != RTM_NEWQDISC && type != RTM_DELQDISC && type != RTM_NEWTCLASS &&
      type != RTM_DELTCLASS && type != RTM_NEWTFILTER && type != RTM_DELTFILTER)
    return "";
  if (!what_.tc() || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(tcmsg))) return "";
  auto* tc = static_cast<const tcmsg*>(mnl_nlmsg_get_payload(nlh));
  const int ifindex = tc->tcm_ifindex;
  const bool on_ifb = ifb_ifindex_ != 0 && ifindex == ifb_ifindex_;
  bool ours = false;
  if (on_ifb) {
    ours = what_.tc_ingress;
  } else if (ifindex != 1) {  // 1 is loopback in every namespace
    const bool filter = type == RTM_NEWTFILTER || type == RTM_DELTFILTER;
    const uint32_t major = TC_H_MAJ(filter ? tc->tcm_parent : tc->tcm_handle) >> 16;
    ours = (major == 1 && what_.tc_egress) || (major == 0xffff && what_.tc_ingress);
  }
  if (!ours) return "";
  auto kind = string_attr(nlh, sizeof(tcmsg), TCA_KIND);
  return std::string(route_message_name(type)) + " " + kind.value_or("") + " " +
         handle_text(tc->tcm_handle) + " ifindex " + std::to_string(ifindex);
}

ChangeReport ChangeMonitor::read_nft() {
  return drain(nft_, NETLINK_NETFILTER, [this](const nlmsghdr* m) { return describe_nft(m); });
}

ChangeReport ChangeMonitor::read_route() {
  return drain(route_, NETLINK_ROUTE, [this](const nlmsghdr* m) { return describe_route(m); });
}

}  // namespace bulkhead::netlink
