#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "policy/load/load.h"
#include "tests/support/load_test_util.h"

namespace bulkhead::policy {
namespace {

using ::testing::ElementsAre;
using testing::lines;

constexpr const char* kHeader = "apiVersion: bulkhead/v1\nkind: Policy\nmetadata:\n  name: p\n";

PolicyLoad load(const std::string& body) { return load_policy_text(kHeader + body, "p.yaml"); }

std::vector<std::string> errors(const std::string& body) { return lines(load(body).diagnostics); }

const AllowRule* find_rule(const PolicySet& s, Direction dir, const std::string& group) {
  for (const auto& r : s.rules)
    if (r.dir == dir && r.subject.group == group) return &r;
  return nullptr;
}

TEST(LoadNative, ShopExampleMapsOntoTheModel) {
  auto l = load_policies({std::string(BULKHEAD_SOURCE_DIR) + "/examples/shop/policy.yaml"});
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  const auto& s = l.set;
  ASSERT_EQ(s.policies.size(), 1u);
  EXPECT_EQ(s.policies[0].name, "shop");
  EXPECT_EQ(s.policies[0].kind, "Policy");
  EXPECT_FALSE(s.policies[0].audit);
  // web, api and db isolate both directions; batch only ingress.
  ASSERT_EQ(s.isolations.size(), 7u);
  int batch = 0;
  for (const auto& i : s.isolations) {
    EXPECT_FALSE(i.subject.ns.has_value());
    EXPECT_EQ(i.subject.pods.canonical(), "app=" + i.subject.group);
    EXPECT_EQ(i.origin.policy, "shop");
    if (i.subject.group == "batch") {
      ++batch;
      EXPECT_EQ(i.dir, Direction::ingress);
    }
  }
  EXPECT_EQ(batch, 1);

  const AllowRule* api_in = find_rule(s, Direction::ingress, "api");
  ASSERT_NE(api_in, nullptr);
  ASSERT_EQ(api_in->peers.size(), 1u);
  const auto& web = std::get<EndpointPeer>(api_in->peers[0].what);
  EXPECT_EQ(web.group, "web");
  EXPECT_EQ(web.pods.canonical(), "app=web");
  EXPECT_EQ(web.namespaces.kind, NamespaceScope::Kind::any);
  ASSERT_EQ(api_in->ports.size(), 1u);
  EXPECT_EQ(api_in->ports[0].proto, Protocol::tcp);
  EXPECT_EQ(api_in->ports[0].first, 8080);
  EXPECT_EQ(api_in->ports[0].last, 8080);
  EXPECT_FALSE(api_in->any_port);
  EXPECT_FALSE(api_in->any_peer);

  const AllowRule* web_out = find_rule(s, Direction::egress, "web");
  ASSERT_NE(web_out, nullptr);
  EXPECT_EQ(std::get<EndpointPeer>(web_out->peers[0].what).group, "api");
  EXPECT_EQ(web_out->origin.pos, api_in->origin.pos);  // both sides come from one rule

  const AllowRule* web_in = find_rule(s, Direction::ingress, "web");
  ASSERT_NE(web_in, nullptr);
  const auto& clients = std::get<CidrPeer>(web_in->peers[0].what);
  EXPECT_EQ(clients.cidr.to_string(), "198.19.0.0/16");
  ASSERT_EQ(clients.except.size(), 1u);
  EXPECT_EQ(clients.except[0].to_string(), "198.19.66.0/24");
  EXPECT_EQ(web_in->ports.size(), 2u);

  ASSERT_EQ(s.limits.size(), 1u);
  EXPECT_EQ(s.limits[0].subject.group, "batch");
  ASSERT_TRUE(s.limits[0].egress.has_value());
  EXPECT_EQ(s.limits[0].egress->bits_per_second, 50000000u);
  EXPECT_EQ(s.limits[0].egress->burst_bytes, 64000u);
  ASSERT_TRUE(s.limits[0].ingress.has_value());
  EXPECT_EQ(s.limits[0].ingress->bits_per_second, 10000000u);
  EXPECT_EQ(s.limits[0].ingress->burst_bytes, 16384u);  // default: max(5 ms, 16 KiB)
}

TEST(LoadNative, RuleMapsToIngressOfTargetsAndEgressOfSources) {
  auto l = load(R"(spec:
  mode: audit
  groups:
    a: {selector: "x=a"}
    b: {selector: "x=b", isolate: []}
    c: {selector: "x=c", isolate: [egress]}
  allow:
    - from: [a, {cidr: 198.18.0.0/16}]
      to: [b, c, "*"]
      ports: [53/udp, tcp, icmp, 30000-32767/sctp]
)");
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  const auto& s = l.set;
  EXPECT_TRUE(s.policies[0].audit);
  // a: both directions; b: none; c: egress only.
  ASSERT_EQ(s.isolations.size(), 3u);
  EXPECT_EQ(s.isolations[2].subject.group, "c");
  EXPECT_EQ(s.isolations[2].dir, Direction::egress);
  EXPECT_TRUE(s.isolations[0].origin.audit);
  EXPECT_EQ(s.isolations[0].origin.pos.line, 8);  // the group
  // Ingress of b and of c from a and the CIDR; egress of a to anything ("*" wins).
  ASSERT_EQ(s.rules.size(), 3u);
  const AllowRule* b_in = find_rule(s, Direction::ingress, "b");
  ASSERT_NE(b_in, nullptr);
  ASSERT_EQ(b_in->peers.size(), 2u);
  EXPECT_EQ(std::get<EndpointPeer>(b_in->peers[0].what).group, "a");
  EXPECT_EQ(b_in->peers[0].pos.line, 12);
  EXPECT_EQ(b_in->peers[0].pos.col, 14);
  EXPECT_EQ(std::get<CidrPeer>(b_in->peers[1].what).cidr.to_string(), "198.18.0.0/16");
  EXPECT_NE(find_rule(s, Direction::ingress, "c"), nullptr);
  const AllowRule* a_out = find_rule(s, Direction::egress, "a");
  ASSERT_NE(a_out, nullptr);
  EXPECT_TRUE(a_out->any_peer);
  EXPECT_TRUE(a_out->peers.empty());
  EXPECT_TRUE(a_out->origin.audit);
  EXPECT_EQ(a_out->origin.pos.line, 12);
  EXPECT_EQ(a_out->origin.pos.col, 7);
  ASSERT_EQ(a_out->ports.size(), 4u);
  EXPECT_EQ(a_out->ports[0].proto, Protocol::udp);
  EXPECT_EQ(a_out->ports[0].first, 53);
  EXPECT_EQ(a_out->ports[1].proto, Protocol::tcp);
  EXPECT_EQ(a_out->ports[1].first, 0);
  EXPECT_EQ(a_out->ports[2].proto, Protocol::icmp);
  EXPECT_EQ(a_out->ports[3].proto, Protocol::sctp);
  EXPECT_EQ(a_out->ports[3].first, 30000);
  EXPECT_EQ(a_out->ports[3].last, 32767);
  EXPECT_EQ(a_out->ports[3].pos.col, 34);
}

TEST(LoadNative, OmittedPortsMeanEveryPort) {
  auto l = load("spec:\n  groups:\n    a: {selector: x=a}\n  allow:\n    - {from: [a], to: [a]}\n");
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  ASSERT_EQ(l.set.rules.size(), 2u);
  EXPECT_TRUE(l.set.rules[0].any_port);
  EXPECT_TRUE(l.set.rules[0].ports.empty());
}

TEST(LoadNative, SelectorMapForm) {
  auto l = load(R"(spec:
  groups:
    a:
      selector:
        matchLabels: {com.docker.compose.project: shop, com.docker.compose.service: "web 1"}
        matchExpressions:
          - {key: tier, operator: NotIn, values: [b, a]}
          - {key: legacy, operator: DoesNotExist}
)");
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  EXPECT_EQ(l.set.isolations[0].subject.pods.canonical(),
            "com.docker.compose.project=shop,com.docker.compose.service=web 1,!legacy,"
            "tier notin (a,b)");
}

TEST(LoadNative, GroupsAreGlobalAcrossDocumentsAndFiles) {
  const std::string text =
      std::string(kHeader) +
      "spec:\n  allow:\n    - {from: [web], to: [api]}\n---\n"
      "apiVersion: bulkhead/v1\nkind: Policy\nmetadata: {name: q}\nspec:\n"
      "  groups:\n    web: {selector: app=web}\n    api: {selector: app=api}\n";
  auto l = load_policy_text(text, "p.yaml");
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  EXPECT_EQ(l.set.rules.size(), 2u);
  EXPECT_EQ(l.set.rules[0].origin.policy, "p");
}

TEST(LoadNative, UnknownFieldSuggestsTheClosestName) {
  EXPECT_THAT(errors("spec:\n  groups:\n    web:\n      selctor: app=web\n"),
              ElementsAre("8:7: error: unknown field \"selctor\"; did you mean \"selector\"? "
                          "[unknown-field]",
                          "7:5: error: missing required field \"selector\" [missing-field]"));
  EXPECT_THAT(errors("spec:\n  alow: []\n"),
              ElementsAre("6:3: error: unknown field \"alow\"; did you mean \"allow\"? "
                          "[unknown-field]"));
  EXPECT_THAT(errors("spec:\n  zzz: 1\n"),
              ElementsAre("6:3: error: unknown field \"zzz\"; expected one of: allow, groups, mode "
                          "[unknown-field]"));
}

TEST(LoadNative, WrongTypes) {
  EXPECT_THAT(errors("spec:\n  groups:\n    a: {selector: x=a}\n  allow:\n"
                     "    - from: [a]\n      to: [a]\n      ports: {http: 80}\n"),
              ElementsAre("11:14: error: expected a list of ports, got a map [wrong-type]"));
  EXPECT_THAT(errors("spec:\n  groups: [a, b]\n"),
              ElementsAre("6:11: error: expected a map of group names to groups, got a list "
                          "[wrong-type]"));
  EXPECT_THAT(errors("spec:\n  allow:\n    - from: web\n      to: [x]\n"),
              ElementsAre("7:13: error: expected a list of peers (group names, \"*\" or {cidr: "
                          "...}), got a string [wrong-type]"));
  EXPECT_THAT(errors("spec:\n  groups:\n    a: {selector: [x]}\n"),
              ElementsAre("7:19: error: expected a selector (a string like \"app=web\" or a map "
                          "with matchLabels and matchExpressions), got a list [wrong-type]"));
}

TEST(LoadNative, MissingFields) {
  EXPECT_THAT(lines(load_policy_text("apiVersion: bulkhead/v1\nkind: Policy\nspec: {}\n", "p.yaml")
                        .diagnostics),
              ElementsAre("1:1: error: missing required field \"metadata\" [missing-field]"));
  EXPECT_THAT(
      lines(load_policy_text("apiVersion: bulkhead/v1\nkind: Policy\nmetadata: {}\n", "p.yaml")
                .diagnostics),
      ElementsAre("3:1: error: missing required field \"metadata.name\" [missing-field]",
                  "1:1: error: missing required field \"spec\" [missing-field]"));
  EXPECT_THAT(errors("spec:\n  groups:\n    a: {selector: x=a}\n  allow:\n    - to: [a]\n"),
              ElementsAre("9:7: error: missing required field \"from\" [missing-field]"));
}

TEST(LoadNative, InvalidPorts) {
  const std::string pre =
      "spec:\n  groups:\n    a: {selector: x=a}\n  allow:\n    - from: [a]\n"
      "      to: [a]\n      ports: [";
  auto port_error = [&](const std::string& p) {
    auto e = errors(pre + p + "]\n");
    return e.size() == 1 ? e[0] : "unexpected: " + std::to_string(e.size()) + " diagnostics";
  };
  EXPECT_EQ(port_error("8080"),
            "11:15: error: port \"8080\" has no protocol; write \"8080/tcp\", "
            "\"8080/udp\" or \"8080/sctp\" [invalid-port]");
  EXPECT_EQ(port_error("80/tcpp"),
            "11:15: error: unknown protocol \"tcpp\" in \"80/tcpp\"; expected tcp, udp or sctp "
            "[invalid-port]");
  EXPECT_EQ(port_error("0/tcp"), "11:15: error: port 0 is out of range (1-65535) [invalid-port]");
  EXPECT_EQ(port_error("65536/udp"),
            "11:15: error: port 65536 is out of range (1-65535) [invalid-port]");
  EXPECT_EQ(port_error("90-80/udp"),
            "11:15: error: port range \"90-80\" ends before it starts [invalid-port]");
  EXPECT_EQ(port_error("8/icmp"),
            "11:15: error: icmp has no ports; write just \"icmp\" [invalid-port]");
  EXPECT_EQ(port_error("http"),
            "11:15: error: invalid port \"http\": expected PORT/PROTOCOL (e.g. \"8080/tcp\", "
            "\"30000-32767/udp\"), a protocol alone (tcp, udp, sctp) or icmp [invalid-port]");
  EXPECT_EQ(port_error("8x/tcp"), "11:15: error: invalid port number \"8x\" [invalid-port]");
  EXPECT_EQ(port_error(""),
            "11:14: error: ports is empty; omit ports to allow every port and "
            "protocol [invalid-port]");
}

TEST(LoadNative, InvalidCidrs) {
  const std::string pre =
      "spec:\n  groups:\n    a: {selector: x=a}\n  allow:\n    - to: [a]\n"
      "      from: [";
  EXPECT_THAT(errors(pre + "{cidr: 198.18.0.0/33}]\n"),
              ElementsAre("10:21: error: invalid CIDR \"198.18.0.0/33\": expected an address and a "
                          "prefix length, e.g. 198.18.0.0/16 or fd00::/64 [invalid-cidr]"));
  EXPECT_THAT(errors(pre + "{cidr: 198.18.0.0/16, except: [198.19.0.0/24, 198.18.0.0/16]}]\n"),
              ElementsAre("10:45: error: except \"198.19.0.0/24\" is not strictly inside cidr "
                          "\"198.18.0.0/16\" [invalid-cidr]",
                          "10:60: error: except \"198.18.0.0/16\" is not strictly inside cidr "
                          "\"198.18.0.0/16\" [invalid-cidr]"));
  EXPECT_THAT(errors(pre + "{cidr: 198.18.1.1/16}]\n"),
              ElementsAre("10:21: warning: CIDR \"198.18.1.1/16\" has host bits set; it means "
                          "198.18.0.0/16 [cidr-host-bits]"));
  EXPECT_THAT(errors(pre + "{cidrs: 198.18.0.0/16}]\n"),
              ElementsAre("10:15: error: unknown field \"cidrs\"; did you mean \"cidr\"? "
                          "[unknown-field]",
                          "10:14: error: missing required field \"cidr\" [missing-field]"));
}

TEST(LoadNative, SelectorErrorsPointInsideThePlainString) {
  EXPECT_THAT(errors("spec:\n  groups:\n    a: {selector: app in (web}\n"),
              ElementsAre("7:30: error: invalid selector: expected ',' or ')' in the value list "
                          "[invalid-selector]"));
  EXPECT_THAT(
      errors("spec:\n  groups:\n    a:\n      selector: \"app=web,,x\"\n"),
      ElementsAre("8:26: error: invalid selector: expected a label key [invalid-selector]"));
  // A folded multi-line string cannot be mapped back to columns: the scalar's start is given.
  EXPECT_THAT(
      errors("spec:\n  groups:\n    a:\n      selector: >-\n        app=web,\n        "
             "=x\n"),
      ElementsAre("8:17: error: invalid selector: expected a label key [invalid-selector]"));
  EXPECT_THAT(errors("spec:\n  groups:\n    a:\n      selector:\n        matchExpressions:\n"
                     "          - {key: tier, operator: in, values: [x]}\n"),
              ElementsAre("10:35: error: unknown operator \"in\"; did you mean \"In\"? "
                          "[invalid-selector]"));
  EXPECT_THAT(
      errors("spec:\n  groups:\n    a:\n      selector:\n        matchExpressions:\n"
             "          - {key: tier, operator: In}\n          - {key: t, operator: Exists, "
             "values: [x]}\n"),
      ElementsAre("10:35: error: operator In needs at least one value [invalid-selector]",
                  "11:48: error: operator Exists takes no values [invalid-selector]"));
  EXPECT_THAT(errors("spec:\n  groups:\n    a: {selector: {matchLabels: {-x: y}}}\n"),
              ElementsAre("7:34: error: invalid label key \"-x\": must start and end with a letter "
                          "or digit [invalid-selector]"));
}

TEST(LoadNative, RatesAndBursts) {
  const std::string pre = "spec:\n  groups:\n    a:\n      selector: x=a\n      bandwidth:\n";
  EXPECT_THAT(
      errors(pre + "        egress: {rate: 10mbps}\n"),
      ElementsAre("10:24: error: ambiguous rate unit \"mbps\" in \"10mbps\": tc reads it as "
                  "bytes per second, most people as bits; rates are in bits per second: "
                  "write \"10mbit\" [invalid-rate]"));
  EXPECT_THAT(
      errors(pre + "        egress: {rate: 1gbit, burst: 64kbit}\n"),
      ElementsAre("10:38: error: burst \"64kbit\" is in bits; a burst is a number of bytes, "
                  "e.g. \"64kb\" [invalid-rate]"));
  EXPECT_THAT(errors(pre + "        ingress: {rate: 1gbit, burst: 100kb}\n"),
              ElementsAre("10:39: error: burst 100kb (100000 bytes) is too small for 1gbit: it "
                          "must be at least 125000 bytes (one full-size frame and 1 ms at the "
                          "rate) [burst-too-small]"));
  EXPECT_THAT(errors(pre + "        ingress: {rate: 1mbit, burst: 1000}\n"),
              ElementsAre("10:39: error: burst 1kb (1000 bytes) is too small for 1mbit: it must "
                          "be at least 1514 bytes (one full-size frame and 1 ms at the rate) "
                          "[burst-too-small]"));
  EXPECT_THAT(errors(pre + "        egress: {burst: 1mb}\n"),
              ElementsAre("10:17: error: missing required field \"rate\" [missing-field]"));
  EXPECT_THAT(errors(pre + "        egres: {rate: 1mbit}\n"),
              ElementsAre("10:9: error: unknown field \"egres\"; did you mean \"egress\"? "
                          "[unknown-field]"));
  auto l = load(pre + "        egress: {rate: 100gbit}\n");
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  EXPECT_EQ(l.set.limits[0].egress->bits_per_second, 100000000000u);
  EXPECT_EQ(l.set.limits[0].egress->burst_bytes, 62500000u);
  EXPECT_FALSE(l.set.limits[0].ingress.has_value());
}

TEST(LoadNative, UndefinedGroupSuggestsTheClosest) {
  EXPECT_THAT(errors("spec:\n  groups:\n    web: {selector: app=web}\n  allow:\n"
                     "    - {from: [wbe], to: [web, nothing]}\n"),
              ElementsAre("9:15: error: undefined group \"wbe\"; did you mean \"web\"? "
                          "[undefined-group]",
                          "9:31: error: undefined group \"nothing\" [undefined-group]"));
  EXPECT_THAT(errors("spec:\n  allow:\n    - {from: [a], to: [b]}\n"),
              ElementsAre("7:15: error: undefined group \"a\" (no group is defined in the loaded "
                          "policies) [undefined-group]",
                          "7:24: error: undefined group \"b\" (no group is defined in the loaded "
                          "policies) [undefined-group]"));
}

TEST(LoadNative, BrokenGroupsAreNotReportedAgainAsUndefined) {
  EXPECT_THAT(errors("spec:\n  groups:\n    web: {selector: \"app=\"}\n    Api: {selector: x}\n"
                     "  allow:\n    - {from: [web], to: [Api]}\n"),
              ElementsAre("8:5: error: invalid group name \"Api\": use lower-case letters, digits, "
                          "'-' and '_', starting with a letter or digit (at most 63 characters) "
                          "[invalid-name]"));
}

TEST(LoadNative, DuplicateGroupsAndPolicies) {
  const std::string text = std::string(kHeader) + "spec:\n  groups:\n    web: {selector: a=b}\n" +
                           "---\n" + kHeader + "spec:\n  groups:\n    web: {selector: a=c}\n";
  EXPECT_THAT(lines(load_policy_text(text, "p.yaml").diagnostics),
              ElementsAre("12:9: error: duplicate Policy \"p\" (first defined at p.yaml:4:9) "
                          "[duplicate-policy]",
                          "15:5: error: duplicate group \"web\" (first defined at p.yaml:7:5) "
                          "[duplicate-group]"));
}

TEST(LoadNative, RuleBetweenAddressesOnlyIsAnError) {
  EXPECT_THAT(
      errors("spec:\n  allow:\n    - from: [{cidr: 198.18.0.0/16}]\n      to: [\"*\"]\n"),
      ElementsAre("7:7: error: an allow rule needs a group in \"from\" or \"to\": rules are "
                  "enforced at endpoints, so a rule between addresses only would never "
                  "apply [no-endpoint-side]"));
}

TEST(LoadNative, InvalidValues) {
  EXPECT_THAT(errors("spec:\n  mode: enforcing\n"),
              ElementsAre("6:9: error: invalid mode \"enforcing\"; expected enforce or audit "
                          "[invalid-value]"));
  EXPECT_THAT(errors("spec:\n  groups:\n    a: {selector: x=a, isolate: [ingres]}\n"),
              ElementsAre("7:34: error: invalid direction \"ingres\"; expected ingress or egress "
                          "[invalid-value]"));
  EXPECT_THAT(errors("spec:\n  allow:\n    - {from: [], to: [x]}\n"),
              ElementsAre("7:14: error: \"from\" is empty; list group names, \"*\" or {cidr: ...} "
                          "[empty-peers]"));
}

TEST(LoadNative, DuplicateKeysAreErrors) {
  EXPECT_THAT(errors("spec:\n  groups:\n    a: {selector: x=a, selector: x=b}\n"),
              ElementsAre("7:24: error: field \"selector\" is given twice [duplicate-key]"));
}

}  // namespace
}  // namespace bulkhead::policy

