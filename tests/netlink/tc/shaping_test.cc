// tc limits in a real namespace: apply, read back, cross-check with the tc binary, remove, and
// measure the rate that TCP actually gets through each limit.
#include "netlink/tc/shaping.h"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "tests/support/netns_fixture.h"

namespace bulkhead::netlink {
namespace {

using namespace testing;  // NOLINT

policy::TcLimit limit(uint64_t bits) {
  // 10 ms of traffic, at least ten full frames: what the notes found reaches full goodput.
  return policy::TcLimit{bits, std::max<uint64_t>(bits / 8 / 100, 15140)};
}

class TcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = nets_.add("tca");
    b_ = nets_.add("tcb");
    nets_.link(a_, "198.18.1.1/24", b_, "198.18.1.2/24");
    auto h = NetnsHandle::open(TestNamespaces::path(b_));
    ASSERT_TRUE(h.ok());
    b_ns_.emplace(std::move(h).value());
    auto s = NlRouteSocket::open_in(*b_ns_);
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    sock_.emplace(std::move(s).value());
  }

  std::string tc_show(const std::string& what) {
    std::string out;
    sh("tc -n " + b_ + " " + what, &out);
    return out;
  }

  TestNamespaces nets_;
  std::string a_, b_;
  std::optional<NetnsHandle> b_ns_;
  std::optional<NlRouteSocket> sock_;
};

TEST_F(TcTest, FindsTheEndpointInterface) {
  auto i = find_endpoint_interface(*sock_);
  ASSERT_TRUE(i.ok()) << i.error().to_string();
  EXPECT_EQ(i->name, "eth0");
  // A second interface that does not carry the default route does not win.
  std::string c = nets_.add("tcc");
  nets_.link(c, "198.18.2.1/24", b_, "198.18.2.2/24", "eth0", "eth1");
  ASSERT_EQ(sh("ip -n " + b_ + " route add default via 198.18.2.1 dev eth1"), 0);
  i = find_endpoint_interface(*sock_);
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(i->name, "eth1");
}

TEST_F(TcTest, AppliesReadsBackAndRemovesEverything) {
  policy::TcPlan plan{limit(10'000'000), limit(20'000'000)};
  auto st = apply_tc(*sock_, plan);
  ASSERT_TRUE(st.ok()) << st.error().to_string();
  auto back = read_tc(*sock_);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  ASSERT_TRUE(back->egress && back->ingress);
  EXPECT_EQ(back->egress->rate_bits, 10'000'000u);
  EXPECT_EQ(back->ingress->rate_bits, 20'000'000u);
  EXPECT_TRUE(tc_equivalent(*back, plan));
  EXPECT_NE(tc_show("qdisc show dev eth0").find("qdisc htb 1: root"), std::string::npos);
  EXPECT_NE(tc_show("qdisc show dev eth0").find("qdisc ingress ffff:"), std::string::npos);
  EXPECT_NE(tc_show("filter show dev eth0 ingress").find("Egress Redirect to device bh-ifb0"),
            std::string::npos)
      << tc_show("filter show dev eth0 ingress");
  EXPECT_NE(tc_show("class show dev bh-ifb0").find("rate 20Mbit ceil 20Mbit"), std::string::npos)
      << tc_show("class show dev bh-ifb0");

  // Changing one limit and dropping the other.
  policy::TcPlan smaller{limit(5'000'000), std::nullopt};
  ASSERT_TRUE(apply_tc(*sock_, smaller).ok());
  back = read_tc(*sock_);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(tc_equivalent(*back, smaller));
  EXPECT_FALSE(back->ingress.has_value());
  EXPECT_NE(sh("ip -n " + b_ + " link show bh-ifb0"), 0) << "ifb left behind";
  EXPECT_EQ(tc_show("qdisc show dev eth0").find("ingress"), std::string::npos);

  ASSERT_TRUE(remove_tc(*sock_).ok());
  back = read_tc(*sock_);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->empty());
  EXPECT_EQ(tc_show("qdisc show dev eth0").find("htb"), std::string::npos);
  EXPECT_TRUE(remove_tc(*sock_).ok());
}

