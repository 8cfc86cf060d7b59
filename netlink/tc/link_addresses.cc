#include "netlink/tc/link_addresses.h"

#include <netlink/netlink.h>
#include <netlink/route/addr.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>

#include "netlink/tc/nl_route_socket.h"

namespace bulkhead::netlink {
namespace {

struct CacheFree {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};

// The address of a global-scope entry, if it is one: RT_SCOPE_UNIVERSE only drops loopback (host
// scope) and IPv6 link-local (link scope).
std::optional<policy::IpAddr> global_address(rtnl_addr* a) {
  if (rtnl_addr_get_scope(a) != 0) return std::nullopt;
  nl_addr* local = rtnl_addr_get_local(a);
  if (!local) return std::nullopt;
  policy::IpAddr ip;
  const int fam = nl_addr_get_family(local);
  if (fam == AF_INET && nl_addr_get_len(local) == 4) {
    ip.family = 4;
    std::memcpy(ip.bytes.data(), nl_addr_get_binary_addr(local), 4);
  } else if (fam == AF_INET6 && nl_addr_get_len(local) == 16) {
    ip.family = 6;
    std::memcpy(ip.bytes.data(), nl_addr_get_binary_addr(local), 16);
  } else {
    return std::nullopt;
  }
  return ip;
}

}  // namespace

Result<std::vector<policy::IpAddr>> read_addresses(const NetnsHandle& ns) {
  // The socket is bound to `ns` when it is made; the dump runs from this thread's own namespace.
  auto sock = NlRouteSocket::open_in(ns);
  if (!sock.ok()) return sock.error();
  nl_cache* raw = nullptr;
  if (int err = rtnl_addr_alloc_cache(sock->get(), &raw); err < 0)
    return nl_error("read addresses: dump", err);
  std::unique_ptr<nl_cache, CacheFree> cache(raw);
  std::vector<policy::IpAddr> out;
  for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
    if (auto ip = global_address(reinterpret_cast<rtnl_addr*>(o))) out.push_back(*ip);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace bulkhead::netlink
