// The nfnetlink_log decoder on messages built here as the kernel sends them: addresses, ports,
// prefix and hook; IPv6 extension headers; truncated payloads and other message types.
#include "netlink/watch/nflog.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <netinet/in.h>

#include <cstring>
#include <string>
#include <vector>

#include "policy/plan/plan.h"

namespace bulkhead::netlink {
namespace {

std::vector<uint8_t> ipv4_packet(const char* src, const char* dst, uint8_t proto,
                                 std::vector<uint8_t> l4) {
  std::vector<uint8_t> p(20, 0);
  p[0] = 0x45;
  p[9] = proto;
  inet_pton(AF_INET, src, &p[12]);
  inet_pton(AF_INET, dst, &p[16]);
  p.insert(p.end(), l4.begin(), l4.end());
  return p;
}

// An nfnetlink_log packet message carrying `prefix` and `payload`, as the kernel sends it.
std::vector<char> nflog_message(const std::string& prefix, const std::vector<uint8_t>& payload,
                                uint8_t family, uint8_t hook) {
  std::vector<char> buf(4096);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = family;
  nfg->res_id = htons(policy::kNflogGroup);
  nfulnl_msg_packet_hdr hdr{htons(family == AF_INET ? 0x0800 : 0x86dd), hook, 0};
  mnl_attr_put(nlh, NFULA_PACKET_HDR, sizeof(hdr), &hdr);
  mnl_attr_put_strz(nlh, NFULA_PREFIX, prefix.c_str());
  mnl_attr_put(nlh, NFULA_PAYLOAD, payload.size(), payload.data());
  buf.resize(nlh->nlmsg_len);
  return buf;
}

TEST(NflogDecode, Ipv4TcpSynGivesAddressesPortsPrefixAndHook) {
  auto pkt = ipv4_packet("198.18.0.1", "198.18.0.2", IPPROTO_TCP,
                         {0xc3, 0x50, 0x1f, 0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x02});
  auto msg = nflog_message("bulkhead deny ingress b", pkt, AF_INET, NF_INET_LOCAL_IN);
  auto rec = decode_nflog_packet(reinterpret_cast<const nlmsghdr*>(msg.data()));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->prefix, "bulkhead deny ingress b");
  EXPECT_EQ(rec->hook, NF_INET_LOCAL_IN);
  EXPECT_EQ(rec->family, 4);
  EXPECT_EQ(rec->src.to_string(), "198.18.0.1");
  EXPECT_EQ(rec->dst.to_string(), "198.18.0.2");
  EXPECT_EQ(rec->proto, IPPROTO_TCP);
  EXPECT_EQ(rec->sport, 50000);
  EXPECT_EQ(rec->dport, 8080);
  EXPECT_EQ(rec->icmp_type, -1);
}

TEST(NflogDecode, Ipv6UdpBehindAHopByHopHeader) {
  std::vector<uint8_t> p(40, 0);
  p[0] = 0x60;
  p[6] = IPPROTO_HOPOPTS;
  inet_pton(AF_INET6, "2001:2::1", &p[8]);
  inet_pton(AF_INET6, "2001:2::2", &p[24]);
  const std::vector<uint8_t> hbh{IPPROTO_UDP, 0, 1, 4, 0, 0, 0, 0};  // 8 bytes, PadN
  const std::vector<uint8_t> udp{0x04, 0x00, 0x00, 0x35, 0, 8, 0, 0};
  p.insert(p.end(), hbh.begin(), hbh.end());
  p.insert(p.end(), udp.begin(), udp.end());
  auto msg = nflog_message("bulkhead would-deny egress a", p, AF_INET6, NF_INET_LOCAL_OUT);
  auto rec = decode_nflog_packet(reinterpret_cast<const nlmsghdr*>(msg.data()));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->family, 6);
  EXPECT_EQ(rec->src.to_string(), "2001:2::1");
  EXPECT_EQ(rec->dst.to_string(), "2001:2::2");
  EXPECT_EQ(rec->proto, IPPROTO_UDP);
  EXPECT_EQ(rec->sport, 1024);
  EXPECT_EQ(rec->dport, 53);
}

TEST(NflogDecode, IcmpTypeTruncatedPayloadAndOtherMessages) {
  auto ping = ipv4_packet("198.18.0.1", "198.18.0.2", IPPROTO_ICMP, {8, 0, 0, 0});
  auto msg = nflog_message("p", ping, AF_INET, NF_INET_LOCAL_IN);
  auto rec = decode_nflog_packet(reinterpret_cast<const nlmsghdr*>(msg.data()));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->proto, IPPROTO_ICMP);
  EXPECT_EQ(rec->icmp_type, 8);
  EXPECT_EQ(rec->dport, 0);

  // Cut inside the IPv4 header: no addresses, no crash.
  auto cut = ipv4_packet("198.18.0.1", "198.18.0.2", IPPROTO_TCP, {});
  cut.resize(12);
  msg = nflog_message("p", cut, AF_INET, NF_INET_LOCAL_IN);
  rec = decode_nflog_packet(reinterpret_cast<const nlmsghdr*>(msg.data()));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->family, 0);

  // A TCP header cut before the ports: addresses but no ports.
  auto short_tcp = ipv4_packet("198.18.0.1", "198.18.0.2", IPPROTO_TCP, {0xc3});
  msg = nflog_message("p", short_tcp, AF_INET, NF_INET_LOCAL_IN);
  rec = decode_nflog_packet(reinterpret_cast<const nlmsghdr*>(msg.data()));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->family, 4);
  EXPECT_EQ(rec->dport, 0);

  std::vector<char> other(256);
  nlmsghdr* nlh = mnl_nlmsg_put_header(other.data());
  nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
  mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg));
  EXPECT_FALSE(decode_nflog_packet(nlh));
}

}  // namespace
}  // namespace bulkhead::netlink
