// The denied-flow log's kernel side: an nfnetlink_log socket bound to one log group inside one
// network namespace, and a decoder from its packet messages to plain records. nfnetlink_log
// instances are per namespace, so each enforced namespace gets its own socket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "netlink/nft/mnl_socket.h"
#include "netlink/ns/netns.h"
#include "policy/model/address.h"

struct nlmsghdr;

namespace bulkhead::netlink {

// One logged packet, as far as its copied headers tell.
struct NflogRecord {
  std::string prefix;  // the log rule's prefix
  uint8_t hook = 0;    // NF_INET_LOCAL_IN, NF_INET_LOCAL_OUT, ...
  int family = 0;      // 4 or 6; 0 when the payload is missing or not IP
  policy::IpAddr src, dst;
  uint8_t proto = 0;   // IPPROTO_*; the transport protocol after IPv6 extension headers
  uint16_t sport = 0;  // TCP, UDP, SCTP, UDP-Lite
  uint16_t dport = 0;
  int icmp_type = -1;  // ICMP and ICMPv6
  bool operator==(const NflogRecord&) const = default;
};

// Fills family, addresses, protocol, ports / ICMP type from an IP packet starting at its network
// header. Returns false when the data is too short or not IPv4/IPv6; what was read stays filled.
bool parse_ip_headers(const uint8_t* data, size_t len, NflogRecord& out);

// Decodes one netlink message; nullopt when it is not an nfnetlink_log packet message.
std::optional<NflogRecord> decode_nflog_packet(const nlmsghdr* nlh);

class NflogSocket {
 public:
  // Headers only: IPv6 with a few extension headers plus the transport header fit.
  static constexpr uint32_t kCopyRange = 128;

  // Opens a NETLINK_NETFILTER socket inside `ns`, binds it to `group` with packet copy mode and
  // `copy_range` bytes per packet, and makes it non-blocking. The kernel refuses (EPERM) when
  // another socket in that namespace already owns the group.
  static Result<NflogSocket> open_in(const NetnsHandle& ns, uint16_t group,
                                     uint32_t copy_range = kCopyRange);

  int fd() const;
  uint16_t group() const { return group_; }

  // Appends the records queued now, reading at most `max_reads` datagrams; never blocks.
  // Messages the kernel could not queue (receive buffer full) are counted in overruns().
  Status read_available(std::vector<NflogRecord>& out, size_t max_reads = 64);
  uint64_t overruns() const { return overruns_; }

 private:
  NflogSocket(MnlSocket sock, uint16_t group) : sock_(std::move(sock)), group_(group) {}
  MnlSocket sock_;
  uint16_t group_ = 0;
  uint64_t overruns_ = 0;
};

}  // namespace bulkhead::netlink