namespace bulkhead::policy {
namespace {

using ::testing::ElementsAre;
using testing::lines;

// A scratch directory removed at the end of the test, whatever happens.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "bulkhead-load-XXXXXX";
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string p = path_ + "/" + name;
    std::ofstream(p) << text;
    return p;
  }

 private:
  std::string path_;
};

TEST(LoadPaths, EveryExampleLoadsWithoutDiagnostics) {
  for (const char* ex : {"shop", "kubernetes", "compose", "swarm"}) {
    auto l = load_policies({std::string(BULKHEAD_SOURCE_DIR) + "/examples/" + ex});
    EXPECT_THAT(lines(l.diagnostics), ElementsAre()) << ex;
    EXPECT_FALSE(l.set.policies.empty()) << ex;
    EXPECT_FALSE(l.set.isolations.empty()) << ex;
  }
}

TEST(LoadPaths, DirectoryLoadsYamlFilesSortedAndSkipsInventories) {
  TempDir d;
  ASSERT_FALSE(d.path().empty());
  d.write("b.yml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n");
  d.write("a.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n");
  d.write("notes.txt", "not yaml: [");
  d.write("inventory.yaml", "endpoints: [{name: x, netns: /run/netns/x}]\n");
  std::filesystem::create_directory(d.path() + "/sub.yaml");
  auto l = load_policies({d.path()});
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  ASSERT_EQ(l.files.size(), 3u);
  EXPECT_EQ(l.files[0], d.path() + "/a.yaml");
  EXPECT_EQ(l.files[1], d.path() + "/b.yml");
  EXPECT_EQ(l.files[2], d.path() + "/inventory.yaml");
  ASSERT_EQ(l.set.namespaces.size(), 2u);
  EXPECT_EQ(l.set.namespaces[0].name, "a");
  EXPECT_EQ(l.set.namespaces[0].pos.file, d.path() + "/a.yaml");
}

