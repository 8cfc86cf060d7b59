// The nftables table in a real namespace: apply, read back, replace, failure atomicity,
// element-only updates, delete, and real packets.
#include <gtest/gtest.h>
#include <linux/netlink.h>

#include <regex>

#include "netlink/nft/apply.h"
#include "netlink/nft/mnl_socket.h"
#include "netlink/nft/read.h"
#include "policy/plan/render.h"
#include "tests/support/netns_fixture.h"
#include "tests/support/plan_builders.h"
#include "tests/support/probe.h"

namespace bulkhead::netlink {
namespace {

using namespace testing;              // NOLINT: the namespace fixtures
using namespace ::bulkhead::testing;  // NOLINT: the plan builders
using policy::L4;

// Every decoded field of every rule, for failure messages.
std::string describe(const policy::NftTable& t) {
  std::string out;
  for (const auto& s : t.sets) {
    out += "set " + s.name + " family " + std::to_string(s.family) +
           (s.interval ? " interval" : "") + ":";
    for (const auto& e : s.elements) out += " " + policy::range_to_string(e);
    out += "\n";
  }
  for (const auto& c : t.chains) {
    for (const auto& r : c.rules) {
      out += c.name + ": kind " + std::to_string(static_cast<int>(r.kind)) + " family " +
             std::to_string(r.family) + " set '" + r.peer_set + "' proto " +
             std::to_string(static_cast<int>(r.proto)) + " ports " + std::to_string(r.port_first) +
             "-" + std::to_string(r.port_last) + (r.counter ? " counter" : "") + " comment '" +
             r.comment + "'\n";
    }
  }
  return out;
}

class NftTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    name_ = nets_.add("nft");
    auto h = NetnsHandle::open(TestNamespaces::path(name_));
    ASSERT_TRUE(h.ok()) << h.error().to_string();
    ns_.emplace(std::move(h).value());
    auto s = MnlSocket::open_in(*ns_, NETLINK_NETFILTER);
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    sock_.emplace(std::move(s).value());
  }

  std::optional<policy::NftTable> read() {
    auto r = read_table(*sock_);
    EXPECT_TRUE(r.ok()) << r.error().to_string();
    return r.ok() ? *r : std::nullopt;
  }

  std::string nft_list() {
    std::string out;
    EXPECT_EQ(sh("ip netns exec " + name_ + " nft list table inet bulkhead", &out), 0) << out;
    // Counter values depend on traffic; render_nft prints zeros.
    return std::regex_replace(out, std::regex("counter packets [0-9]+ bytes [0-9]+"),
                              "counter packets 0 bytes 0");
  }

  TestNamespaces nets_;
  std::string name_;
  std::optional<NetnsHandle> ns_;
  std::optional<MnlSocket> sock_;
};

TEST_F(NftTableTest, AppliedTableReadsBackEqualAndListsAsRendered) {
  policy::NftTable t =
      sample_table({range("198.18.0.0", "198.18.0.255"), range("198.18.5.1", "198.18.5.5")}, 8080);
  ASSERT_TRUE(replace_table(*sock_, t).ok());
  auto back = read();
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, kernel_form(t));
  EXPECT_EQ(nft_list(), policy::render_nft(kernel_form(t)));
}

TEST_F(NftTableTest, IntervalEdgesOfTheAddressSpace) {
  policy::NftTable t;
  t.sets = {
      policy::NftSet{"all4", 4, true, {range("0.0.0.0", "255.255.255.255")}},
      policy::NftSet{"all6", 6, true, {range("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")}},
      policy::NftSet{"edges",
                     4,
                     true,
                     {range("0.0.0.0", "0.255.255.255"), range("198.18.0.7", "198.18.0.7"),
                      range("255.255.255.0", "255.255.255.255")}},
      policy::NftSet{"empty", 4, true, {}},
  };
  t.chains.push_back(
      chain("ingress", {allow(4, "edges", L4::tcp, 1, 65535, "edges"),
                        allow(4, "all4", L4::any, 0, 0, ""), allow(6, "all6", L4::any, 0, 0, "")}));
  auto st = replace_table(*sock_, t);
  ASSERT_TRUE(st.ok()) << st.error().to_string();
  auto back = read();
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, kernel_form(t));
  EXPECT_EQ(nft_list(), policy::render_nft(kernel_form(t)));
}

