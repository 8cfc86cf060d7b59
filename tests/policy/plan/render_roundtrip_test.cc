// render_nft must print exactly what nftables itself prints: each table is loaded with the real
// `nft -f` into a scratch network namespace and listed back with `nft list table inet bulkhead`;
// the two texts must be equal once counter values are zeroed. Needs root (CI runs it as root).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <regex>
#include <string>

#include "policy/load/load.h"
#include "policy/plan/compile.h"
#include "policy/plan/render.h"
#include "tests/support/plan_builders.h"
#include "tests/support/random_policy.h"

namespace bulkhead::policy {
namespace {

using namespace ::bulkhead::testing;  // NOLINT: the plan builders

struct CommandResult {
  int status = -1;
  std::string out;  // stdout and stderr together
};

CommandResult run(const std::string& cmd) {
  CommandResult r;
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (!f) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), f)) > 0) r.out.append(buf.data(), n);
  const int st = pclose(f);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// A scratch namespace named for this process; removed even when an assertion fails.
class ScratchNetns {
 public:
  ScratchNetns() {
    static int counter = 0;
    name_ = "bhr" + std::to_string(getpid()) + "_" + std::to_string(counter++);
    ok_ = run("ip netns add " + name_).status == 0;
  }
  ~ScratchNetns() {
    if (ok_) (void)run("ip netns del " + name_);
  }
  ScratchNetns(const ScratchNetns&) = delete;
  ScratchNetns& operator=(const ScratchNetns&) = delete;
  bool ok() const { return ok_; }
  std::string exec(const std::string& cmd) const { return "ip netns exec " + name_ + " " + cmd; }

 private:
  std::string name_;
  bool ok_ = false;
};

