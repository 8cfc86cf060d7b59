#include "netlink/tc/host_ports.h"

#include <fcntl.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>

#include "common/unique_fd.h"
#include "netlink/tc/nl_route_socket.h"
#include "policy/plan/plan.h"

namespace bulkhead::netlink {
namespace {

struct CacheFree {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
using CachePtr = std::unique_ptr<nl_cache, CacheFree>;

struct Link {
  std::string name;
  std::string type;  // "veth", "bridge", ...
  int ifindex = 0;
  int peer = 0;    // IFLA_LINK: the peer's ifindex, in the peer's namespace
  int master = 0;  // the bridge (or bond) it is enslaved to
  bool up = false;
};

Result<std::map<int, Link>> links_of(const NetnsHandle& ns, const char* what) {
  auto sock = NlRouteSocket::open_in(ns);
  if (!sock.ok()) return sock.error();
  nl_cache* raw = nullptr;
  if (int err = rtnl_link_alloc_cache(sock->get(), AF_UNSPEC, &raw); err < 0)
    return nl_error(std::string("host ports: dump the links of ") + what, err);
  CachePtr cache(raw);
  std::map<int, Link> out;
  for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
    auto* l = reinterpret_cast<rtnl_link*>(o);
    Link link;
    const char* name = rtnl_link_get_name(l);
    const char* type = rtnl_link_get_type(l);
    link.name = name ? name : "";
    link.type = type ? type : "";
    link.ifindex = rtnl_link_get_ifindex(l);
    link.peer = rtnl_link_get_link(l);
    link.master = rtnl_link_get_master(l);
    link.up = (rtnl_link_get_flags(l) & IFF_UP) != 0;
    out.emplace(link.ifindex, std::move(link));
  }
  return out;
}

bool read_flag(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  char c = '0';
  return fd.get() >= 0 && ::read(fd.get(), &c, 1) == 1 && c == '1';
}

}  // namespace

Result<HostPortScan> scan_host_ports(const NetnsHandle& ns, const NetnsHandle& host) {
  auto inside = links_of(ns, "the endpoint's namespace");
  if (!inside.ok()) return inside.error();
  auto outside = links_of(host, "the host namespace");
  if (!outside.ok()) return outside.error();
  HostPortScan scan;
  for (const auto& [index, link] : *inside) {
    // Loopback, bulkhead's own ingress-shaping ifb, and interfaces that are down (a namespace's
    // fallback tunnel devices) carry no traffic of the endpoint's to a host.
    if (link.name == "lo" || link.name == policy::kIfbName || !link.up) continue;
    if (link.type != "veth") {
      scan.uncovered.push_back(link.name + ": not a veth");
      continue;
    }
    auto peer = outside->find(link.peer);
    if (peer == outside->end() || peer->second.type != "veth" || peer->second.peer != index) {
      scan.uncovered.push_back(link.name + ": no host end in the host namespace");
      continue;
    }
    auto master = outside->find(peer->second.master);
    if (master == outside->end() || master->second.type != "bridge") {
      scan.uncovered.push_back(link.name + ": host end " + peer->second.name +
                               " is not a bridge port");
      continue;
    }
    scan.ports.push_back(peer->second.name);
  }
  std::sort(scan.ports.begin(), scan.ports.end());
  return scan;
}

Result<bool> bridged_traffic_reaches_ip_hooks(const NetnsHandle& host) {
  bool on = false;
  // /proc/sys/net answers for the namespace of the thread that opens the file.
  auto st = run_in_netns(host, [&]() -> Status {
    on = read_flag("/proc/sys/net/bridge/bridge-nf-call-iptables") &&
         read_flag("/proc/sys/net/bridge/bridge-nf-call-ip6tables");
    return {};
  });
  if (!st.ok()) return st.error();
  return on;
}

}  // namespace bulkhead::netlink
