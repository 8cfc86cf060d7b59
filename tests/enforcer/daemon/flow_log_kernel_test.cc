// The denied-flow log and audit mode: the nfnetlink_log decoder on crafted messages, the
// aggregator's windows and bounds, and for real in namespaces: an audit-only default-deny lets
// traffic through, counts it and logs it as "would deny" while an enforcing policy beside it still
// drops and logs "deny"; the kernel's rate limit bounds a flood; FlowLog names the endpoints.
#include "enforcer/flow_log.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <poll.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "netlink/mnl_socket.h"
#include "netlink/nflog.h"
#include "netlink/nft_apply.h"
#include "netlink/nft_read.h"
#include "policy/compile.h"
#include "tests/netlink/netns_fixture.h"
#include "tests/netlink/probe.h"
#include "tests/policy/policy_builders.h"

namespace bulkhead::netlink {
namespace {

namespace pt = policy::testing;
using testing::Fd;
using testing::TestNamespaces;

// ---- decoder, on messages built here ----

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

// ---- aggregation ----

daemon::FlowRecord packet(const char* src, uint16_t port, const char* verdict = "denied") {
  daemon::FlowRecord r;
  r.endpoint = "b";
  r.direction = "ingress";
  r.verdict = verdict;
  r.src = pt::ip(src);
  r.dst = pt::ip("198.18.0.2");
  r.proto = IPPROTO_TCP;
  r.port = port;
  r.count = 1;
  r.first = r.last = std::chrono::system_clock::now();
  return r;
}

TEST(FlowAggregator, IdenticalFlowsInOneWindowBecomeOneRecordWithACount) {
  using namespace std::chrono_literals;
  daemon::FlowAggregator agg({5000ms, 100, 10});
  const auto t0 = daemon::FlowAggregator::Clock::now();
  EXPECT_TRUE(agg.add(packet("198.18.0.1", 80), t0));
  EXPECT_TRUE(agg.add(packet("198.18.0.1", 80), t0 + 1s));
  EXPECT_TRUE(agg.add(packet("198.18.0.1", 80, "would-deny"), t0 + 1s));
  EXPECT_TRUE(agg.add(packet("198.18.0.1", 81), t0 + 2s));
  EXPECT_TRUE(agg.expire(t0 + 4999ms).empty());
  EXPECT_EQ(agg.next_deadline(), t0 + 5s);
  auto done = agg.expire(t0 + 6s);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].count, 2u);
  EXPECT_EQ(done[0].verdict, "denied");
  EXPECT_EQ(done[1].count, 1u);
  EXPECT_EQ(done[1].verdict, "would-deny");
  auto snap = agg.snapshot();
  ASSERT_EQ(snap.size(), 3u);
  EXPECT_TRUE(snap[2].open);
  EXPECT_EQ(snap[2].port, 81);
  // A packet after the window opens a new record.
  EXPECT_TRUE(agg.add(packet("198.18.0.1", 80), t0 + 6s));
  EXPECT_EQ(agg.open_windows(), 2u);
}

TEST(FlowAggregator, MemoryIsBoundedByTheKeyCapAndTheRecentRing) {
  using namespace std::chrono_literals;
  daemon::FlowAggregator agg({1000ms, 50, 20});
  const auto t0 = daemon::FlowAggregator::Clock::now();
  int accepted = 0;
  for (int i = 0; i < 1000; ++i) accepted += agg.add(packet("198.18.0.1", 1000 + i), t0);
  EXPECT_EQ(accepted, 50);
  EXPECT_EQ(agg.open_windows(), 50u);
  EXPECT_EQ(agg.take_overflow(), 950u);
  EXPECT_EQ(agg.take_overflow(), 0u);
  EXPECT_EQ(agg.expire(t0 + 2s).size(), 50u);
  EXPECT_EQ(agg.snapshot().size(), 20u);  // the newest 20 closed records
  EXPECT_EQ(agg.snapshot().back().port, 1049);
}

// ---- in the kernel ----

