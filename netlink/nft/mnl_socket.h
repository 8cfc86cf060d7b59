// An owned libmnl netlink socket bound to the namespace it was opened in, with extended acks on.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/result.h"
#include "netlink/ns/netns.h"

struct mnl_socket;
struct nlmsghdr;

namespace bulkhead::netlink {

class MnlSocket {
 public:
  // Opens in the calling thread's namespace. `bus` is e.g. NETLINK_NETFILTER.
  static Result<MnlSocket> open(int bus);
  // Opens inside `ns` (on a helper thread; the caller's namespace never changes).
  static Result<MnlSocket> open_in(const NetnsHandle& ns, int bus);

  MnlSocket(MnlSocket&& o) noexcept;
  MnlSocket& operator=(MnlSocket&& o) noexcept;
  MnlSocket(const MnlSocket&) = delete;
  MnlSocket& operator=(const MnlSocket&) = delete;
  ~MnlSocket();

  mnl_socket* get() const { return sock_; }
  uint32_t portid() const { return portid_; }
  // Sequence numbers are ours: every request and batch message gets a fresh one.
  uint32_t next_seq() { return seq_++; }

  // Makes sure the kernel accepts a single send of `bytes` (large batches, big sets).
  Status ensure_send_buffer(size_t bytes, const std::string& op);
  // Makes room for `replies` queued answers (one ACK per batch message) before we read them.
  Status ensure_receive_room(size_t replies, const std::string& op);
  Status send(const void* buf, size_t len, const std::string& op);
  // Waits at most the socket timeout; a timeout is an error (ETIMEDOUT), never a hang.
  Result<size_t> recv(void* buf, size_t len, const std::string& op);

  // Sends a dump request and calls `on_message` for every reply until NLMSG_DONE.
  // The callback returns false to signal a decoding error, which stops the dump.
  Status dump(nlmsghdr* request, const std::function<bool(const nlmsghdr*)>& on_message,
              const std::string& op);

 private:
  explicit MnlSocket(mnl_socket* s, uint32_t portid, uint32_t seq)
      : sock_(s), portid_(portid), seq_(seq) {}
  mnl_socket* sock_ = nullptr;
  uint32_t portid_ = 0;
  uint32_t seq_ = 1;
  size_t sndbuf_ = 0;
  size_t rcvbuf_ = 0;
};

// Reads the kernel's answer to a netlink error message: errno and the extended-ack text (or, when
// the kernel only pointed at an attribute, which one).
struct NetlinkErrorInfo {
  int error = 0;  // positive errno; 0 means a plain ACK
  uint32_t seq = 0;
  std::string ext_ack;           // NLMSGERR_ATTR_MSG text
  int32_t bad_attr_offset = -1;  // NLMSGERR_ATTR_OFFS, relative to the failing message
};
NetlinkErrorInfo parse_netlink_error(const nlmsghdr* nlh);

}  // namespace bulkhead::netlink
