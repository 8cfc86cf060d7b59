// The host layer in real namespaces: a switch namespace with a bridge holds the host ends of
// three endpoints' veths. The sandbox may reach only the allowed endpoint on TCP 80. The test,
// holding NET_ADMIN in the sandbox's namespace as a privileged workload would, deletes the
// sandbox's own table and tries the denied peer: with the host layer it stays blocked; without
// it the same probe connects (the control). Spoofed sources are dropped on the host side.
#include <gtest/gtest.h>
#include <linux/netlink.h>

#include <regex>

#include "netlink/nft/apply.h"
#include "netlink/nft/host_apply.h"
#include "netlink/nft/mnl_socket.h"
#include "policy/plan/compile.h"
#include "policy/plan/host.h"
#include "policy/plan/render.h"
#include "tests/support/netns_fixture.h"
#include "tests/support/policy_builders.h"
#include "tests/support/probe.h"

namespace bulkhead::netlink {
namespace {

using namespace testing;          // NOLINT
using namespace policy::testing;  // NOLINT

constexpr int kTries = 20;

class HostLayer : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    sw_ = nets_.add("hsw");
    std::string out;
    ASSERT_EQ(
        sh("ip -n " + sw_ + " link add br0 type bridge && ip -n " + sw_ + " link set br0 up", &out),
        0)
        << out;
    for (const char* n : {"a", "b", "c"}) {
      const std::string ns = nets_.add(std::string("h") + n);
      const std::string port = port_name(n);
      const std::string addr = std::string("198.18.40.") + std::to_string(1 + (*n - 'a'));
      ASSERT_EQ(sh("ip link add " + port + " type veth peer name " + port + "x && ip link set " +
                       port + " netns " + sw_ + " && ip -n " + sw_ + " link set " + port +
                       " master br0 up && ip link set " + port + "x netns " + ns +
                       " name eth0 && ip -n " + ns + " addr add " + addr +
                       "/24 dev eth0 && ip -n " + ns + " link set eth0 up",
                   &out),
                0)
          << out;
      names_[*n - 'a'] = ns;
    }
    for (int i = 0; i < 3; ++i) {
      auto ns = NetnsHandle::open(TestNamespaces::path(names_[i]));
      ASSERT_TRUE(ns.ok());
      ns_.push_back(std::move(*ns));
      servers_[i] = socket_in(ns_[i], SOCK_STREAM, 80);
      fcntl(servers_[i].get(), F_SETFL, O_NONBLOCK);
    }
    auto sw = NetnsHandle::open(TestNamespaces::path(sw_));
    ASSERT_TRUE(sw.ok());
    auto sock = MnlSocket::open_in(*sw, NETLINK_NETFILTER);
    ASSERT_TRUE(sock.ok());
    host_sock_ = std::make_unique<MnlSocket>(std::move(*sock));

    endpoints_ = {endpoint("allowed", "app=allowed", {"198.18.40.3"}),
                  endpoint("open", "app=open", {"198.18.40.2"}),
                  endpoint("sandbox", "app=sandbox", {"198.18.40.1"})};
    for (auto& e : endpoints_) e.netns = TestNamespaces::path(names_[index_of(e.name)]);
    policy::PolicySet& ps = policy_;
    ps.isolations.push_back(isolate(policy::Direction::egress,
                                    group_subject("sandbox", "app=sandbox"),
                                    origin("guard", at(1, 1))));
    ps.rules.push_back(rule(policy::Direction::egress, group_subject("sandbox", "app=sandbox"),
                            {group_peer("allowed", "app=allowed")},
                            {port(policy::Protocol::tcp, 80)}, origin("guard", at(2, 1))));
    plan_ = policy::compile(ps, endpoints_);
    ports_ = {{"allowed", port_name("c")}, {"open", port_name("b")}, {"sandbox", port_name("a")}};
    host_ = policy::compile_host(plan_, endpoints_, ports_);
  }

  static std::string port_name(const char* n) {
    return "bhp" + std::to_string(getpid() % 100000) + n;
  }
  static int index_of(const std::string& endpoint) {
    return endpoint == "sandbox" ? 0 : endpoint == "open" ? 1 : 2;
  }

  // The sandbox's own table, as the daemon would apply it, then deleted by "the workload".
  void enforce_then_tamper() {
    auto sock = MnlSocket::open_in(ns_[0], NETLINK_NETFILTER);
    ASSERT_TRUE(sock.ok());
    const auto& sandbox = plan_.endpoints[index_of_plan("sandbox")];
    ASSERT_TRUE(sandbox.table.has_value());
    ASSERT_TRUE(replace_table(*sock, *sandbox.table).ok());
    ASSERT_FALSE(tcp_connects(ns_[0], "198.18.40.2", 80)) << "in-namespace table not enforcing";
    auto st = delete_table(*sock);
    ASSERT_TRUE(st.ok()) << st.error().to_string();
  }
  size_t index_of_plan(const std::string& name) const {
    for (size_t i = 0; i < plan_.endpoints.size(); ++i)
      if (plan_.endpoints[i].endpoint == name) return i;
    return 0;
  }