TEST_F(NftTableTest, LargeSetSpansSeveralMessages) {
  std::vector<policy::AddrRange> peers;
  for (int i = 0; i < 10000; ++i) {
    policy::IpAddr a = ip("198.18.0.0");
    a.bytes[2] = static_cast<uint8_t>(i / 250);
    a.bytes[3] = static_cast<uint8_t>(i % 250 + 1);
    peers.push_back({a, a});
  }
  policy::NftTable t = sample_table({}, 8080);
  t.sets[0].interval = false;
  t.sets[0].elements = peers;
  auto st = replace_table(*sock_, t);
  ASSERT_TRUE(st.ok()) << st.error().to_string();
  auto back = read();
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->sets[0].elements.size(), 10000u);
  EXPECT_EQ(*back, kernel_form(t));
}

TEST_F(NftTableTest, TableLoadedByNftDecodesToThePlan) {
  // nft encodes interval sets its own way (a leading end key at address zero, merged ranges);
  // the decoder must read its rules and sets as the same plan.
  policy::NftTable t =
      sample_table({range("198.18.0.0", "198.18.0.255"), range("198.18.5.1", "198.18.5.5"),
                    range("255.255.255.0", "255.255.255.255")},
                   8080);
  std::string file = "/tmp/" + run_prefix() + "table.nft";
  {
    FILE* f = fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::string text = policy::render_nft(t);
    fwrite(text.data(), 1, text.size(), f);
    fclose(f);
  }
  std::string out;
  int rc = sh("ip netns exec " + name_ + " nft -f " + file, &out);
  std::remove(file.c_str());
  ASSERT_EQ(rc, 0) << out;
  auto back = read();
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, kernel_form(t)) << describe(*back) << "\nwanted\n" << describe(kernel_form(t));
  auto change = apply_table(*sock_, t);
  ASSERT_TRUE(change.ok());
  EXPECT_EQ(*change, NftChange::none);
}

// An audit chain (log rule, counted final accept) and an enforcing one (log rule, final drop):
// loaded by nft, they decode to the plan; a log rule deleted by hand is drift and is repaired.
TEST_F(NftTableTest, LogRulesAndAuditFinalAcceptReadBackAndDriftIsRepaired) {
  policy::NftTable t = sample_table({range("198.18.0.0", "198.18.0.255")}, 8080);
  auto& in = t.chains[0].rules;
  in.insert(in.end() - 1, log_rule("bulkhead deny ingress x", policy::kLogRate, policy::kLogBurst));
  auto& out = t.chains[1].rules;
  out.insert(out.end() - 1,
             log_rule("bulkhead would-deny egress x", policy::kLogRate, policy::kLogBurst));
  out.back().kind = policy::RuleKind::final_accept;
  out.back().comment = "would deny other egress (audit: watch)";
  std::string file = "/tmp/" + run_prefix() + "audit.nft";
  {
    FILE* f = fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::string text = policy::render_nft(t);
    fwrite(text.data(), 1, text.size(), f);
    fclose(f);
  }
  std::string text;
  int rc = sh("ip netns exec " + name_ + " nft -f " + file, &text);
  std::remove(file.c_str());
  ASSERT_EQ(rc, 0) << text;
  auto back = read();
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, kernel_form(t)) << describe(*back) << "\nwanted\n" << describe(kernel_form(t));
  EXPECT_EQ(back->chains[1].rules.back().kind, policy::RuleKind::final_accept);
  auto change = apply_table(*sock_, t);
  ASSERT_TRUE(change.ok());
  EXPECT_EQ(*change, NftChange::none);

  // Without its log rule the final accept reads as an allow-everything rule: drift.
  ASSERT_EQ(sh("ip netns exec " + name_ + " sh -c \"nft delete rule inet bulkhead egress handle " +
                   "\\$(nft -a list chain inet bulkhead egress | sed -n 's/.*log prefix.*# handle "
                   "//p')\"",
               &text),
            0)
      << text;
  back = read();
  ASSERT_TRUE(back.has_value());
  EXPECT_NE(*back, kernel_form(t));
  EXPECT_EQ(back->chains[1].rules.back().kind, policy::RuleKind::allow);
  change = apply_table(*sock_, t);
  ASSERT_TRUE(change.ok());
  EXPECT_EQ(*change, NftChange::replaced);
  EXPECT_EQ(read(), kernel_form(t));
}

TEST_F(NftTableTest, ThousandsOfRulesAreAllAcknowledged) {
  // One ACK per rule: more than a default receive buffer holds.
  policy::NftTable t = sample_table({range("198.18.0.0", "198.18.0.255")}, 8080);
  auto& rules = t.chains[0].rules;
  for (int i = 0; i < 3000; ++i) {
    rules.insert(rules.end() - 1,
                 allow(4, "peers4", L4::tcp, static_cast<uint16_t>(10000 + i),
                       static_cast<uint16_t>(10000 + i), "rule " + std::to_string(i)));
  }
  auto st = replace_table(*sock_, t);
  ASSERT_TRUE(st.ok()) << st.error().to_string();
  auto back = read();
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->chains[0].rules.size(), rules.size());
  EXPECT_EQ(*back, kernel_form(t));
}

