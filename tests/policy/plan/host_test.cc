// The host layer's plan (policy/plan/host.h): which endpoints it covers, the chains it gives
// each, the address-keyed jumps and the per-port anti-spoofing, as exact text.
#include "policy/plan/host.h"

#include <gtest/gtest.h>

#include "policy/plan/compile.h"
#include "policy/plan/render.h"
#include "tests/support/policy_builders.h"

namespace bulkhead::policy {
namespace {

using namespace testing;  // NOLINT

class HostPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    endpoints = {endpoint("api", "app=api", {"198.18.0.3"}),
                 endpoint("web", "app=web", {"198.18.0.2", "2001:db8::2"})};
    set.isolations.push_back(
        isolate(Direction::ingress, group_subject("api", "app=api"), origin("lock", at(1, 1))));
    set.rules.push_back(rule(Direction::ingress, group_subject("api", "app=api"),
                             {group_peer("web", "app=web")}, {port(Protocol::tcp, 8080)},
                             origin("lock", at(2, 1))));
    plan = compile(set, endpoints);
  }
  PolicySet set;
  Endpoints endpoints;
  Plan plan;
};

TEST_F(HostPlanTest, EndpointsWithoutAPortAreNotCovered) {
  const HostPlan host = compile_host(plan, endpoints, {{"web", "veth-web"}});
  EXPECT_EQ(host.endpoints, std::vector<std::string>{"web"});
  // web is isolated nowhere: it gets anti-spoofing, no policy chain; api has no port.
  EXPECT_FALSE(host.policy.has_value());
  ASSERT_TRUE(host.antispoof.has_value());
  EXPECT_EQ(compile_host(plan, endpoints, {}), HostPlan{});
  // A port naming no endpoint is ignored.
  EXPECT_EQ(compile_host(plan, endpoints, {{"gone", "veth-gone"}}), HostPlan{});
}

TEST_F(HostPlanTest, PolicyTableDispatchesByOwnAddressToTheEndpointsChains) {
  const HostPlan host = compile_host(plan, endpoints, {{"api", "veth-api"}, {"web", "veth-web"}});
  ASSERT_TRUE(host.policy.has_value());
  const std::string id = host_id("api");
  EXPECT_EQ(
      render_nft(*host.policy),
      "table inet bulkhead-host {\n"
      "\tset web_v4 {\n"
      "\t\ttype ipv4_addr\n"
      "\t\telements = { 198.18.0.2 }\n"
      "\t}\n"
      "\n"
      "\tset web_v6 {\n"
      "\t\ttype ipv6_addr\n"
      "\t\telements = { 2001:db8::2 }\n"
      "\t}\n"
      "\n"
      "\tmap egress4 {\n"
      "\t\ttype ipv4_addr : verdict\n"
      "\t}\n"
      "\n"
      "\tmap egress6 {\n"
      "\t\ttype ipv6_addr : verdict\n"
      "\t}\n"
      "\n"
      "\tmap ingress4 {\n"
      "\t\ttype ipv4_addr : verdict\n"
      "\t\telements = { 198.18.0.3 : jump " +
          id +
          "-ingress }\n"
          "\t}\n"
          "\n"
          "\tmap ingress6 {\n"
          "\t\ttype ipv6_addr : verdict\n"
          "\t}\n"
          "\n"
          "\tchain forward {\n"
          "\t\ttype filter hook forward priority filter; policy accept;\n"
          "\t\tct state established,related accept\n"
          "\t\tip saddr vmap @egress4\n"
          "\t\tip6 saddr vmap @egress6\n"
          "\t\tip daddr vmap @ingress4\n"
          "\t\tip6 daddr vmap @ingress6\n"
          "\t}\n"
          "\n"
          "\tchain input {\n"
          "\t\ttype filter hook input priority filter; policy accept;\n"
          "\t\tct state established,related accept\n"
          "\t\tip saddr vmap @egress4\n"
          "\t\tip6 saddr vmap @egress6\n"
          "\t}\n"
          "\n"
          "\tchain output {\n"
          "\t\ttype filter hook output priority filter; policy accept;\n"
          "\t\tct state established,related accept\n"
          "\t\tip daddr vmap @ingress4\n"
          "\t\tip6 daddr vmap @ingress6\n"
          "\t}\n"
          "\n"
          "\tchain " +
          id +
          "-ingress {\n"
          "\t\tct state established,related return\n"
          "\t\tct state invalid counter packets 0 bytes 0 drop\n"
          "\t\ticmpv6 type 133-137 return\n"
          "\t\tip saddr @web_v4 tcp dport 8080 counter packets 0 bytes 0 return comment \"lock: "
          "web -> api 8080/tcp (p.yaml:2:1)\"\n"
          "\t\tip6 saddr @web_v6 tcp dport 8080 counter packets 0 bytes 0 return comment \"lock: "
          "web -> api 8080/tcp (p.yaml:2:1)\"\n"
          "\t\tlimit rate 10/second burst 20 packets log prefix \"bulkhead deny ingress api\" "
          "group 4242\n"
          "\t\tcounter packets 0 bytes 0 drop comment \"drop other ingress (isolated by lock)\"\n"
          "\t}\n"
          "}\n");
}

TEST_F(HostPlanTest, AntispoofingAdmitsOwnUnspecifiedAndLinkLocalSources) {
  const HostPlan host = compile_host(plan, endpoints, {{"web", "veth-web2"}, {"web", "veth-web"}});
  ASSERT_TRUE(host.antispoof.has_value());
  const std::string id = host_id("web");
  EXPECT_EQ(render_nft(*host.antispoof),
            "table bridge bulkhead-host {\n"
            "\tset " +
                id +
                "-s4 {\n"
                "\t\ttype ipv4_addr\n"
                "\t\tflags interval\n"
                "\t\telements = { 0.0.0.0, 198.18.0.2 }\n"
                "\t}\n"
                "\n"
                "\tset " +
                id +
                "-s6 {\n"
                "\t\ttype ipv6_addr\n"
                "\t\tflags interval\n"
                "\t\telements = { ::,\n"
                "\t\t\t     2001:db8::2,\n"
                "\t\t\t     fe80::/10 }\n"
                "\t}\n"
                "\n"
                "\tmap ports {\n"
                "\t\ttype ifname : verdict\n"
                "\t\telements = { \"veth-web\" : jump " +
                id +
                "-spoof,\n"
                "\t\t\t     \"veth-web2\" : jump " +
                id +
                "-spoof }\n"
                "\t}\n"
                "\n"
                "\tchain prerouting {\n"
                "\t\ttype filter hook prerouting priority filter; policy accept;\n"
                "\t\tiifname vmap @ports\n"
                "\t}\n"
                "\n"
                "\tchain " +
                id +
                "-spoof {\n"
                "\t\tip saddr @" +
                id +
                "-s4 return\n"
                "\t\tip6 saddr @" +
                id +
                "-s6 return\n"
                "\t\tarp saddr ip @" +
                id +
                "-s4 return\n"
                "\t\tcounter packets 0 bytes 0 drop comment \"anti-spoofing: web\"\n"
                "\t}\n"
                "}\n");
}

TEST(HostId, IsStableAndShort) {
  EXPECT_EQ(host_id("web"), host_id("web"));
  EXPECT_NE(host_id("web"), host_id("api"));
  EXPECT_EQ(host_id("web").size(), 9u);
}

}  // namespace
}  // namespace bulkhead::policy
