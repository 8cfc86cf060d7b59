#include "netlink/nft/mnl_socket.h"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

namespace bulkhead::netlink {
namespace {

constexpr int kRecvTimeoutSeconds = 10;

}  // namespace

Result<MnlSocket> MnlSocket::open(int bus) {
  mnl_socket* s = mnl_socket_open2(bus, SOCK_CLOEXEC);
  if (s == nullptr) return make_error("netlink socket", "cannot open", errno);
  if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
    int err = errno;
    mnl_socket_close(s);
    return make_error("netlink socket", "cannot bind", err);
  }
  int on = 1;
  // Both are best effort: without them errors still arrive, only with less detail.
  mnl_socket_setsockopt(s, NETLINK_EXT_ACK, &on, sizeof(on));
  mnl_socket_setsockopt(s, NETLINK_CAP_ACK, &on, sizeof(on));
  struct timeval tv {
    kRecvTimeoutSeconds, 0
  };
  setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  // Distinct starting sequence numbers make stale replies from an earlier use recognisable.
  return MnlSocket(s, mnl_socket_get_portid(s), static_cast<uint32_t>(time(nullptr)));
}

Result<MnlSocket> MnlSocket::open_in(const NetnsHandle& ns, int bus) {
  std::optional<MnlSocket> sock;
  Status st = run_in_netns(ns, [&]() -> Status {
    auto r = open(bus);
    if (!r.ok()) return r.error();
    sock.emplace(std::move(r).value());
    return {};
  });
  if (!st.ok()) return st.error();
  return std::move(*sock);
}

MnlSocket::MnlSocket(MnlSocket&& o) noexcept
    : sock_(o.sock_), portid_(o.portid_), seq_(o.seq_), sndbuf_(o.sndbuf_), rcvbuf_(o.rcvbuf_) {
  o.sock_ = nullptr;
}

MnlSocket& MnlSocket::operator=(MnlSocket&& o) noexcept {
  if (this != &o) {
    if (sock_ != nullptr) mnl_socket_close(sock_);
    sock_ = o.sock_;
    portid_ = o.portid_;
    seq_ = o.seq_;
    sndbuf_ = o.sndbuf_;
    rcvbuf_ = o.rcvbuf_;
    o.sock_ = nullptr;
  }
  return *this;
}

MnlSocket::~MnlSocket() {
  if (sock_ != nullptr) mnl_socket_close(sock_);
}

Status MnlSocket::ensure_send_buffer(size_t bytes, const std::string& op) {
  if (bytes <= sndbuf_) return {};
  int fd = mnl_socket_get_fd(sock_);
  int want = static_cast<int>(bytes + 4096);
  // SO_SNDBUFFORCE needs CAP_NET_ADMIN, which programming nftables needs anyway.
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)) != 0 &&
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want)) != 0) {
    return make_error(op, "cannot size the send buffer", errno);
  }
  sndbuf_ = bytes;
  return {};
}

Status MnlSocket::ensure_receive_room(size_t replies, const std::string& op) {
  // Each ACK is its own skb; about 1 KiB of buffer accounting apiece covers it.
  size_t bytes = replies * 1024;
  if (bytes <= std::max<size_t>(rcvbuf_, 200 * 1024)) return {};
  int fd = mnl_socket_get_fd(sock_);
  int want = static_cast<int>(bytes);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) != 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want)) != 0) {
    return make_error(op, "cannot size the receive buffer", errno);
  }
  rcvbuf_ = bytes;
  return {};
}

Status MnlSocket::send(const void* buf, size_t len, const std::string& op) {
  ssize_t n = mnl_socket_sendto(sock_, buf, len);
  if (n < 0) return make_error(op, "netlink send", errno);
  if (static_cast<size_t>(n) != len) return make_error(op, "netlink send was cut short", EMSGSIZE);
  return {};
}

Result<size_t> MnlSocket::recv(void* buf, size_t len, const std::string& op) {
  ssize_t n = mnl_socket_recvfrom(sock_, buf, len);
  if (n < 0) {
    int err = errno == EAGAIN ? ETIMEDOUT : errno;
    return make_error(op, "netlink receive", err);
  }
  return static_cast<size_t>(n);
}

Status MnlSocket::dump(nlmsghdr* request, const std::function<bool(const nlmsghdr*)>& on_message,
                       const std::string& op) {
  uint32_t seq = next_seq();
  request->nlmsg_seq = seq;
  if (auto st = send(request, request->nlmsg_len, op); !st.ok()) return st;
  alignas(nlmsghdr) char buf[32768];  // what libmnl later calls MNL_SOCKET_DUMP_SIZE
  struct Ctx {
    const std::function<bool(const nlmsghdr*)>* fn;
    bool failed = false;
  } ctx{&on_message};
  auto cb = [](const nlmsghdr* nlh, void* data) -> int {
    auto* c = static_cast<Ctx*>(data);
    if (!(*c->fn)(nlh)) {
      c->failed = true;
      return MNL_CB_ERROR;
    }
    return MNL_CB_OK;
  };
  for (;;) {
    auto n = recv(buf, sizeof(buf), op);
    if (!n.ok()) return n.error();
    // A refused dump is a single error message; read it by hand to keep the extended-ack text.
    auto* first = reinterpret_cast<const nlmsghdr*>(buf);
    if (mnl_nlmsg_ok(first, static_cast<int>(*n)) && first->nlmsg_type == NLMSG_ERROR) {
      NetlinkErrorInfo info = parse_netlink_error(first);
      if (info.error != 0) {
        Error e = make_error(op, "kernel refused the request", info.error);
        e.ext_ack = info.ext_ack;
        return e;
      }
    }
    int ret = mnl_cb_run(buf, *n, seq, portid_, cb, &ctx);
    if (ret == MNL_CB_STOP) return {};
    if (ret < 0) {
      if (ctx.failed) return make_error(op, "could not decode the kernel's reply");
      return make_error(op, "netlink dump", errno);
    }
  }
}

NetlinkErrorInfo parse_netlink_error(const nlmsghdr* nlh) {
  NetlinkErrorInfo info;
  info.seq = nlh->nlmsg_seq;
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) {
    info.error = EBADMSG;
    return info;
  }
  auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  info.error = err->error < 0 ? -err->error : err->error;
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return info;
  size_t offset = sizeof(nlmsgerr);
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
  const char* base = static_cast<const char*>(mnl_nlmsg_get_payload(nlh));
  const char* end = reinterpret_cast<const char*>(nlh) + nlh->nlmsg_len;
  const char* p = base + MNL_ALIGN(offset);
  while (p + sizeof(nlattr) <= end) {
    auto* attr = reinterpret_cast<const nlattr*>(p);
    if (attr->nla_len < sizeof(nlattr) || p + attr->nla_len > end) break;
    const char* payload = p + MNL_ATTR_HDRLEN;
    size_t plen = attr->nla_len - MNL_ATTR_HDRLEN;
    switch (attr->nla_type & NLA_TYPE_MASK) {
      case NLMSGERR_ATTR_MSG:
        info.ext_ack.assign(payload, strnlen(payload, plen));
        break;
      case NLMSGERR_ATTR_OFFS:
        if (plen >= sizeof(uint32_t))
          info.bad_attr_offset = *reinterpret_cast<const int32_t*>(payload);
        break;
      default:
        break;
    }
    p += MNL_ALIGN(attr->nla_len);
  }
  return info;
}

}  // namespace bulkhead::netlink
