// The limits of policy/model/limits.h: every one refuses its input with an exact diagnostic, at the
// position of the offending value where there is one, and an input just inside it still loads.
#include "policy/model/limits.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "policy/load/load.h"
#include "policy/plan/plan_limits.h"
#include "tests/support/load_test_util.h"

namespace bulkhead::policy {
namespace {

using ::testing::ElementsAre;
using testing::lines;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/bulkhead-limits-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

 private:
  std::string path_;
};

constexpr const char* kPolicyHead =
    "apiVersion: bulkhead/v1\nkind: Policy\nmetadata:\n  name: p\nspec:\n"
    "  groups: {a: {selector: x=a}, b: {selector: x=b}}\n";

std::string native_rules(const std::string& name, size_t n, bool groups = false) {
  std::string text =
      "apiVersion: bulkhead/v1\nkind: Policy\nmetadata:\n  name: " + name + "\nspec:\n" +
      (groups ? "  groups: {a: {selector: x=a}, b: {selector: x=b}}\n" : "") + "  allow:\n";
  for (size_t i = 0; i < n; ++i) text += "    - {from: [a], to: [b], ports: [80/tcp]}\n";
  return text;
}

TEST(Limits, AFileTooLargeIsRefusedBeforeItIsRead) {
  TempDir d;
  // Sparse: 50 MiB of size, nothing written, so reading it would be the only cost.
  const std::string p = d.write("big.yaml", "");
  ASSERT_EQ(::truncate(p.c_str(), 50 << 20), 0);
  const std::string want = p +
                           ":1:1: error: 52428800 bytes exceeds the limit of 16777216 bytes for a "
                           "policy or inventory file [file-too-large]";
  auto pol = load_policies({p});
  ASSERT_EQ(pol.diagnostics.size(), 1u);
  EXPECT_EQ(pol.diagnostics[0].pos.to_string() + ": error: " + pol.diagnostics[0].message + " [" +
                pol.diagnostics[0].rule + "]",
            want);
  auto inv = load_inventory(p);
  ASSERT_EQ(inv.diagnostics.size(), 1u);
  EXPECT_EQ(inv.diagnostics[0].rule, "file-too-large");
  EXPECT_TRUE(inv.endpoints.empty());
}

TEST(Limits, AFileAtTheSizeLimitIsRead) {
  TempDir d;
  // Exactly the limit: a comment line padded out, then a valid empty inventory.
  std::string text = "endpoints: []\n#";
  text += std::string(limits::kMaxFileBytes - text.size() - 1, 'x') + "\n";
  ASSERT_EQ(text.size(), limits::kMaxFileBytes);
  auto inv = load_inventory(d.write("edge.yaml", text));
  EXPECT_TRUE(inv.diagnostics.empty()) << lines(inv.diagnostics)[0];
}

TEST(Limits, TooManyNodesStopTheFirstPass) {
  // 100,000 rules: refused after a quarter of the file, before any tree is built.
  auto l = load_policy_text(native_rules("p", 100000), "rules.yaml");
  ASSERT_EQ(l.diagnostics.size(), 1u);
  const Diagnostic& d = l.diagnostics[0];
  EXPECT_EQ(d.rule, "too-large");
  EXPECT_EQ(d.message,
            "more than 250000 YAML nodes in one file (the limit); split the policies into several "
            "files or write fewer, broader rules");
  // The head holds 13 nodes on 6 lines, each rule line 10: node 250,001 is on rule 24,999's line.
  EXPECT_EQ(d.pos.line, 6 + 24999);
  EXPECT_TRUE(l.set.rules.empty());
}

TEST(Limits, NestingDeeperThan64LevelsIsRefused) {
  auto flow = load_policy_text(std::string(65, '[') + std::string(65, ']') + "\n", "deep.yaml");
  EXPECT_THAT(lines(flow.diagnostics),
              ElementsAre("1:65: error: maps and lists nested more than 64 levels deep (the "
                          "limit) [too-large]"));
  std::string nested;
  for (int i = 0; i < 65; ++i) nested += std::string(static_cast<size_t>(i) * 2, ' ') + "k:\n";
  auto inv = load_inventory_text(nested + std::string(130, ' ') + "v\n", "deep.yaml");
  EXPECT_THAT(lines(inv.diagnostics),
              ElementsAre("65:129: error: maps and lists nested more than 64 levels deep (the "
                          "limit) [too-large]"));
  // 64 levels load (and are then refused for what they are, not for their depth).
  auto ok = load_policy_text(std::string(64, '[') + std::string(64, ']') + "\n", "ok.yaml");
  ASSERT_EQ(ok.diagnostics.size(), 1u);
  EXPECT_EQ(ok.diagnostics[0].rule, "wrong-type");
}

TEST(Limits, TooManyDocumentsInOneFile) {
  std::string text;
  for (size_t i = 0; i <= limits::kMaxDocuments; ++i) text += "---\n";
  auto l = load_policy_text(text, "docs.yaml");
  ASSERT_EQ(l.diagnostics.size(), 1u);
  EXPECT_EQ(l.diagnostics[0].message, "more than 10000 documents in one file (the limit)");
  EXPECT_EQ(l.diagnostics[0].rule, "too-large");
  EXPECT_EQ(l.diagnostics[0].pos.line, 10001);
}

TEST(Limits, AValueLongerThan256KiBIsRefused) {
  const std::string text = "endpoints:\n  - name: \"" + std::string(256 * 1024 + 1, 'x') + "\"\n";
  EXPECT_THAT(lines(load_inventory_text(text, "long.yaml").diagnostics),
              ElementsAre("2:11: error: a value of 262145 bytes exceeds the limit of 262144 bytes "
                          "[too-large]"));
}

TEST(Limits, AListOrMapLongerThan10000EntriesIsRefusedAtItsPosition) {
  std::string text = std::string(kPolicyHead) + "  allow:\n    - from: [a";
  for (int i = 0; i < 10000; ++i) text += ",a";
  text += "]\n      to: [b]\n";
  EXPECT_THAT(lines(load_policy_text(text, "peers.yaml").diagnostics),
              ElementsAre("8:13: error: a list of 10001 entries exceeds the limit of 10000 "
                          "[too-large]"));
  std::string labels = "endpoints:\n  - name: x\n    netns: /run/netns/x\n    labels: {l0: v";
  for (int i = 1; i <= 10000; ++i) labels += ", l" + std::to_string(i) + ": v";
  labels += "}\n";
  EXPECT_THAT(lines(load_inventory_text(labels, "labels.yaml").diagnostics),
              ElementsAre("4:13: error: a map of 10001 entries exceeds the limit of 10000 "
                          "[too-large]"));
}

TEST(Limits, MoreThan10000RulesAcrossDocumentsAreRefused) {
  // The first document (7 head lines, 6,000 rules, "---") ends on line 6,008; the second's allow
  // list starts on line 6,015.
  const std::string text = native_rules("one", 6000, true) + "---\n" + native_rules("two", 6000);
  auto l = load_policy_text(text, "two.yaml");
  EXPECT_THAT(lines(l.diagnostics),
              ElementsAre("6015:5: error: more than 10000 allow rules in the loaded policies (the "
                          "limit; this list brings the total to 12000) [too-large]"));
  // 10,000 exactly is within the limit.
  auto ok = load_policy_text(native_rules("x", 10000, true), "ok.yaml");
  EXPECT_TRUE(ok.diagnostics.empty()) << lines(ok.diagnostics)[0];
  EXPECT_EQ(ok.set.rules.size(), 20000u);  // each rule opens a's egress and b's ingress
}

TEST(Limits, MoreThan10000PoliciesAcrossFilesAreRefused) {
  TempDir d;
  auto file = [&](const std::string& name, int from, int to) {
    std::string text;
    for (int i = from; i < to; ++i) {
      text += "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p" +
              std::to_string(i) + "}\nspec: {podSelector: {}}\n";
    }
    return d.write(name, text);
  };
  const std::string a = file("a.yaml", 0, 6000), b = file("b.yaml", 6000, 12000);
  auto l = load_policies({a, b});
  ASSERT_EQ(l.diagnostics.size(), 1u) << lines(l.diagnostics)[1];
  // Policy 10,001 (p10000) is the 4,001st of b.yaml; each takes five lines.
  EXPECT_EQ(l.diagnostics[0].pos.to_string(), b + ":" + std::to_string(4000 * 5 + 4) + ":18");
  EXPECT_EQ(l.diagnostics[0].message, "more than 10000 policies in the loaded files (the limit)");
  EXPECT_EQ(l.diagnostics[0].rule, "too-large");
}

TEST(Limits, AliasesThatExpandBeyondTheVisitBudgetAreRefused) {
  // The classic "billion laughs": nine levels of nine aliases, placed where labels are walked.
  std::string text = "l0: &l0 {a: b}\n";
  for (int i = 1; i < 9; ++i) {
    text += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int j = 0; j < 9; ++j) text += (j ? ",*l" : "*l") + std::to_string(i - 1);
    text += "]\n";
  }
  auto bomb = load_inventory_text(text, "bomb.yaml");
  ASSERT_FALSE(bomb.diagnostics.empty());
  EXPECT_TRUE(has_errors(bomb.diagnostics));
  // Fan-out: 1,000 endpoints that share one 1,000-entry label map.
  std::string fan = "endpoints: [&e {name: e, netns: /run/netns/e, labels: &m {k0: v";
  for (int i = 1; i < 1000; ++i) fan += ", k" + std::to_string(i) + ": v";
  fan += "}}";
  for (int i = 1; i < 1000; ++i) fan += ", *e";
  fan += "]\n";
  auto l = load_inventory_text(fan, "fan.yaml");
  EXPECT_THAT(lines(l.diagnostics),
              ::testing::Contains("1:1: error: document is too large to check (more than 1000000 "
                                  "map entries and list items, aliases expanded) [too-complex]"));
}

