#include "netlink/watch/nflog.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>

namespace bulkhead::netlink {
namespace {

constexpr uint16_t kPacketMsg = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
constexpr uint16_t kConfigMsg = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;

bool has_ports(uint8_t proto) {
  return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP ||
         proto == IPPROTO_UDPLITE;
}

void read_transport(const uint8_t* l4, size_t len, NflogRecord& out) {
  if (has_ports(out.proto) && len >= 4) {
    out.sport = static_cast<uint16_t>(l4[0] << 8 | l4[1]);
    out.dport = static_cast<uint16_t>(l4[2] << 8 | l4[3]);
  } else if ((out.proto == IPPROTO_ICMP || out.proto == IPPROTO_ICMPV6) && len >= 1) {
    out.icmp_type = l4[0];
  }
}

bool parse_ipv4(const uint8_t* p, size_t len, NflogRecord& out) {
  if (len < 20) return false;
  const size_t ihl = static_cast<size_t>(p[0] & 0x0f) * 4;
  if (ihl < 20 || ihl > len) return false;
  out.family = 4;
  out.src = policy::IpAddr{};
  out.dst = policy::IpAddr{};
  std::memcpy(out.src.bytes.data(), p + 12, 4);
  std::memcpy(out.dst.bytes.data(), p + 16, 4);
  out.proto = p[9];
  // Only a first fragment carries the transport header.
  const uint16_t frag_offset = static_cast<uint16_t>((p[6] & 0x1f) << 8 | p[7]);
  if (frag_offset == 0) read_transport(p + ihl, len - ihl, out);
  return true;
}

bool parse_ipv6(const uint8_t* p, size_t len, NflogRecord& out) {
  if (len < 40) return false;
  out.family = 6;
  out.src = policy::IpAddr{6, {}};
  out.dst = policy::IpAddr{6, {}};
  std::memcpy(out.src.bytes.data(), p + 8, 16);
  std::memcpy(out.dst.bytes.data(), p + 24, 16);
  uint8_t next = p[6];
  size_t off = 40;
  // Walk the extension headers nft's l4proto walks too (bounded by the copied length).
  for (int i = 0; i < 8; ++i) {
    if (next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING || next == IPPROTO_DSTOPTS) {
      if (off + 2 > len) break;
      const uint8_t following = p[off];
      off += (static_cast<size_t>(p[off + 1]) + 1) * 8;
      next = following;
    } else if (next == IPPROTO_FRAGMENT) {
      if (off + 8 > len) break;
      const uint8_t following = p[off];
      const bool first = (static_cast<uint16_t>(p[off + 2] << 8 | p[off + 3]) & 0xfff8) == 0;
      off += 8;
      next = following;
      if (!first) {
        out.proto = next;
        return true;
      }
    } else {
      break;
    }
  }
  out.proto = next;
  if (off <= len) read_transport(p + off, len - off, out);
  return true;
}

struct AttrTable {
  const nlattr* tb[NFULA_MAX + 1] = {};
};

int collect_attr(const nlattr* attr, void* data) {
  auto* t = static_cast<AttrTable*>(data);
  const int type = mnl_attr_get_type(attr);
  if (type >= 0 && type <= NFULA_MAX && mnl_attr_type_valid(attr, NFULA_MAX) >= 0)
    t->tb[type] = attr;
  return MNL_CB_OK;
}

// Sends one config message (command and/or copy mode) for `group` and waits for its ACK.
Status configure(MnlSocket& sock, uint16_t group, const nfulnl_msg_config_cmd* cmd,
                 const nfulnl_msg_config_mode* mode, const std::string& op) {
  alignas(nlmsghdr) char buf[256];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = kConfigMsg;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = sock.next_seq();
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = AF_UNSPEC;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = htons(group);
  if (cmd) mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof(*cmd), cmd);
  if (mode) mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof(*mode), mode);
  if (auto st = sock.send(nlh, nlh->nlmsg_len, op); !st.ok()) return st;
  alignas(nlmsghdr) char reply[8192];
  for (;;) {
    auto n = sock.recv(reply, sizeof(reply), op);
    if (!n.ok()) return n.error();
    int left = static_cast<int>(*n);
    for (auto* r = reinterpret_cast<const nlmsghdr*>(reply); mnl_nlmsg_ok(r, left);
         r = mnl_nlmsg_next(r, &left)) {
      if (r->nlmsg_type != NLMSG_ERROR || r->nlmsg_seq != nlh->nlmsg_seq) continue;
      NetlinkErrorInfo info = parse_netlink_error(r);
      if (info.error == 0) return {};
      Error e = make_error(op, "kernel refused", info.error);
      e.ext_ack = info.ext_ack;
      return e;
    }
  }
}

}  // namespace

