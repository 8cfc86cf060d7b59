#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/load/load.h"
#include "tests/support/load_test_util.h"

namespace bulkhead::policy {
namespace {

using ::testing::ElementsAre;
using testing::lines;

std::vector<std::string> errors(const std::string& text) {
  return lines(load_inventory_text(text, "inv.yaml").diagnostics);
}

TEST(LoadInventory, FullEndpoint) {
  auto l = load_inventory_text(R"(endpoints:
  - name: x-b
    netns: /run/netns/x-b
  - name: x-a
    netns: /proc/1234/ns/net
    labels: {pod: a, io.kubernetes.pod.namespace: x, empty: }
    addresses: [198.18.0.2, "fd00::2", 198.18.0.2]
    ports: {web: 80/tcp, dns: 53/udp, assoc: 9/SCTP, bare: 8080}
    hostNetwork: false
    privileged: true
    netAdmin: true
)",
                               "inv.yaml");
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  ASSERT_EQ(l.endpoints.size(), 2u);
  const Endpoint& a = l.endpoints[0];  // sorted by name
  EXPECT_EQ(a.name, "x-a");
  EXPECT_EQ(a.netns, "/proc/1234/ns/net");
  EXPECT_EQ(a.labels, (Labels{{"pod", "a"}, {"io.kubernetes.pod.namespace", "x"}, {"empty", ""}}));
  EXPECT_EQ(a.k8s_namespace(), "x");
  ASSERT_EQ(a.addresses.size(), 2u);
  EXPECT_EQ(a.addresses[0].to_string(), "198.18.0.2");
  EXPECT_EQ(a.addresses[1].to_string(), "fd00::2");
  ASSERT_EQ(a.ports.size(), 4u);
  EXPECT_EQ(a.ports[0].name, "assoc");
  EXPECT_EQ(a.ports[0].proto, Protocol::sctp);
  EXPECT_EQ(a.ports[1].name, "bare");
  EXPECT_EQ(a.ports[1].port, 8080);
  EXPECT_EQ(a.ports[1].proto, Protocol::tcp);
  EXPECT_EQ(a.ports[2].name, "dns");
  EXPECT_EQ(a.ports[2].proto, Protocol::udp);
  EXPECT_EQ(a.ports[3].port, 80);
  EXPECT_FALSE(a.host_network);
  EXPECT_TRUE(a.privileged);
  EXPECT_TRUE(a.net_admin);
  EXPECT_EQ(a.pos.line, 4);
  EXPECT_EQ(a.pos.col, 5);
  const Endpoint& b = l.endpoints[1];
  EXPECT_EQ(b.k8s_namespace(), "default");
  EXPECT_TRUE(b.addresses.empty());
  EXPECT_FALSE(b.privileged);
}

TEST(LoadInventory, OptionalHeader) {
  auto l = load_inventory_text(
      "apiVersion: bulkhead/v1\nkind: Inventory\nendpoints: [{name: a, netns: /run/netns/a}]\n",
      "inv.yaml");
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  EXPECT_EQ(l.endpoints.size(), 1u);
  EXPECT_THAT(errors("apiVersion: v1\nkind: Pod\nendpoints: []\n"),
              ElementsAre("1:13: error: an inventory is \"apiVersion: bulkhead/v1\" and \"kind: "
                          "Inventory\" (both optional), not \"v1\" \"Pod\" [unknown-kind]"));
}

TEST(LoadInventory, Errors) {
  EXPECT_THAT(errors("endpoints:\n  - {name: a, netns: /run/netns/a}\n  - {name: a, netns: /x}\n"),
              ElementsAre("3:5: error: duplicate endpoint \"a\" (first defined at inv.yaml:2:5) "
                          "[duplicate-endpoint]"));
  EXPECT_THAT(errors("endpoints:\n  - {name: a, netns: /n, addresses: [198.18.0.300, "
                     "198.18.0.2/24]}\n"),
              ElementsAre("2:38: error: invalid address \"198.18.0.300\" [invalid-address]",
                          "2:52: error: invalid address \"198.18.0.2/24\": write the address "
                          "without a prefix length [invalid-address]"));
  EXPECT_THAT(errors("endpoints:\n  - {netns: /n}\n"),
              ElementsAre("2:5: error: missing required field \"name\" [missing-field]"));
  EXPECT_THAT(errors("endpoints:\n  - {name: a, netns: run/netns/a}\n"),
              ElementsAre("2:22: error: netns \"run/netns/a\" must be an absolute path "
                          "(/run/netns/NAME or /proc/PID/ns/net) [invalid-value]"));
  EXPECT_THAT(errors("endpoints:\n  - {name: a, netns: /n, ports: {web: 80/tpc, x: 0/tcp}}\n"),
              ElementsAre("2:39: error: unknown protocol \"tpc\" in \"80/tpc\"; expected tcp, udp "
                          "or sctp [invalid-port]",
                          "2:50: error: invalid port \"0/tcp\": expected PORT/PROTOCOL with a port "
                          "from 1 to 65535, e.g. \"80/tcp\" [invalid-port]"));
  EXPECT_THAT(errors("endpoints:\n  - {name: a, netns: /n, privileged: yes}\n"),
              ElementsAre("2:38: error: expected true or false, got a string [wrong-type]"));
  EXPECT_THAT(errors("endpoints:\n  - {name: a, netns: /n, label: {}}\n"),
              ElementsAre("2:26: error: unknown field \"label\"; did you mean \"labels\"? "
                          "[unknown-field]"));
  EXPECT_THAT(errors("endpoints: {a: 1}\n"),
              ElementsAre("1:12: error: expected a list of endpoints, got a map [wrong-type]"));
  EXPECT_THAT(errors("endpoints: [\n"),
              ElementsAre("2:1: error: YAML syntax error: end of sequence flow not found "
                          "[yaml-syntax]"));
}

TEST(LoadInventory, UnreadableFile) {
  auto l = load_inventory("/nonexistent/inventory.yaml");
  EXPECT_THAT(lines(l.diagnostics),
              ElementsAre("1:1: error: cannot read file: No such file or directory "
                          "[unreadable-file]"));
  EXPECT_EQ(l.diagnostics[0].pos.file, "/nonexistent/inventory.yaml");
}

TEST(LoadInventory, ExampleInventoriesLoad) {
  for (const char* ex : {"shop", "kubernetes", "compose", "swarm"}) {
    auto l =
        load_inventory(std::string(BULKHEAD_SOURCE_DIR) + "/examples/" + ex + "/inventory.yaml");
    EXPECT_THAT(lines(l.diagnostics), ElementsAre()) << ex;
    EXPECT_GE(l.endpoints.size(), 3u) << ex;
    for (const auto& e : l.endpoints) {
      for (const auto& a : e.addresses) {
        EXPECT_TRUE(Cidr::parse("198.18.0.0/15")->contains(a)) << ex << " " << a.to_string();
      }
    }
  }
}

}  // namespace
}  // namespace bulkhead::policy