  // The servers never answer; accepting keeps their backlog from filling up over the tries.
  void drain() {
    for (auto& s : servers_)
      while (Fd(accept(s.get(), nullptr, nullptr)).get() >= 0) {
      }
  }
  bool connects(const NetnsHandle& from, const std::string& addr) {
    const bool ok = tcp_connects(from, addr, 80, 300);
    drain();
    return ok;
  }
  // `nft list table FAMILY bulkhead-host` in the switch namespace.
  std::string listing(const char* family) {
    std::string listed;
    sh(std::string("ip netns exec ") + sw_ + " nft list table " + family + " bulkhead-host",
       &listed);
    return listed;
  }
  // What the sandbox's host-side egress chain dropped so far (its final drop), -1 when absent.
  int drops() {
    std::smatch m;
    const std::string listed = listing("inet");
    return std::regex_search(
               listed, m,
               std::regex("counter packets ([0-9]+) bytes [0-9]+ drop comment \"drop other"))
               ? std::stoi(m[1])
               : -1;
  }

  int connections(const std::string& addr) {
    int n = 0;
    for (int i = 0; i < kTries; ++i) n += connects(ns_[0], addr) ? 1 : 0;
    return n;
  }

  TestNamespaces nets_;
  std::string sw_;
  std::string names_[3];
  std::vector<NetnsHandle> ns_;
  Fd servers_[3];
  std::unique_ptr<MnlSocket> host_sock_;
  policy::Endpoints endpoints_;
  policy::PolicySet policy_;
  std::vector<policy::HostPort> ports_;
  policy::Plan plan_;
  policy::HostPlan host_;
};

TEST_F(HostLayer, TheWorkloadDeletingItsOwnTableStillCannotReachADeniedPeer) {
  ASSERT_TRUE(host_.policy.has_value());
  ASSERT_TRUE(host_.antispoof.has_value());
  EXPECT_EQ(host_.endpoints, (std::vector<std::string>{"allowed", "open", "sandbox"}));
  // Control first: with no host layer the tampered sandbox reaches the denied peer.
  enforce_then_tamper();
  EXPECT_EQ(connections("198.18.40.2"), kTries) << "the probe cannot connect even unenforced";

  auto st = commit_host_tables(*host_sock_, std::nullopt, host_);
  ASSERT_TRUE(st.ok()) << st.error().to_string() << "\n" << policy::render_nft(*host_.policy);
  enforce_then_tamper();
  EXPECT_EQ(connections("198.18.40.2"), 0);
  EXPECT_EQ(connections("198.18.40.3"), kTries) << "the allowed peer is blocked too";
  // The other endpoints are not isolated: the open one reaches the sandbox and the allowed one.
  EXPECT_TRUE(connects(ns_[1], "198.18.40.1"));
  EXPECT_TRUE(connects(ns_[1], "198.18.40.3"));

  EXPECT_GE(drops(), kTries) << "the host layer's drop counted less than the probes:\n"
                             << listing("inet");
}

TEST_F(HostLayer, ASpoofedSourceAddressIsDroppedOnTheHostSide) {
  auto st = commit_host_tables(*host_sock_, std::nullopt, host_);
  ASSERT_TRUE(st.ok()) << st.error().to_string();
  enforce_then_tamper();
  // The workload takes a second address and sends from it to the allowed peer, which its policy
  // lets it reach from its own.
  std::string out;
  ASSERT_EQ(sh("ip -n " + names_[0] + " addr add 198.18.40.9/24 dev eth0", &out), 0) << out;
  auto from = [&](const char* src) {
    Fd s = socket_in(ns_[0], SOCK_STREAM, 0);
    sockaddr_in local = v4(src, 0);
    EXPECT_EQ(bind(s.get(), reinterpret_cast<sockaddr*>(&local), sizeof local), 0);
    fcntl(s.get(), F_SETFL, O_NONBLOCK);
    sockaddr_in sa = v4("198.18.40.3", 80);
    connect(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    pollfd p{s.get(), POLLOUT, 0};
    if (poll(&p, 1, 300) != 1) return false;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    drain();
    return err == 0;
  };
  // Own address first: the sandbox's neighbour entry for the peer is then resolved, so the
  // spoofed probes are IP packets (an ARP request with a spoofed sender is dropped as well).
  int spoofed = 0, own = 0;
  for (int i = 0; i < kTries; ++i) own += from("198.18.40.1") ? 1 : 0;
  for (int i = 0; i < kTries; ++i) spoofed += from("198.18.40.9") ? 1 : 0;
  EXPECT_EQ(spoofed, 0);
  EXPECT_EQ(own, kTries) << "the same probe from the endpoint's own address does not connect";

  std::string listed;
  ASSERT_EQ(sh("ip netns exec " + sw_ + " nft list table bridge bulkhead-host", &listed), 0);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      listed, m,
      std::regex("counter packets ([0-9]+) bytes [0-9]+ drop comment \"anti-spoofing: sandbox\"")))
      << listed;
  EXPECT_GE(std::stoi(m[1]), kTries);
}