TEST(LoadPaths, GroupsResolveAcrossFiles) {
  TempDir d;
  const auto rules = d.write("1.yaml",
                             "apiVersion: bulkhead/v1\nkind: Policy\nmetadata: {name: r}\n"
                             "spec:\n  allow: [{from: [a], to: [b]}]\n");
  const auto groups = d.write("2.yaml",
                              "apiVersion: bulkhead/v1\nkind: Policy\nmetadata: {name: "
                              "g}\nspec:\n  groups: {a: {selector: x=a}, b: {selector: "
                              "x=b}}\n");
  auto l = load_policies({rules, groups});
  ASSERT_THAT(lines(l.diagnostics), ElementsAre());
  EXPECT_EQ(l.set.rules.size(), 2u);
  EXPECT_EQ(l.set.rules[0].origin.pos.file, rules);
}

TEST(LoadPaths, UnreadableAndEmpty) {
  TempDir d;
  auto l = load_policies({d.path() + "/missing.yaml", d.path()});
  ASSERT_EQ(l.diagnostics.size(), 2u);
  EXPECT_EQ(l.diagnostics[0].pos.to_string(), d.path() + "/missing.yaml:1:1");
  EXPECT_EQ(l.diagnostics[0].message, "cannot read file: No such file or directory");
  EXPECT_EQ(l.diagnostics[0].rule, "unreadable-file");
  EXPECT_EQ(l.diagnostics[1].severity, Severity::warning);
  EXPECT_EQ(l.diagnostics[1].message, "no *.yaml or *.yml files in this directory");
  EXPECT_EQ(l.diagnostics[1].rule, "empty-directory");
}