bool parse_ip_headers(const uint8_t* data, size_t len, NflogRecord& out) {
  if (data == nullptr || len < 1) return false;
  switch (data[0] >> 4) {
    case 4:
      return parse_ipv4(data, len, out);
    case 6:
      return parse_ipv6(data, len, out);
    default:
      return false;
  }
}

std::optional<NflogRecord> decode_nflog_packet(const nlmsghdr* nlh) {
  if (nlh->nlmsg_type != kPacketMsg) return std::nullopt;
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nfgenmsg))) return std::nullopt;
  AttrTable t;
  if (mnl_attr_parse(nlh, sizeof(nfgenmsg), collect_attr, &t) < 0) return std::nullopt;
  NflogRecord rec;
  if (t.tb[NFULA_PREFIX]) {
    const char* s = static_cast<const char*>(mnl_attr_get_payload(t.tb[NFULA_PREFIX]));
    rec.prefix.assign(s, strnlen(s, mnl_attr_get_payload_len(t.tb[NFULA_PREFIX])));
  }
  if (t.tb[NFULA_PACKET_HDR] &&
      mnl_attr_get_payload_len(t.tb[NFULA_PACKET_HDR]) >= sizeof(nfulnl_msg_packet_hdr)) {
    auto* hdr =
        static_cast<const nfulnl_msg_packet_hdr*>(mnl_attr_get_payload(t.tb[NFULA_PACKET_HDR]));
    rec.hook = hdr->hook;
  }
  if (t.tb[NFULA_PAYLOAD]) {
    parse_ip_headers(static_cast<const uint8_t*>(mnl_attr_get_payload(t.tb[NFULA_PAYLOAD])),
                     mnl_attr_get_payload_len(t.tb[NFULA_PAYLOAD]), rec);
  }
  return rec;
}

Result<NflogSocket> NflogSocket::open_in(const NetnsHandle& ns, uint16_t group,
                                         uint32_t copy_range) {
  const std::string op = "nflog bind group " + std::to_string(group) + " in " + ns.path();
  auto sock = MnlSocket::open_in(ns, NETLINK_NETFILTER);
  if (!sock.ok()) return sock.error();
  nfulnl_msg_config_cmd bind{NFULNL_CFG_CMD_BIND};
  if (auto st = configure(*sock, group, &bind, nullptr, op); !st.ok()) return st.error();
  nfulnl_msg_config_mode mode{};
  mode.copy_range = htonl(copy_range);
  mode.copy_mode = NFULNL_COPY_PACKET;
  if (auto st = configure(*sock, group, nullptr, &mode, op); !st.ok()) return st.error();
  const int fd = mnl_socket_get_fd(sock->get());
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
    return make_error(op, "cannot make the socket non-blocking", errno);
  return NflogSocket(std::move(*sock), group);
}

int NflogSocket::fd() const { return mnl_socket_get_fd(sock_.get()); }

Status NflogSocket::read_available(std::vector<NflogRecord>& out, size_t max_reads) {
  alignas(nlmsghdr) char buf[16384];
  for (size_t i = 0; i < max_reads; ++i) {
    const ssize_t n = mnl_socket_recvfrom(sock_.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
      if (errno == EINTR) continue;
      // The kernel dropped messages because our buffer was full; what follows is intact.
      if (errno == ENOBUFS) {
        ++overruns_;
        continue;
      }
      return make_error("nflog receive group " + std::to_string(group_), "netlink receive", errno);
    }
    int left = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf); mnl_nlmsg_ok(nlh, left);
         nlh = mnl_nlmsg_next(nlh, &left)) {
      if (nlh->nlmsg_type == NLMSG_DONE) break;
      if (auto rec = decode_nflog_packet(nlh)) out.push_back(std::move(*rec));
    }
  }
  return {};
}

}  // namespace bulkhead::netlink
