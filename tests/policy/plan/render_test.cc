// Exact text of the renderer's forms. That these are nft 1.0.6's own forms is checked against the
// real nft by tests/policy/plan/render_roundtrip_test.cc; these tests pin the text without root.
#include "policy/plan/render.h"

#include <gtest/gtest.h>

#include "policy/plan/nft_comment.h"
#include "policy/plan/nft_names.h"
#include "tests/support/plan_builders.h"

namespace bulkhead::policy {
namespace {

using namespace ::bulkhead::testing;  // NOLINT: the plan builders

std::string chain_body(const NftChain& c) {
  NftTable t;
  t.chains.push_back(c);
  const std::string text = render_nft(t);
  // Keep the rule lines only: drop the table/chain framing and the chain's type line.
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    const std::string line = text.substr(pos, nl - pos);
    if (line.rfind("\t\t", 0) == 0 && line.find("type filter") == std::string::npos)
      out += line.substr(2) + "\n";
    pos = nl + 1;
  }
  return out;
}

TEST(RenderNft, EmptyTable) { EXPECT_EQ(render_nft(NftTable{}), "table inet bulkhead {\n}\n"); }

TEST(RenderNft, SetsWrapLikeNft) {
  NftTable t;
  t.sets.push_back(
      {"a_v4", 4, false, {host("198.18.0.1"), host("198.18.0.2"), host("198.18.0.3")}});
  t.sets.push_back(
      {"b_v6", 6, true, {range("2001:db8::", "2001:db8::ffff"), host("2001:db8:1::1")}});
  t.sets.push_back({"c_v4", 4, true, {}});
  EXPECT_EQ(render_nft(t),
            "table inet bulkhead {\n"
            "\tset a_v4 {\n"
            "\t\ttype ipv4_addr\n"
            "\t\telements = { 198.18.0.1, 198.18.0.2,\n"
            "\t\t\t     198.18.0.3 }\n"
            "\t}\n"
            "\n"
            "\tset b_v6 {\n"
            "\t\ttype ipv6_addr\n"
            "\t\tflags interval\n"
            "\t\telements = { 2001:db8::/112,\n"
            "\t\t\t     2001:db8:1::1 }\n"
            "\t}\n"
            "\n"
            "\tset c_v4 {\n"
            "\t\ttype ipv4_addr\n"
            "\t\tflags interval\n"
            "\t}\n"
            "}\n");
}

TEST(RenderNft, BaseRulesPerHook) {
  NftChain in{"ingress", Hook::input, 0, {}};
  NftChain out{"egress", Hook::output, 0, {}};
  for (RuleKind k : {RuleKind::ct_established_accept, RuleKind::ct_invalid_drop,
                     RuleKind::loopback_accept, RuleKind::icmpv6_nd_accept}) {
    NftRule r;
    r.kind = k;
    r.counter = false;
    in.rules.push_back(r);
    out.rules.push_back(r);
  }
  EXPECT_EQ(chain_body(in),
            "ct state established,related accept\n"
            "ct state invalid drop\n"
            "iif \"lo\" accept\n"
            "icmpv6 type 133-137 accept\n");
  EXPECT_EQ(chain_body(out),
            "ct state established,related accept\n"
            "ct state invalid drop\n"
            "oif \"lo\" accept\n"
            "icmpv6 type 133-137 accept\n");
}

TEST(RenderNft, AllowRuleForms) {
  NftChain in{"ingress", Hook::input, 0, {}};
  in.rules = {allow(4, "web_v4", L4::tcp, 8080),
              allow(6, "web_v6", L4::udp, 8000, 8100),
              allow(4, "c_v4", L4::icmp),
              allow(6, "c_v6", L4::icmpv6),
              allow(4, "c_v4", L4::sctp),
              allow(4, "c_v4", L4::any),
              allow(0, "", L4::any),
              allow(0, "", L4::icmp),
              allow(0, "", L4::icmpv6),
              allow(4, "", L4::icmp),
              allow(6, "", L4::tcp),
              allow(4, "", L4::udp, 53)};
  in.rules[0].packets = 7;
  in.rules[0].bytes = 420;
  in.rules[1].counter = false;
  EXPECT_EQ(chain_body(in),
            "ip saddr @web_v4 tcp dport 8080 counter packets 7 bytes 420 accept\n"
            "ip6 saddr @web_v6 udp dport 8000-8100 accept\n"
            "ip saddr @c_v4 meta l4proto icmp counter packets 0 bytes 0 accept\n"
            "ip6 saddr @c_v6 meta l4proto ipv6-icmp counter packets 0 bytes 0 accept\n"
            "ip saddr @c_v4 meta l4proto sctp counter packets 0 bytes 0 accept\n"
            "ip saddr @c_v4 counter packets 0 bytes 0 accept\n"
            "counter packets 0 bytes 0 accept\n"
            "meta l4proto icmp counter packets 0 bytes 0 accept\n"
            "meta l4proto ipv6-icmp counter packets 0 bytes 0 accept\n"
            "meta l4proto icmp counter packets 0 bytes 0 accept\n"
            "meta nfproto ipv6 meta l4proto tcp counter packets 0 bytes 0 accept\n"
            "meta nfproto ipv4 udp dport 53 counter packets 0 bytes 0 accept\n");
  NftChain out{"egress", Hook::output, 0, {allow(4, "web_v4", L4::tcp, 80, 90)}};
  EXPECT_EQ(chain_body(out), "ip daddr @web_v4 tcp dport 80-90 counter packets 0 bytes 0 accept\n");
}

TEST(RenderNft, FinalDropAndComments) {
  NftRule drop;
  drop.kind = RuleKind::final_drop;
  drop.comment = "say \"hi\"\nnow";
  NftChain in{"ingress", Hook::input, 0, {drop}};
  EXPECT_EQ(chain_body(in), "counter packets 0 bytes 0 drop comment \"say 'hi' now\"\n");
  in.rules[0].comment = std::string(127, 'x') + "é";
  EXPECT_EQ(chain_body(in),
            "counter packets 0 bytes 0 drop comment \"" + std::string(127, 'x') + "\"\n");
}

TEST(RenderNft, PriorityNamesFollowNft) {
  NftTable t;
  t.chains.push_back({"ingress", Hook::input, 0, {}});
  auto type_line = [&](int prio) {
    t.chains[0].priority = prio;
    const std::string s = render_nft(t);
    const size_t a = s.find("priority ") + 9;
    return s.substr(a, s.find(';', a) - a);
  };
  EXPECT_EQ(type_line(0), "filter");
  EXPECT_EQ(type_line(10), "filter + 10");
  EXPECT_EQ(type_line(-10), "filter - 10");
  EXPECT_EQ(type_line(-150), "mangle");
  EXPECT_EQ(type_line(-300), "raw");
  EXPECT_EQ(type_line(45), "security - 5");
  EXPECT_EQ(type_line(100), "100");
  EXPECT_EQ(type_line(-200), "-200");
}

TEST(RenderTc, RatesAndBursts) {
  TcPlan tc;
  EXPECT_EQ(render_tc(tc), "");
  tc.egress = TcLimit{50'000'000, 62'500};
  tc.ingress = TcLimit{1'500'000, 16'384};
  EXPECT_EQ(render_tc(tc),
            "egress: rate 50mbit burst 62500b on the endpoint's interface\n"
            "ingress: rate 1500kbit burst 16384b on bh-ifb0 (ingress redirected from the "
            "endpoint's interface)\n");
  tc.ingress = TcLimit{10'000'000'000ull, 1'250'000};
  tc.egress = TcLimit{1'234'567, 2'000};
  EXPECT_EQ(render_tc(tc),
            "egress: rate 1234567bit burst 2000b on the endpoint's interface\n"
            "ingress: rate 10gbit burst 1250000b on bh-ifb0 (ingress redirected from the "
            "endpoint's interface)\n");
}

TEST(RenderEndpoint, UnisolatedEndpointWithLimit) {
  EndpointPlan ep;
  ep.endpoint = "batch";
  ep.netns = "/run/netns/batch";
  ep.tc.egress = TcLimit{50'000'000, 62'500};
  EXPECT_EQ(render_endpoint(ep),
            "# endpoint batch (netns /run/netns/batch)\n"
            "# not isolated: no nftables table\n"
            "# tc egress: rate 50mbit burst 62500b on the endpoint's interface\n"
            "\n");
  ep.tc = {};
  ep.table = NftTable{};
  EXPECT_EQ(render_endpoint(ep),
            "# endpoint batch (netns /run/netns/batch)\n"
            "table inet bulkhead {\n}\n"
            "# no bandwidth limit\n"
            "\n");
}

TEST(NftComment, TruncationNeverSplitsACharacter) {
  EXPECT_EQ(truncate_utf8("abc", 3), "abc");
  EXPECT_EQ(truncate_utf8("abc", 2), "ab");
  EXPECT_EQ(truncate_utf8("aé", 2), "a");   // é is 2 bytes
  EXPECT_EQ(truncate_utf8("a✓b", 3), "a");  // ✓ is 3 bytes
  EXPECT_EQ(truncate_utf8("a✓b", 4), "a✓");
  EXPECT_EQ(truncate_utf8("😀x", 3), "");  // 4-byte character
  EXPECT_EQ(sanitize_comment("a\"b\tc\x7f"), "a'b c ");
}

TEST(NftComment, FitKeepsHeadAndTail) {
  const std::string body(200, 'b');
  const std::string c = fit_comment("pol: ", body, " (f.yaml:1:2)");
  EXPECT_EQ(c.size(), kNftCommentMax);
  EXPECT_EQ(c, "pol: " + std::string(128 - 5 - 13 - 3, 'b') + "... (f.yaml:1:2)");
  EXPECT_EQ(fit_comment("a", "b", "c"), "abc");
}

// A long policy name and a long path together: the name gives way, the position stays whole.
TEST(NftComment, FitNeverCutsThePosition) {
  const std::string head = "kube-system/" + std::string(60, 'p') + ": ";
  const std::string tail = " (/srv/cluster/exports/" + std::string(40, 'd') + "/netpol.yaml:123:7)";
  const std::string c = fit_comment(head, "x -> y any port", tail);
  EXPECT_EQ(c.size(), kNftCommentMax);
  EXPECT_EQ(c, head.substr(0, 128 - tail.size() - 3) + "..." + tail);
  // A position longer than a whole comment keeps its end: line and column survive.
  const std::string huge = " (" + std::string(150, 'f') + ".yaml:12:34)";
  const std::string h = fit_comment("pol: ", "body", huge);
  EXPECT_EQ(h.size(), kNftCommentMax);
  EXPECT_EQ(h, "..." + huge.substr(huge.size() - 125));
  EXPECT_EQ(h.substr(h.size() - 12), ".yaml:12:34)");
  // Never a split character at the cut.
  std::string accented = " (";
  for (int i = 0; i < 70; ++i) accented += "\xc3\xa9";  // é, 2 bytes
  accented += ".yaml:1:2)";
  const std::string a = fit_comment("", "", accented);
  EXPECT_EQ(a.size(), kNftCommentMax - 1);  // the cut backs off to a character boundary
  EXPECT_EQ(a.substr(0, 5), "...\xc3\xa9");
}

TEST(NftNames, HashIsFixedForever) {
  // Changing these renames every set on every host at upgrade: never change them.
  EXPECT_EQ(stable_hash(""), "4fd0bfc1");
  EXPECT_EQ(stable_hash("", 16), "cbf29ce484222325");
  EXPECT_EQ(stable_hash("198.18.0.0/16 except 198.18.1.0/24"), "c566595c");
  EXPECT_EQ(stable_hash("pods:{app=web} ns=prod", 16), "276b7195dcedfcee");
  EXPECT_TRUE(usable_set_base("web-api_2"));
  EXPECT_FALSE(usable_set_base("2web"));
  EXPECT_FALSE(usable_set_base("web.api"));
  EXPECT_FALSE(usable_set_base(std::string(49, 'a')));
}

}  // namespace
}  // namespace bulkhead::policy