// A temporary file holding `text`, removed at scope exit.
class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    char tmpl[] = "/tmp/bulkhead-render-XXXXXX";
    const int fd = mkstemp(tmpl);
    if (fd >= 0) {
      close(fd);
      path_ = tmpl;
      std::ofstream(path_) << text;
    }
  }
  ~TempFile() {
    if (!path_.empty()) unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string zero_counters(const std::string& text) {
  static const std::regex counter("counter packets [0-9]+ bytes [0-9]+");
  return std::regex_replace(text, counter, "counter packets 0 bytes 0");
}

bool have_root_tools() { return geteuid() == 0 && run("nft --version").status == 0; }

// Loads the rendering into a fresh namespace and returns what nft lists back.
void expect_roundtrip(const NftTable& table, const std::string& what) {
  ScratchNetns ns;
  ASSERT_TRUE(ns.ok()) << "cannot create a network namespace";
  const std::string text = render_nft(table);
  TempFile file(text);
  ASSERT_FALSE(file.path().empty());
  const auto load = run(ns.exec("nft -f " + file.path()));
  ASSERT_EQ(load.status, 0) << what << ": nft -f refused the rendering:\n"
                            << load.out << "\n"
                            << text;
  const auto list = run(ns.exec("nft list table inet bulkhead"));
  ASSERT_EQ(list.status, 0) << list.out;
  EXPECT_EQ(zero_counters(list.out), zero_counters(text)) << what;
}

// Every rule kind, every L4 with and without an address family and a set, single ports and
// ranges, plain and interval sets of both families (empty ones too), wrapped element lists.
NftTable every_form() {
  NftTable t;
  t.sets.push_back(
      {"cidr_0a_v4",
       4,
       true,
       {range("0.0.0.0", "9.255.255.255"), host("10.1.0.7"), range("198.18.0.0", "198.18.255.255"),
        range("198.19.0.1", "198.19.0.5"), range("203.0.113.0", "203.0.113.127")}});
  t.sets.push_back({"cidr_0b_v6",
                    6,
                    true,
                    {range("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"),
                     host("2001:db9::1"), range("2001:dba::1", "2001:dba::9")}});
  t.sets.push_back({"cidr_empty_v4", 4, true, {}});
  t.sets.push_back({"cidr_all_v4", 4, true, {range("0.0.0.0", "255.255.255.255")}});
  t.sets.push_back(
      {"cidr_all_v6", 6, true, {range("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")}});
  t.sets.push_back({"cidr_top_v4",
                    4,
                    true,
                    {range("0.0.0.0", "9.255.255.255"), range("11.0.0.0", "255.255.255.255")}});
  t.sets.push_back({"web_v4",
                    4,
                    false,
                    {host("198.18.0.2"), host("198.18.0.3"), host("198.18.0.4"),
                     host("198.18.0.10"), host("198.18.1.1")}});
  t.sets.push_back(
      {"web_v6", 6, false, {host("2001:db8::2"), host("2001:db8::3"), host("2001:db8::1:0")}});
  t.sets.push_back({"web-x_http_tcp8080_v6", 6, false, {}});

  NftChain in{"ingress", Hook::input, 0, {}};
  for (RuleKind k : {RuleKind::ct_established_accept, RuleKind::ct_invalid_drop,
                     RuleKind::loopback_accept, RuleKind::icmpv6_nd_accept})
    in.rules.push_back(base_rule(k));
  in.rules.push_back(
      allow(4, "web_v4", L4::tcp, 8080, 0, "shop: web -> api 8080/tcp (shop.yaml:20:7)"));
  in.rules.push_back(allow(6, "web_v6", L4::udp, 8000, 8100));
  in.rules.push_back(allow(4, "cidr_0a_v4", L4::sctp, 9));
  in.rules.push_back(allow(6, "cidr_0b_v6", L4::sctp));
  in.rules.push_back(allow(4, "cidr_0a_v4", L4::icmp));
  in.rules.push_back(allow(6, "cidr_0b_v6", L4::icmpv6));
  in.rules.push_back(allow(4, "cidr_empty_v4", L4::any));
  in.rules.push_back(allow(4, "cidr_all_v4", L4::tcp, 443));
  in.rules.push_back(allow(6, "cidr_all_v6", L4::tcp, 443));
  in.rules.push_back(allow(4, "cidr_top_v4", L4::udp, 123));
  in.rules.push_back(allow(6, "web-x_http_tcp8080_v6", L4::tcp, 8080));
  in.rules.push_back(allow(0, "", L4::any, 0, 0, "p: any -> s any port (p.yaml:2:7)"));
  in.rules.push_back(allow(0, "", L4::tcp));
  in.rules.push_back(allow(0, "", L4::udp, 53));
  in.rules.push_back(allow(0, "", L4::sctp, 1, 65535));
  in.rules.push_back(allow(0, "", L4::icmp));
  in.rules.push_back(allow(0, "", L4::icmpv6));
  in.rules.push_back(allow(4, "", L4::any));
  in.rules.push_back(allow(6, "", L4::tcp));
  in.rules.push_back(allow(4, "", L4::udp, 5, 6));
  in.rules.push_back(allow(4, "", L4::icmp));
  in.rules.push_back(allow(6, "", L4::icmpv6));
  in.rules.push_back(log_rule("bulkhead deny ingress web-1", 10, 20));
  NftRule drop;
  drop.kind = RuleKind::final_drop;
  drop.comment = "drop other ingress (isolated by shop, prod/np) ünïcødé ✓";
  drop.packets = 12;
  drop.bytes = 3456;
  in.rules.push_back(drop);
  t.chains.push_back(in);

  NftChain out{"egress", Hook::output, 0, {}};
  for (RuleKind k : {RuleKind::ct_established_accept, RuleKind::ct_invalid_drop,
                     RuleKind::loopback_accept, RuleKind::icmpv6_nd_accept})
    out.rules.push_back(base_rule(k));
  out.rules.push_back(allow(4, "web_v4", L4::tcp, 80, 90));
  out.rules.push_back(allow(6, "web_v6", L4::any));
  out.rules.push_back(allow(4, "cidr_0a_v4", L4::udp));
  // nft omits a packet limit's default burst of 5; a prefix of the kernel's full 127 bytes.
  out.rules.push_back(log_rule("bulkhead deny egress " + std::string(106, 'e'), 3, 5));
  drop.comment = std::string(128, 'x');
  out.rules.push_back(drop);
  t.chains.push_back(out);
  return t;
}

class RenderRoundtrip : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_root_tools()) GTEST_FAIL() << "needs root and nft";
  }
};

