// The denied-flow log and audit mode for real in namespaces: an audit-only default-deny lets
// traffic through, counts it and logs it as "would deny" while an enforcing policy beside it still
// drops and logs "deny"; the kernel's rate limit bounds a flood; FlowLog names the endpoints.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <poll.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "enforcer/daemon/flow_log.h"
#include "netlink/nft/apply.h"
#include "netlink/nft/mnl_socket.h"
#include "netlink/nft/read.h"
#include "netlink/watch/nflog.h"
#include "policy/plan/compile.h"
#include "tests/support/netns_fixture.h"
#include "tests/support/policy_builders.h"
#include "tests/support/probe.h"

namespace bulkhead::netlink {
namespace {

namespace pt = policy::testing;
using testing::Fd;
using testing::TestNamespaces;

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
