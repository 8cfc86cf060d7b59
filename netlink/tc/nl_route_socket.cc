#include "netlink/tc/nl_route_socket.h"

#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstdlib>
#include <optional>

namespace bulkhead::netlink {

Result<NlRouteSocket> NlRouteSocket::open() {
  nl_sock* sk = nl_socket_alloc();
  if (sk == nullptr) return make_error("rtnetlink socket", "cannot allocate", ENOMEM);
  if (int err = nl_connect(sk, NETLINK_ROUTE); err < 0) {
    nl_socket_free(sk);
    return nl_error("rtnetlink socket", err);
  }
  // A kernel that never answers must not hang the daemon.
  struct timeval tv {
    10, 0
  };
  setsockopt(nl_socket_get_fd(sk), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return NlRouteSocket(sk);
}

Result<NlRouteSocket> NlRouteSocket::open_in(const NetnsHandle& ns) {
  std::optional<NlRouteSocket> sock;
  Status st = run_in_netns(ns, [&]() -> Status {
    auto r = open();
    if (!r.ok()) return r.error();
    sock.emplace(std::move(r).value());
    return {};
  });
  if (!st.ok()) return st.error();
  return std::move(*sock);
}

NlRouteSocket& NlRouteSocket::operator=(NlRouteSocket&& o) noexcept {
  if (this != &o) {
    if (sk_ != nullptr) nl_socket_free(sk_);
    sk_ = o.sk_;
    o.sk_ = nullptr;
  }
  return *this;
}

NlRouteSocket::~NlRouteSocket() {
  if (sk_ != nullptr) nl_socket_free(sk_);
}

Error nl_error(const std::string& op, int nle) {
  int code = std::abs(nle);
  int err = 0;
  switch (code) {
    case NLE_EXIST:
      err = EEXIST;
      break;
    case NLE_OBJ_NOTFOUND:
      err = ENOENT;
      break;
    case NLE_NODEV:
      err = ENODEV;
      break;
    case NLE_PERM:
      err = EPERM;
      break;
    case NLE_NOACCESS:
      err = EACCES;
      break;
    case NLE_INVAL:
      err = EINVAL;
      break;
    case NLE_RANGE:
      err = ERANGE;
      break;
    case NLE_BUSY:
      err = EBUSY;
      break;
    case NLE_NOMEM:
      err = ENOMEM;
      break;
    case NLE_AGAIN:
      err = EAGAIN;
      break;
    case NLE_OPNOTSUPP:
      err = EOPNOTSUPP;
      break;
    case NLE_MSGSIZE:
      err = EMSGSIZE;
      break;
    case NLE_AF_NOSUPPORT:
      err = EAFNOSUPPORT;
      break;
    case NLE_PROTO_MISMATCH:
      err = EPROTONOSUPPORT;
      break;
    default:
      break;
  }
  return make_error(op, nl_geterror(nle), err);
}

}  // namespace bulkhead::netlink