TEST_F(NftTableTest, ChangedTableReplacesTheOldOne) {
  policy::NftTable t1 = sample_table({range("198.18.0.0", "198.18.0.255")}, 8080);
  ASSERT_TRUE(replace_table(*sock_, t1).ok());
  policy::NftTable t2 = sample_table({range("198.18.1.0", "198.18.1.255")}, 9090);
  t2.chains.pop_back();
  auto change = apply_table(*sock_, t2);
  ASSERT_TRUE(change.ok()) << change.error().to_string();
  EXPECT_EQ(*change, NftChange::replaced);
  EXPECT_EQ(read(), kernel_form(t2));
  auto again = apply_table(*sock_, t2);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, NftChange::none);
}

TEST_F(NftTableTest, FailingTransactionLeavesThePreviousTableWhole) {
  policy::NftTable good = sample_table({range("198.18.0.0", "198.18.0.255")}, 8080);
  ASSERT_TRUE(replace_table(*sock_, good).ok());
  policy::NftTable bad = sample_table({range("198.18.9.0", "198.18.9.255")}, 7070);
  // The kernel limits set names to 255 bytes; everything before this set is valid.
  policy::NftSet too_long{std::string(300, 'x'), 4, false, {host("198.18.0.9")}};
  bad.sets.push_back(too_long);
  auto st = replace_table(*sock_, bad);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().op.find("add set inet bulkhead xxxx"), std::string::npos)
      << st.error().to_string();
  EXPECT_NE(st.error().code, 0);
  EXPECT_FALSE(st.error().ext_ack.empty()) << st.error().to_string();
  EXPECT_EQ(read(), kernel_form(good));
}

TEST_F(NftTableTest, ElementOnlyUpdateKeepsRuleCounters) {
  std::string peer = nets_.add("peer");
  nets_.link(name_, "198.18.0.1/24", peer, "198.18.0.2/24");
  auto peer_ns = NetnsHandle::open(TestNamespaces::path(peer));
  ASSERT_TRUE(peer_ns.ok());
  // The peer is not in the set, so its datagrams hit the counted final drop.
  policy::NftTable t1 = sample_table({range("198.18.0.100", "198.18.0.120")}, 8080);
  ASSERT_TRUE(replace_table(*sock_, t1).ok());
  Fd rx = socket_in(*ns_, SOCK_DGRAM, 5000);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(udp_delivered(*peer_ns, "198.18.0.1", 5000, rx, 100));
  auto before = read();
  ASSERT_TRUE(before.has_value());
  const policy::NftRule& drop_before = before->chains[0].rules.back();
  ASSERT_EQ(drop_before.kind, policy::RuleKind::final_drop);
  EXPECT_GE(drop_before.packets, 5u);

  policy::NftTable t2 = t1;
  t2.sets[0].elements = {range("198.18.0.100", "198.18.0.130"), host("198.18.0.200")};
  t2.sets[1].elements = {host("2001:db8::5"), host("2001:db8::7")};
  auto change = apply_table(*sock_, t2);
  ASSERT_TRUE(change.ok()) << change.error().to_string();
  EXPECT_EQ(*change, NftChange::elements);
  auto after = read();
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(*after, kernel_form(t2));
  EXPECT_EQ(after->chains[0].rules.back().packets, drop_before.packets);
  EXPECT_EQ(after->chains[0].rules.back().bytes, drop_before.bytes);
}

TEST_F(NftTableTest, DeleteRemovesTheTableAndToleratesAbsence) {
  ASSERT_TRUE(replace_table(*sock_, sample_table({}, 80)).ok());
  ASSERT_TRUE(delete_table(*sock_).ok());
  EXPECT_EQ(read(), std::nullopt);
  auto st = delete_table(*sock_);
  EXPECT_TRUE(st.ok()) << st.error().to_string();
  std::string out;
  EXPECT_NE(sh("ip netns exec " + name_ + " nft list table inet bulkhead", &out), 0);
}

TEST_F(NftTableTest, ForeignRuleIsDrift) {
  policy::NftTable t = sample_table({}, 80);
  ASSERT_TRUE(replace_table(*sock_, t).ok());
  std::string out;
  ASSERT_EQ(
      sh("ip netns exec " + name_ + " nft insert rule inet bulkhead ingress tcp dport 22 accept",
         &out),
      0)
      << out;
  auto back = read();
  ASSERT_TRUE(back.has_value());
  EXPECT_NE(*back, kernel_form(t));
  auto change = apply_table(*sock_, t);
  ASSERT_TRUE(change.ok());
  EXPECT_EQ(*change, NftChange::replaced);
  EXPECT_EQ(read(), kernel_form(t));
}

class NftPacketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = nets_.add("a");
    b_ = nets_.add("b");
    nets_.link(a_, "198.18.0.1/24", b_, "198.18.0.2/24");
    auto ha = NetnsHandle::open(TestNamespaces::path(a_));
    auto hb = NetnsHandle::open(TestNamespaces::path(b_));
    ASSERT_TRUE(ha.ok() && hb.ok());
    a_ns_.emplace(std::move(ha).value());
    b_ns_.emplace(std::move(hb).value());
    auto s = MnlSocket::open_in(*b_ns_, NETLINK_NETFILTER);
    ASSERT_TRUE(s.ok());
    b_sock_.emplace(std::move(s).value());
  }
  TestNamespaces nets_;
  std::string a_, b_;
  std::optional<NetnsHandle> a_ns_, b_ns_;
  std::optional<MnlSocket> b_sock_;
};

TEST_F(NftPacketTest, TcpAllowedOnlyOnThePolicyPort) {
  Fd l8080 = socket_in(*b_ns_, SOCK_STREAM, 8080);
  Fd l8081 = socket_in(*b_ns_, SOCK_STREAM, 8081);
  // Without a table both ports answer, so a failure below is the table's doing.
  EXPECT_TRUE(tcp_connects(*a_ns_, "198.18.0.2", 8080));
  EXPECT_TRUE(tcp_connects(*a_ns_, "198.18.0.2", 8081));
  ASSERT_TRUE(replace_table(*b_sock_, sample_table({host("198.18.0.1")}, 8080)).ok());
  EXPECT_TRUE(tcp_connects(*a_ns_, "198.18.0.2", 8080));
  EXPECT_FALSE(tcp_connects(*a_ns_, "198.18.0.2", 8081));
  // A peer outside the set is refused on the allowed port too.
  ASSERT_TRUE(replace_table(*b_sock_, sample_table({host("198.18.0.3")}, 8080)).ok());
  EXPECT_FALSE(tcp_connects(*a_ns_, "198.18.0.2", 8080));
  auto back = read_table(*b_sock_);
  ASSERT_TRUE(back.ok() && back->has_value());
  EXPECT_GE((*back)->chains[0].rules.back().packets, 1u);
}

TEST_F(NftPacketTest, UdpAllowedOnlyOnThePolicyPort) {
  policy::NftTable t;
  t.sets = {policy::NftSet{"peers", 4, true, {range("198.18.0.0", "198.18.0.1")}}};
  t.chains.push_back(chain("ingress", {allow(4, "peers", L4::udp, 5000, 5001, "udp range")}));
  ASSERT_TRUE(replace_table(*b_sock_, t).ok());
  Fd r5001 = socket_in(*b_ns_, SOCK_DGRAM, 5001);
  Fd r5002 = socket_in(*b_ns_, SOCK_DGRAM, 5002);
  EXPECT_TRUE(udp_delivered(*a_ns_, "198.18.0.2", 5001, r5001));
  EXPECT_FALSE(udp_delivered(*a_ns_, "198.18.0.2", 5002, r5002));
  ASSERT_TRUE(delete_table(*b_sock_).ok());
  EXPECT_TRUE(udp_delivered(*a_ns_, "198.18.0.2", 5002, r5002));
}

TEST_F(NftPacketTest, EgressChainLimitsWhatTheNamespaceSends) {
  Fd l = socket_in(*b_ns_, SOCK_STREAM, 443);
  auto s = MnlSocket::open_in(*a_ns_, NETLINK_NETFILTER);
  ASSERT_TRUE(s.ok());
  policy::NftTable t;
  t.sets = {policy::NftSet{"dst", 4, false, {host("198.18.0.2")}}};
  t.chains.push_back(chain("egress", {allow(4, "dst", L4::tcp, 443, 443, "to b")}));
  ASSERT_TRUE(replace_table(*s, t).ok());
  EXPECT_TRUE(tcp_connects(*a_ns_, "198.18.0.2", 443));
  t.sets[0].elements = {host("198.18.0.3")};
  auto change = apply_table(*s, t);
  ASSERT_TRUE(change.ok());
  EXPECT_EQ(*change, NftChange::elements);
  EXPECT_FALSE(tcp_connects(*a_ns_, "198.18.0.2", 443));
}

}  // namespace
}  // namespace bulkhead::netlink