// a (client) reaches b over one veth and c over another. b's ingress is isolated only by the
// audit policy "watch", c's by the enforcing policy "lock"; neither admits anything.
class AuditLab : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_FAIL() << "needs root";
    a_ = nets_.add("a");
    b_ = nets_.add("b");
    c_ = nets_.add("c");
    nets_.link(a_, "198.18.0.1/24", b_, "198.18.0.2/24");
    nets_.link(a_, "198.18.1.1/24", c_, "198.18.1.2/24", "eth1", "eth0");
    policy::PolicySet ps;
    auto watch = pt::origin("watch", pt::at(1, 1));
    watch.audit = true;
    ps.isolations.push_back(
        pt::isolate(policy::Direction::ingress, pt::group_subject("b", "app=b"), watch));
    ps.isolations.push_back(pt::isolate(policy::Direction::ingress, pt::group_subject("c", "app=c"),
                                        pt::origin("lock", pt::at(1, 1))));
    policy::Endpoints eps{pt::endpoint("a", "app=a", {"198.18.0.1", "198.18.1.1"}),
                          pt::endpoint("b", "app=b", {"198.18.0.2"}),
                          pt::endpoint("c", "app=c", {"198.18.1.2"})};
    eps[0].netns = TestNamespaces::path(a_);
    eps[1].netns = TestNamespaces::path(b_);
    eps[2].netns = TestNamespaces::path(c_);
    plan_ = policy::compile(ps, eps);
    for (const auto& ep : plan_.endpoints) {
      if (!ep.table) continue;
      auto ns = NetnsHandle::open(ep.netns);
      ASSERT_TRUE(ns.ok());
      auto sock = MnlSocket::open_in(*ns, NETLINK_NETFILTER);
      ASSERT_TRUE(sock.ok());
      auto st = replace_table(*sock, *ep.table);
      ASSERT_TRUE(st.ok()) << st.error().to_string();
    }
    ASSERT_FALSE(plan_.endpoints[0].table);  // a is isolated by nobody
  }

  NetnsHandle ns(const std::string& name) {
    return NetnsHandle::open(TestNamespaces::path(name)).value();
  }

  // The final rule's packet counter of `name`'s ingress chain, read back from the kernel.
  uint64_t final_counter(const std::string& name, policy::RuleKind kind) {
    auto sock = MnlSocket::open_in(ns(name), NETLINK_NETFILTER);
    EXPECT_TRUE(sock.ok());
    auto t = read_table(*sock);
    EXPECT_TRUE(t.ok() && t->has_value());
    if (!t.ok() || !t->has_value()) return 0;
    const auto& rules = (*t)->chains.at(0).rules;
    EXPECT_EQ(rules.back().kind, kind);
    EXPECT_EQ(rules[rules.size() - 2].kind, policy::RuleKind::log);
    return rules.back().packets;
  }

  // Records read from `sock` within `ms`, stopping early once `want` arrived.
  static std::vector<NflogRecord> read_records(NflogSocket& sock, size_t want, int ms) {
    std::vector<NflogRecord> out;
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (out.size() < want && std::chrono::steady_clock::now() < end) {
      pollfd p{sock.fd(), POLLIN, 0};
      poll(&p, 1, 50);
      auto st = sock.read_available(out);
      EXPECT_TRUE(st.ok()) << st.error().to_string();
    }
    return out;
  }

  TestNamespaces nets_;
  std::string a_, b_, c_;
  policy::Plan plan_;
};

