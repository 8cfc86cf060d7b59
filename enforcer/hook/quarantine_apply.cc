#include "enforcer/hook/quarantine_apply.h"

#include <linux/netlink.h>

#include <string>

#include "netlink/nft/apply.h"
#include "netlink/nft/mnl_socket.h"
#include "netlink/nft/read.h"
#include "netlink/ns/netns.h"
#include "policy/plan/quarantine.h"

namespace bulkhead::hook {

Status install_quarantine(int pid) {
  auto ns = netlink::NetnsHandle::open("/proc/" + std::to_string(pid) + "/ns/net");
  if (!ns) return ns.error();
  // The hook runs in the host's namespace; a container sharing it (--network host) cannot be
  // isolated by an in-namespace table, and quarantining the host would cut off everything.
  if (netlink::is_start_netns(*ns))
    return make_error("quarantine", "the container shares the host's network namespace");
  auto sock = netlink::MnlSocket::open_in(*ns, NETLINK_NETFILTER);
  if (!sock) return sock.error();
  auto current = netlink::read_table(*sock);
  if (!current) return current.error();
  if (*current && !policy::is_quarantine_table(**current)) return {};
  return netlink::replace_table(*sock, policy::quarantine_table());
}

}  // namespace bulkhead::hook