TEST_F(TcTest, RatesAboveFourGigabitUseSixtyFourBits) {
  policy::TcPlan plan{policy::TcLimit{10'000'000'000ull, 12'500'000}, std::nullopt};
  auto st = apply_tc(*sock_, plan);
  ASSERT_TRUE(st.ok()) << st.error().to_string();
  auto back = read_tc(*sock_);
  ASSERT_TRUE(back.ok() && back->egress);
  EXPECT_EQ(back->egress->rate_bits, 10'000'000'000ull);
  EXPECT_NE(tc_show("class show dev eth0").find("rate 10Gbit"), std::string::npos)
      << tc_show("class show dev eth0");
}

TEST_F(TcTest, RefusesAnUnboundedOrZeroBurst) {
  policy::TcPlan plan{policy::TcLimit{10'000'000, 0}, std::nullopt};
  EXPECT_FALSE(apply_tc(*sock_, plan).ok());
}

struct Measured {
  double average_bps = 0;
  double first_second_bps = 0;
};

// iperf3 from `client` to the server in `server` for ~3 s; rates as the receiver saw them.
Measured iperf(const std::string& server, const std::string& client, const std::string& addr,
               bool reverse, int port) {
  std::string srv = "timeout 15 ip netns exec " + server + " iperf3 -s -1 -J -p " +
                    std::to_string(port) + " >/dev/null 2>&1 &";
  EXPECT_EQ(std::system(srv.c_str()), 0);
  EXPECT_TRUE(wait_tcp_listening(server, port, std::chrono::seconds(5)))
      << "iperf3 -s in " << server << " does not listen on " << port;
  std::string out;
  const int rc =
      sh("timeout 15 ip netns exec " + client + " iperf3 -J -t 3 --get-server-output -c " + addr +
             " -p " + std::to_string(port) + (reverse ? " -R" : ""),
         &out);
  EXPECT_EQ(rc, 0) << out;
  Measured m;
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded()) {
    ADD_FAILURE() << "iperf3 output: " << out;
    return m;
  }
  m.average_bps = j["end"]["sum_received"]["bits_per_second"].get<double>();
  // The receiver's first interval: the client in reverse mode, else the server.
  auto& intervals = reverse ? j["intervals"] : j["server_output_json"]["intervals"];
  if (!intervals.is_array() || intervals.empty()) {
    ADD_FAILURE() << "no receiver intervals in: " << out;
    return m;
  }
  m.first_second_bps = intervals[0]["sum"]["bits_per_second"].get<double>();
  return m;
}

TEST_F(TcTest, TcpGetsTheConfiguredRateInBothDirections) {
  int port = 5301 + getpid() % 500;
  for (uint64_t rate : {10'000'000ull, 100'000'000ull}) {
    policy::TcPlan plan{limit(rate), limit(rate)};
    ASSERT_TRUE(apply_tc(*sock_, plan).ok());
    for (bool reverse : {false, true}) {
      // b is the limited endpoint: as client it sends (egress), with -R it receives (ingress).
      Measured m = iperf(a_, b_, "198.18.1.1", reverse, port++);
      double ratio = m.average_bps / static_cast<double>(rate);
      double first = m.first_second_bps / static_cast<double>(rate);
      SCOPED_TRACE(std::to_string(rate) + (reverse ? " ingress" : " egress"));
      std::printf("rate %llu bit/s %s: average %.3f of the limit, first second %.3f\n",
                  static_cast<unsigned long long>(rate), reverse ? "ingress" : "egress", ratio,
                  first);
      EXPECT_GE(ratio, 0.90);
      EXPECT_LE(ratio, 1.0);
      EXPECT_LE(first, 1.2);
    }
  }
}

}  // namespace
}  // namespace bulkhead::netlink