TEST(LoadPaths, YamlSyntaxErrorsCarryTheParserPosition) {
  auto l = load_policy_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: [a}\n", "s.yaml");
  EXPECT_THAT(lines(l.diagnostics), ElementsAre("3:20: error: YAML syntax error: illegal flow end "
                                                "[yaml-syntax]"));
  auto tab = load_policy_text("a:\n\t b: 1\n", "s.yaml");
  ASSERT_EQ(tab.diagnostics.size(), 1u);
  EXPECT_EQ(tab.diagnostics[0].rule, "yaml-syntax");
  EXPECT_EQ(tab.diagnostics[0].pos.line, 2);
}

TEST(LoadPaths, EmptyDocumentsAreSkippedAndOthersChecked) {
  auto l = load_policy_text("---\n---\n# only a comment\n---\n- a\n---\nkind: Policy\n", "d.yaml");
  EXPECT_THAT(lines(l.diagnostics),
              ElementsAre("5:1: error: expected a document (a map with apiVersion and kind), got a "
                          "list [wrong-type]",
                          "7:1: error: missing required field \"apiVersion\" [missing-field]"));
  EXPECT_TRUE(load_policy_text("", "e.yaml").diagnostics.empty());
}

TEST(LoadPaths, AliasesCannotMakeTheWalkUnbounded) {
  // Every alias re-walks its target: a short file could stand for millions of rules.
  // 1,000 rules that each list the same 1,000 peers: 2,000 nodes of text, 2,000,000 to walk.
  std::string text =
      std::string(kHeader) + "spec:\n  groups: {a: {selector: x=a}}\n  allow: [&r {from: &p [a";
  for (int i = 1; i < 1000; ++i) text += ",a";
  text += "], to: *p}";
  for (int i = 1; i < 1000; ++i) text += ",*r";
  text += "]\n";
  auto l = load_policy_text(text, "many.yaml");
  ASSERT_EQ(l.diagnostics.size(), 1u);
  EXPECT_EQ(lines(l.diagnostics)[0],
            "1:1: error: document is too large to check (more than 1000000 map entries and list "
            "items, aliases expanded) [too-complex]");
}

}  // namespace
}  // namespace bulkhead::policy