// A peer's new address is a set-element update in both tables: the rules, and the drops they
// counted, stay.
TEST_F(HostLayer, AMembershipChangeUpdatesElementsOnly) {
  ASSERT_TRUE(commit_host_tables(*host_sock_, std::nullopt, host_).ok());
  enforce_then_tamper();
  ASSERT_EQ(connections("198.18.40.2"), 0);
  const int before = drops();
  ASSERT_GE(before, kTries);

  endpoints_[0].addresses.push_back(ip("198.18.40.5"));  // "allowed" gains an address
  const policy::Plan plan = policy::compile(policy_, endpoints_);
  const policy::HostPlan next = policy::compile_host(plan, endpoints_, ports_);
  auto change = commit_host_tables(*host_sock_, host_, next);
  ASSERT_TRUE(change.ok()) << change.error().to_string();
  EXPECT_EQ(change->policy, NftChange::elements);
  EXPECT_EQ(change->antispoof, NftChange::elements);
  EXPECT_EQ(drops(), before);
  // Nothing left to do the second time.
  change = commit_host_tables(*host_sock_, next, next);
  ASSERT_TRUE(change.ok());
  EXPECT_EQ(change->policy, NftChange::none);
  EXPECT_EQ(change->antispoof, NftChange::none);
}

// An endpoint arriving adds its own chains, sets and map elements; leaving takes them away. The
// other endpoints' chains stay, with what they counted, and the tables match the plan each time.
TEST_F(HostLayer, AnEndpointArrivingOrLeavingTouchesOnlyItsOwnObjects) {
  ASSERT_TRUE(commit_host_tables(*host_sock_, std::nullopt, host_).ok());
  enforce_then_tamper();
  ASSERT_EQ(connections("198.18.40.2"), 0);
  const int before = drops();
  ASSERT_GE(before, kTries);

  // A fourth endpoint, isolated like the sandbox, on a port of its own.
  policy::Endpoints more = endpoints_;
  more.push_back(endpoint("sandbox2", "app=sandbox", {"198.18.40.7"}));
  std::vector<policy::HostPort> ports = ports_;
  ports.push_back({"sandbox2", port_name("d")});
  const policy::HostPlan arrived =
      policy::compile_host(policy::compile(policy_, more), more, ports);
  auto change = commit_host_tables(*host_sock_, host_, arrived);
  ASSERT_TRUE(change.ok()) << change.error().to_string();
  EXPECT_EQ(change->policy, NftChange::objects);
  EXPECT_EQ(change->antispoof, NftChange::objects);
  EXPECT_EQ(drops(), before) << "the sandbox's chain was rewritten";
  const std::string id = policy::host_id("sandbox2");
  EXPECT_NE(listing("inet").find("chain " + id + "-egress"), std::string::npos);
  EXPECT_NE(listing("bridge").find("chain " + id + "-spoof"), std::string::npos);

  change = commit_host_tables(*host_sock_, arrived, host_);
  ASSERT_TRUE(change.ok()) << change.error().to_string();
  EXPECT_EQ(change->policy, NftChange::objects);
  EXPECT_EQ(drops(), before);
  EXPECT_EQ(listing("inet").find(id), std::string::npos);
  EXPECT_EQ(listing("bridge").find(id), std::string::npos);
  // What is left is exactly the plan of the three.
  std::string listed =
      std::regex_replace(listing("bridge"), std::regex("counter packets [0-9]+ bytes [0-9]+"),
                         "counter packets 0 bytes 0");
  EXPECT_EQ(listed, policy::render_nft(*host_.antispoof));
}

// `nft list` prints both tables exactly as render_nft writes them, so `bulkhead compile` shows
// what the kernel holds.
TEST_F(HostLayer, ListingMatchesTheRenderedTables) {
  ASSERT_TRUE(commit_host_tables(*host_sock_, std::nullopt, host_).ok());
  for (const auto* table : {&*host_.policy, &*host_.antispoof}) {
    const char* family = table->family == policy::TableFamily::bridge ? "bridge" : "inet";
    std::string listed;
    ASSERT_EQ(sh("ip netns exec " + sw_ + " nft list table " + family + " bulkhead-host", &listed),
              0);
    listed = std::regex_replace(listed, std::regex("counter packets [0-9]+ bytes [0-9]+"),
                                "counter packets 0 bytes 0");
    EXPECT_EQ(listed, policy::render_nft(*table));
  }
}

TEST_F(HostLayer, RemovingTheHostLayerLeavesNoTable) {
  ASSERT_TRUE(commit_host_tables(*host_sock_, std::nullopt, host_).ok());
  ASSERT_TRUE(delete_host_tables(*host_sock_).ok());
  std::string listed;
  ASSERT_EQ(sh("ip netns exec " + sw_ + " nft list ruleset", &listed), 0);
  EXPECT_EQ(listed.find("bulkhead-host"), std::string::npos) << listed;
  // Deleting again is fine.
  EXPECT_TRUE(delete_host_tables(*host_sock_).ok());
}

}  // namespace
}  // namespace bulkhead::netlink
