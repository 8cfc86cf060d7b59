// An owned libnl-route socket bound to the namespace it was opened in, and the translation of
// libnl's NLE_* codes into errors.
#pragma once

#include <string>

#include "common/result.h"
#include "netlink/ns/netns.h"

struct nl_sock;

namespace bulkhead::netlink {

class NlRouteSocket {
 public:
  static Result<NlRouteSocket> open();  // in the calling thread's namespace
  static Result<NlRouteSocket> open_in(const NetnsHandle& ns);

  NlRouteSocket(NlRouteSocket&& o) noexcept : sk_(o.sk_) { o.sk_ = nullptr; }
  NlRouteSocket& operator=(NlRouteSocket&& o) noexcept;
  NlRouteSocket(const NlRouteSocket&) = delete;
  NlRouteSocket& operator=(const NlRouteSocket&) = delete;
  ~NlRouteSocket();

  nl_sock* get() const { return sk_; }

 private:
  explicit NlRouteSocket(nl_sock* sk) : sk_(sk) {}
  nl_sock* sk_ = nullptr;
};

// libnl returns negative NLE_* codes; this maps them to errno (where one fits) and keeps
// nl_geterror's text.
Error nl_error(const std::string& op, int nle);

}  // namespace bulkhead::netlink