namespace bulkhead::policy {
namespace {

// Inputs the fuzzers found (tests/fuzz/regressions): each must load, as policy and as inventory,
// without crashing or hanging, and report a problem rather than succeed silently or throw.
TEST(LoadPaths, FuzzRegressionsLoadWithoutCrashing) {
  const std::filesystem::path dir = std::string(BULKHEAD_SOURCE_DIR) + "/tests/fuzz/regressions";
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file())
      files.push_back(e.path());  // docker/ holds the Docker source tests' JSON
  }
  ASSERT_FALSE(files.empty());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto p = load_policy_text(text, f.filename().string());
    auto i = load_inventory_text(text, f.filename().string());
    EXPECT_TRUE(has_errors(p.diagnostics)) << f;
    EXPECT_TRUE(has_errors(i.diagnostics)) << f;
  }
}

TEST(LoadPaths, StuckParserIsReportedNotHung) {
  auto l = load_policy_text("a: 1\n---\n , b\n", "stuck.yaml");
  ASSERT_EQ(l.diagnostics.size(), 1u);
  EXPECT_EQ(l.diagnostics[0].rule, "yaml-syntax");
  EXPECT_EQ(l.diagnostics[0].message,
            "YAML syntax error: the parser cannot make sense of the text from here (a stray ',' "
            "or a similar flow indicator outside [] or {}?)");
  EXPECT_THAT(lines(load_policy_text("a: 1\n\x01", "c.yaml").diagnostics),
              ElementsAre("2:1: error: YAML text cannot contain the control character 0x01 "
                          "[yaml-syntax]"));
}

}  // namespace
}  // namespace bulkhead::policy