TEST_F(RenderRoundtrip, EveryRuleFormMatchesNftsOwnListing) {
  expect_roundtrip(every_form(), "every_form");
}

TEST_F(RenderRoundtrip, AuditChainEndsInACountedAccept) {
  NftTable t;
  NftChain in{"ingress", Hook::input, 0, {}};
  for (RuleKind k : {RuleKind::ct_established_accept, RuleKind::ct_invalid_drop,
                     RuleKind::loopback_accept, RuleKind::icmpv6_nd_accept})
    in.rules.push_back(base_rule(k));
  in.rules.push_back(allow(0, "", L4::tcp, 22, 0, "ops: any -> db 22/tcp (p.yaml:5:1)"));
  in.rules.push_back(log_rule("bulkhead would-deny ingress db-1", kLogRate, kLogBurst));
  NftRule last;
  last.kind = RuleKind::final_accept;
  last.comment = "would deny other ingress (audit: watch)";
  last.packets = 7;
  in.rules.push_back(last);
  t.chains.push_back(in);
  expect_roundtrip(t, "audit chain");
}

TEST_F(RenderRoundtrip, NonDefaultPrioritiesAndChainsWithoutSets) {
  NftTable t;
  t.chains.push_back({"ingress", Hook::input, 5, {base_rule(RuleKind::loopback_accept)}});
  t.chains.push_back({"egress", Hook::output, -160, {base_rule(RuleKind::loopback_accept)}});
  expect_roundtrip(t, "priorities");
  t.chains[0].priority = 100;
  t.chains[1].priority = 45;
  expect_roundtrip(t, "priorities 2");
}

TEST_F(RenderRoundtrip, CompiledRandomPlansMatchNftsOwnListing) {
  int tables = 0;
  for (uint32_t seed = 1; seed <= 10 && tables < 25; ++seed) {
    const auto c = testing::RandomPolicyGen(seed).make();
    const Plan plan = compile(c.policies, c.endpoints);
    for (const auto& ep : plan.endpoints) {
      if (!ep.table) continue;
      ++tables;
      expect_roundtrip(*ep.table, "seed " + std::to_string(seed) + " endpoint " + ep.endpoint);
      if (HasFailure()) return;
    }
  }
  EXPECT_GT(tables, 10);
}

TEST_F(RenderRoundtrip, CompiledExamplesMatchNftsOwnListing) {
  int tables = 0;
  for (const std::string dir : {"shop", "kubernetes"}) {
    const std::string base = std::string(BULKHEAD_SOURCE_DIR) + "/examples/" + dir;
    std::vector<std::string> files{base + (dir == "shop" ? "/policy.yaml" : "/policies.yaml")};
    if (dir == "kubernetes") files.push_back(base + "/namespaces.yaml");
    const PolicyLoad pl = load_policies(files);
    const InventoryLoad inv = load_inventory(base + "/inventory.yaml");
    ASSERT_FALSE(has_errors(pl.diagnostics)) << dir;
    ASSERT_FALSE(has_errors(inv.diagnostics)) << dir;
    for (const auto& ep : compile(pl.set, inv.endpoints).endpoints) {
      if (!ep.table) continue;
      ++tables;
      expect_roundtrip(*ep.table, dir + " endpoint " + ep.endpoint);
      if (HasFailure()) return;
    }
  }
  EXPECT_GE(tables, 4);
}

}  // namespace
}  // namespace bulkhead::policy