TEST_F(AuditLab, AuditOnlyDefaultDenyPassesCountsAndLogsWhileEnforcingDrops) {
  auto b_log = NflogSocket::open_in(ns(b_), policy::kNflogGroup);
  ASSERT_TRUE(b_log.ok()) << b_log.error().to_string();
  auto c_log = NflogSocket::open_in(ns(c_), policy::kNflogGroup);
  ASSERT_TRUE(c_log.ok()) << c_log.error().to_string();
  // A second socket on the same group in the same namespace is refused, not silently shared.
  auto again = NflogSocket::open_in(ns(b_), policy::kNflogGroup);
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.error().code == EPERM || again.error().code == EBUSY)
      << again.error().to_string();

  Fd b_srv = testing::socket_in(ns(b_), SOCK_STREAM, 8080);
  Fd c_srv = testing::socket_in(ns(c_), SOCK_STREAM, 8080);
  ASSERT_GE(b_srv.get(), 0);
  ASSERT_GE(c_srv.get(), 0);

  // Audit: the connection is made, counted by the final accept, logged once as would-deny.
  EXPECT_TRUE(testing::tcp_connects(ns(a_), "198.18.0.2", 8080));
  EXPECT_EQ(final_counter(b_, policy::RuleKind::final_accept), 1u);
  auto recs = read_records(*b_log, 1, 2000);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].prefix, "bulkhead would-deny ingress b");
  EXPECT_EQ(recs[0].src.to_string(), "198.18.0.1");
  EXPECT_EQ(recs[0].dst.to_string(), "198.18.0.2");
  EXPECT_EQ(recs[0].proto, IPPROTO_TCP);
  EXPECT_EQ(recs[0].dport, 8080);
  EXPECT_EQ(recs[0].hook, NF_INET_LOCAL_IN);
  // Replies and the rest of the connection are established: nothing more is logged.
  EXPECT_TRUE(read_records(*b_log, 1, 300).empty());

  // Enforcing, beside it: the SYN is dropped, counted and logged as deny.
  EXPECT_FALSE(testing::tcp_connects(ns(a_), "198.18.1.2", 8080, 400));
  EXPECT_GE(final_counter(c_, policy::RuleKind::final_drop), 1u);
  recs = read_records(*c_log, 1, 2000);
  ASSERT_GE(recs.size(), 1u);
  EXPECT_EQ(recs[0].prefix, "bulkhead deny ingress c");
  EXPECT_EQ(recs[0].src.to_string(), "198.18.1.1");
  EXPECT_EQ(recs[0].dport, 8080);

  // UDP: delivered through the audit side, dropped on the enforcing side; both logged.
  Fd b_udp = testing::socket_in(ns(b_), SOCK_DGRAM, 5353);
  Fd c_udp = testing::socket_in(ns(c_), SOCK_DGRAM, 5353);
  EXPECT_TRUE(testing::udp_delivered(ns(a_), "198.18.0.2", 5353, b_udp));
  EXPECT_FALSE(testing::udp_delivered(ns(a_), "198.18.1.2", 5353, c_udp, 300));
  recs = read_records(*b_log, 1, 2000);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].proto, IPPROTO_UDP);
  EXPECT_EQ(recs[0].dport, 5353);
  recs = read_records(*c_log, 1, 2000);
  ASSERT_GE(recs.size(), 1u);
  EXPECT_EQ(recs.back().proto, IPPROTO_UDP);
  EXPECT_EQ(recs.back().prefix, "bulkhead deny ingress c");
}

TEST_F(AuditLab, AFloodOfDeniedPacketsIsLoggedWithinTheRateLimit) {
  auto c_log = NflogSocket::open_in(ns(c_), policy::kNflogGroup);
  ASSERT_TRUE(c_log.ok()) << c_log.error().to_string();
  const uint64_t drops_before = final_counter(c_, policy::RuleKind::final_drop);
  Fd tx = testing::socket_in(ns(a_), SOCK_DGRAM, 0);
  ASSERT_GE(tx.get(), 0);
  sockaddr_in to = testing::v4("198.18.1.2", 9999);
  constexpr int kPackets = 5000;
  const auto start = std::chrono::steady_clock::now();
  int sent = 0;
  for (int i = 0; i < kPackets; ++i)
    sent += sendto(tx.get(), "x", 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) == 1;
  auto recs = read_records(*c_log, kPackets, 1500);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(sent, kPackets);
  // A veth may shed a little of a burst before the hook; nearly all must reach the drop.
  EXPECT_GE(final_counter(c_, policy::RuleKind::final_drop) - drops_before,
            static_cast<uint64_t>(kPackets * 9 / 10));
  // burst + rate x elapsed, plus one token of rounding.
  const double bound = policy::kLogBurst + policy::kLogRate * seconds + 1;
  EXPECT_GE(recs.size(), static_cast<size_t>(policy::kLogBurst));
  EXPECT_LE(static_cast<double>(recs.size()), bound) << seconds << " s";
  EXPECT_EQ(c_log->overruns(), 0u);
}