TEST(Limits, InventoryStringsHaveKubernetesLikeLengths) {
  const std::string key(318, 'k'), value(4097, 'v'), name(254, 'n'), path(4096, '/');
  auto l = load_inventory_text(
      "endpoints:\n"
      "  - {name: a, netns: /run/netns/a, labels: {" +
          key + ": v}}\n  - {name: b, netns: /run/netns/b, labels: {k: " + value +
          "}}\n  - {name: " + name + ", netns: /run/netns/c}\n  - {name: d, netns: " + path + "}\n",
      "strings.yaml");
  EXPECT_THAT(
      lines(l.diagnostics),
      ElementsAre("2:45: error: label key of 318 bytes exceeds the limit of 317 [too-large]",
                  "3:48: error: label value of 4097 bytes exceeds the limit of 4096 "
                  "[too-large]",
                  "4:12: error: endpoint name of 254 bytes exceeds the limit of 253 "
                  "[too-large]",
                  "5:22: error: netns path of 4096 bytes exceeds the limit of 4095 "
                  "[too-large]"));
  EXPECT_TRUE(l.endpoints.empty());
}

Plan plan_with(size_t sets, size_t elements, size_t rules) {
  NftTable t;
  for (size_t i = 0; i < sets; ++i) t.sets.push_back(NftSet{"s" + std::to_string(i), 4, false, {}});
  const IpAddr base = *IpAddr::parse("198.18.0.0");
  for (size_t i = 0; i < elements; ++i) {
    IpAddr a = base;
    a.bytes[1] = static_cast<uint8_t>(18 + (i >> 16));
    a.bytes[2] = static_cast<uint8_t>(i >> 8);
    a.bytes[3] = static_cast<uint8_t>(i);
    t.sets[i % sets].elements.push_back(AddrRange{a, a});
  }
  NftChain in{"ingress", Hook::input, 0, {}};
  in.rules.resize(rules);
  t.chains.push_back(in);
  return Plan{{EndpointPlan{"web", "/run/netns/web", t, {}}}};
}

TEST(Limits, APlanBeyondOneTransactionIsRefusedWhole) {
  Endpoint web;
  web.name = "web";
  web.pos = SourcePos{"inv.yaml", 3, 5};
  EXPECT_TRUE(check_plan_limits(plan_with(10000, 250000, 10000), {web}).empty());
  EXPECT_THAT(
      lines(check_plan_limits(plan_with(10001, 250001, 10001), {web})),
      ElementsAre("3:5: error: endpoint \"web\" would need 10001 nftables sets; the limit is 10000 "
                  "(the plan is refused whole and nothing is applied) [too-large]",
                  "3:5: error: endpoint \"web\" would need 250001 set elements in its table; the "
                  "limit is 250000 (the plan is refused whole and nothing is applied) [too-large]",
                  "3:5: error: endpoint \"web\" would need 10001 rules in its ingress chain; the "
                  "limit is 10000 (the plan is refused whole and nothing is applied) "
                  "[too-large]"));
}

}  // namespace
}  // namespace bulkhead::policy
