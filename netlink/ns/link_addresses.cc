#include "netlink/ns/link_addresses.h"

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/socket.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace bulkhead::netlink {
namespace {

struct SockFree {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct CacheFree {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};

}  // namespace

Result<std::vector<policy::IpAddr>> read_addresses(const NetnsHandle& ns) {
  std::vector<policy::IpAddr> out;
  Status st = run_in_netns(ns, [&]() -> Status {
    std::unique_ptr<nl_sock, SockFree> sock(nl_socket_alloc());
    if (!sock) return make_error("read addresses", "out of memory", ENOMEM);
    if (int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0)
      return make_error("read addresses: connect", nl_geterror(err));
    nl_cache* raw = nullptr;
    if (int err = rtnl_addr_alloc_cache(sock.get(), &raw); err < 0)
      return make_error("read addresses: dump", nl_geterror(err));
    std::unique_ptr<nl_cache, CacheFree> cache(raw);
    for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
      auto* a = reinterpret_cast<rtnl_addr*>(o);
      // RT_SCOPE_UNIVERSE only: drops loopback (host scope) and IPv6 link-local (link scope).
      if (rtnl_addr_get_scope(a) != 0) continue;
      nl_addr* local = rtnl_addr_get_local(a);
      if (!local) continue;
      policy::IpAddr ip;
      int fam = nl_addr_get_family(local);
      if (fam == AF_INET && nl_addr_get_len(local) == 4) {
        ip.family = 4;
        std::memcpy(ip.bytes.data(), nl_addr_get_binary_addr(local), 4);
      } else if (fam == AF_INET6 && nl_addr_get_len(local) == 16) {
        ip.family = 6;
        std::memcpy(ip.bytes.data(), nl_addr_get_binary_addr(local), 16);
      } else {
        continue;
      }
      out.push_back(ip);
    }
    return {};
  });
  if (!st.ok()) return st.error();
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace bulkhead::netlink