TEST_F(AuditLab, FlowLogNamesEndpointsAndPoliciesAndClosesOnRelease) {
  using namespace std::chrono_literals;
  daemon::PollSet polls;
  daemon::FlowLog::Context ctx;
  ctx.endpoint_at = [](const policy::IpAddr& a) -> std::string {
    const std::string s = a.to_string();
    if (s == "198.18.0.1" || s == "198.18.1.1") return "a";
    if (s == "198.18.0.2") return "b";
    if (s == "198.18.1.2") return "c";
    return "";
  };
  ctx.deciding = [](const std::string& ep, bool egress, bool audit) {
    return std::vector<std::string>{ep + (egress ? "-eg" : "-in") + (audit ? "-audit" : "")};
  };
  int counted = 0;
  ctx.counted = [&](const daemon::FlowRecord&) { ++counted; };
  daemon::FlowLog log(polls, ctx, {300ms, 100, 10});
  for (const auto& ep : plan_.endpoints) log.enforced(ep);
  EXPECT_EQ(log.listeners(), 2u);  // b and c; a has no table
  EXPECT_EQ(polls.size(), 3u);     // two sockets and the window timer

  Fd c_udp = testing::socket_in(ns(c_), SOCK_DGRAM, 5353);
  EXPECT_FALSE(testing::udp_delivered(ns(a_), "198.18.1.2", 5353, c_udp, 100));
  Fd b_srv = testing::socket_in(ns(b_), SOCK_STREAM, 8080);
  EXPECT_TRUE(testing::tcp_connects(ns(a_), "198.18.0.2", 8080));
  // Run the poll loop as the daemon does until both windows closed (bounded).
  const auto end = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < end) {
    std::vector<pollfd> fds;
    polls.fill(fds);
    poll(fds.data(), fds.size(), 50);
    polls.dispatch(fds, 0);
    auto r = log.recent();
    if (r.size() == 2 && !r[0].open && !r[1].open) break;
  }
  auto recs = log.recent();
  ASSERT_EQ(recs.size(), 2u);
  std::sort(recs.begin(), recs.end(),
            [](const auto& x, const auto& y) { return x.endpoint < y.endpoint; });
  EXPECT_EQ(recs[0].endpoint, "b");
  EXPECT_EQ(recs[0].verdict, "would-deny");
  EXPECT_EQ(recs[0].src_endpoint, "a");
  EXPECT_EQ(recs[0].dst_endpoint, "b");
  EXPECT_EQ(recs[0].port, 8080);
  EXPECT_EQ(recs[0].count, 1u);
  EXPECT_EQ(recs[0].policies, std::vector<std::string>{"b-in-audit"});
  EXPECT_FALSE(recs[0].open);
  EXPECT_EQ(recs[1].endpoint, "c");
  EXPECT_EQ(recs[1].verdict, "denied");
  EXPECT_EQ(recs[1].src_endpoint, "a");
  EXPECT_EQ(recs[1].dst.to_string(), "198.18.1.2");
  EXPECT_EQ(daemon::proto_name(recs[1].proto), "udp");
  EXPECT_EQ(recs[1].port, 5353);
  EXPECT_EQ(recs[1].policies, std::vector<std::string>{"c-in"});
  EXPECT_EQ(counted, 2);

  log.released("c", TestNamespaces::path(c_));
  EXPECT_EQ(log.listeners(), 1u);
  EXPECT_EQ(polls.size(), 2u);
  // After release the group is free again in c's namespace.
  auto reopened = NflogSocket::open_in(ns(c_), policy::kNflogGroup);
  EXPECT_TRUE(reopened.ok()) << reopened.error().to_string();
}

}  // namespace
}  // namespace bulkhead::netlink
