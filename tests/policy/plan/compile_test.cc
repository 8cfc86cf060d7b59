#include "policy/plan/compile.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "policy/plan/render.h"
#include "tests/support/plan_builders.h"
#include "tests/support/policy_builders.h"
#include "tests/support/random_policy.h"

namespace bulkhead::policy {
namespace {

using namespace testing;  // NOLINT: the builders

const EndpointPlan& find(const Plan& plan, const std::string& name) {
  for (const auto& ep : plan.endpoints)
    if (ep.endpoint == name) return ep;
  ADD_FAILURE() << "no endpoint " << name;
  static const EndpointPlan none;
  return none;
}

const NftChain* chain(const EndpointPlan& ep, const std::string& name) {
  if (!ep.table) return nullptr;
  for (const auto& c : ep.table->chains)
    if (c.name == name) return &c;
  return nullptr;
}

const NftSet* set(const EndpointPlan& ep, const std::string& name) {
  if (!ep.table) return nullptr;
  for (const auto& s : ep.table->sets)
    if (s.name == name) return &s;
  return nullptr;
}

std::vector<NftRule> allow_rules(const NftChain* c) {
  std::vector<NftRule> out;
  if (!c) return out;
  for (const auto& r : c->rules)
    if (r.kind == RuleKind::allow) out.push_back(r);
  return out;
}

std::vector<std::string> elements(const NftSet* s) {
  std::vector<std::string> out;
  if (!s) return out;
  for (const auto& e : s->elements) out.push_back(range_to_string(e));
  return out;
}

using bulkhead::testing::allow;

// The shop example: web may reach api on 8080/tcp; api may reach DNS and ping inside
// 198.18.0.0/16 except one /24, and any endpoint's "http" port.
PolicySet shop_policies() {
  PolicySet ps;
  const auto api = group_subject("api", "app=api");
  ps.isolations.push_back(isolate(Direction::ingress, api, origin("shop", at(3, 5, "shop.yaml"))));
  ps.isolations.push_back(isolate(Direction::egress, api, origin("shop", at(3, 5, "shop.yaml"))));
  ps.rules.push_back(rule(Direction::ingress, api,
                          {group_peer("web", "app=web", at(20, 13, "shop.yaml"))},
                          {port(Protocol::tcp, 8080, 0, at(21, 13, "shop.yaml"))},
                          origin("shop", at(20, 7, "shop.yaml"))));
  ps.rules.push_back(rule(Direction::egress, api,
                          {cidr_peer("198.18.0.0/16", {"198.18.1.0/24"}, at(22, 13, "shop.yaml"))},
                          {port(Protocol::udp, 53, 0, at(23, 13, "shop.yaml")),
                           port(Protocol::icmp, 0, 0, at(23, 20, "shop.yaml"))},
                          origin("shop", at(22, 7, "shop.yaml"))));
  ps.rules.push_back(any_peer_rule(Direction::egress, api,
                                   {named_port("http", Protocol::tcp, at(25, 13, "shop.yaml"))},
                                   origin("shop", at(24, 7, "shop.yaml"))));
  return ps;
}

Endpoints shop_endpoints() {
  return {
      endpoint("web-2", "app=web", {"198.18.0.4", "2001:db8::4"}),
      endpoint("api-1", "app=api", {"198.18.0.2", "2001:db8::2"}, {{"http", 8080, Protocol::tcp}}),
      endpoint("web-1", "app=web", {"198.18.0.3"}, {{"http", 80, Protocol::tcp}})};
}

TEST(Compile, ShopExampleRendersToTheExactTable) {
  const Plan plan = compile(shop_policies(), shop_endpoints());
  ASSERT_EQ(plan.endpoints.size(), 3u);
  const auto& api = find(plan, "api-1");
  ASSERT_TRUE(api.table);
  EXPECT_EQ(api.netns, "/run/netns/api-1");
  EXPECT_EQ(render_nft(*api.table), R"nft(table inet bulkhead {
	set _any.http.tcp8080_v4 {
		type ipv4_addr
		elements = { 198.18.0.2 }
	}

	set _any.http.tcp8080_v6 {
		type ipv6_addr
		elements = { 2001:db8::2 }
	}

	set _any.http.tcp80_v4 {
		type ipv4_addr
		elements = { 198.18.0.3 }
	}

	set _any.http.tcp80_v6 {
		type ipv6_addr
	}

	set cidr_c566595c_v4 {
		type ipv4_addr
		flags interval
		elements = { 198.18.0.0/24, 198.18.2.0-198.18.255.255 }
	}

	set web_v4 {
		type ipv4_addr
		elements = { 198.18.0.3, 198.18.0.4 }
	}

	set web_v6 {
		type ipv6_addr
		elements = { 2001:db8::4 }
	}

	chain ingress {
		type filter hook input priority filter; policy accept;
		ct state established,related accept
		ct state invalid counter packets 0 bytes 0 drop
		iif "lo" accept
		icmpv6 type 133-137 accept
		ip saddr @web_v4 tcp dport 8080 counter packets 0 bytes 0 accept comment "shop: web -> api 8080/tcp (shop.yaml:20:7)"
		ip6 saddr @web_v6 tcp dport 8080 counter packets 0 bytes 0 accept comment "shop: web -> api 8080/tcp (shop.yaml:20:7)"
		limit rate 10/second burst 20 packets log prefix "bulkhead deny ingress api-1" group 4242
		counter packets 0 bytes 0 drop comment "drop other ingress (isolated by shop)"
	}

	chain egress {
		type filter hook output priority filter; policy accept;
		ct state established,related accept
		ct state invalid counter packets 0 bytes 0 drop
		oif "lo" accept
		icmpv6 type 133-137 accept
		ip daddr @cidr_c566595c_v4 udp dport 53 counter packets 0 bytes 0 accept comment "shop: api -> 198.18.0.0/16 except 198.18.1.0/24 53/udp (shop.yaml:22:7)"
		ip daddr @cidr_c566595c_v4 meta l4proto icmp counter packets 0 bytes 0 accept comment "shop: api -> 198.18.0.0/16 except 198.18.1.0/24 icmp (shop.yaml:22:7)"
		ip daddr @_any.http.tcp8080_v4 tcp dport 8080 counter packets 0 bytes 0 accept comment "shop: api -> any http/tcp (shop.yaml:24:7)"
		ip daddr @_any.http.tcp80_v4 tcp dport 80 counter packets 0 bytes 0 accept comment "shop: api -> any http/tcp (shop.yaml:24:7)"
		ip6 daddr @_any.http.tcp8080_v6 tcp dport 8080 counter packets 0 bytes 0 accept comment "shop: api -> any http/tcp (shop.yaml:24:7)"
		ip6 daddr @_any.http.tcp80_v6 tcp dport 80 counter packets 0 bytes 0 accept comment "shop: api -> any http/tcp (shop.yaml:24:7)"
		limit rate 10/second burst 20 packets log prefix "bulkhead deny egress api-1" group 4242
		counter packets 0 bytes 0 drop comment "drop other egress (isolated by shop)"
	}
}
)nft");
}

// One peer group's addresses are one list, however many tables hold its set: at 1,000 endpoints a
// copy per table was most of the daemon's memory.
TEST(Compile, TablesHoldingTheSameSetShareItsElements) {
  auto eps = shop_endpoints();
  eps.push_back(endpoint("api-2", "app=api", {"198.18.0.5"}));
  const Plan plan = compile(shop_policies(), eps);
  const NftSet* one = set(find(plan, "api-1"), "web_v4");
  const NftSet* two = set(find(plan, "api-2"), "web_v4");
  ASSERT_TRUE(one && two);
  EXPECT_EQ(elements(one), (std::vector<std::string>{"198.18.0.3", "198.18.0.4"}));
  EXPECT_EQ(&one->elements.list(), &two->elements.list());
}

TEST(Compile, EveryEndpointAppearsInNameOrderAndUnisolatedOnesHaveNoTable) {
  const Plan plan = compile(shop_policies(), shop_endpoints());
  std::vector<std::string> names;
  for (const auto& ep : plan.endpoints) names.push_back(ep.endpoint);
  EXPECT_EQ(names, (std::vector<std::string>{"api-1", "web-1", "web-2"}));
  EXPECT_FALSE(find(plan, "web-1").table.has_value());
  EXPECT_FALSE(find(plan, "web-2").table.has_value());
  EXPECT_TRUE(find(plan, "web-1").tc.empty());
}

TEST(Compile, IngressOnlyIsolationMakesOnlyAnIngressChain) {
  PolicySet ps;
  ps.isolations.push_back(
      isolate(Direction::ingress, group_subject("db", "app=db"), origin("p", at(1, 1))));
  const Plan plan = compile(ps, {endpoint("db-1", "app=db", {"198.18.0.9"})});
  const auto& db = find(plan, "db-1");
  ASSERT_TRUE(db.table);
  ASSERT_EQ(db.table->chains.size(), 1u);
  EXPECT_EQ(db.table->chains[0].name, "ingress");
  EXPECT_EQ(db.table->chains[0].hook, Hook::input);
  EXPECT_EQ(db.table->chains[0].priority, 0);
  std::vector<RuleKind> kinds;
  for (const auto& r : db.table->chains[0].rules) kinds.push_back(r.kind);
  EXPECT_EQ(kinds,
            (std::vector<RuleKind>{RuleKind::ct_established_accept, RuleKind::ct_invalid_drop,
                                   RuleKind::loopback_accept, RuleKind::icmpv6_nd_accept,
                                   RuleKind::log, RuleKind::final_drop}));
  EXPECT_TRUE(db.table->sets.empty());
  const NftRule& log = db.table->chains[0].rules[4];
  EXPECT_EQ(log.log_prefix, "bulkhead deny ingress db-1");
  EXPECT_EQ(log.log_group, kNflogGroup);
  EXPECT_EQ(log.log_rate, kLogRate);
  EXPECT_EQ(log.log_burst, kLogBurst);
  EXPECT_FALSE(log.counter);
}

Origin audit_origin(std::string policy, SourcePos pos) {
  Origin o = origin(std::move(policy), std::move(pos));
  o.audit = true;
  return o;
}

// Only an audit policy isolates db's ingress: the chain keeps every allow rule selecting db (audit
// and enforcing), logs what is left as "would deny" and accepts it with a counter.
TEST(Compile, AuditOnlyIsolationEndsInACountedAcceptAndLogsWouldDeny) {
  PolicySet ps;
  const auto db = group_subject("db", "app=db");
  ps.isolations.push_back(isolate(Direction::ingress, db, audit_origin("watch", at(1, 1))));
  ps.rules.push_back(rule(Direction::ingress, db, {group_peer("api", "app=api", at(3, 1))},
                          {port(Protocol::tcp, 5432, 0, at(3, 9))},
                          audit_origin("watch", at(3, 1))));
  ps.rules.push_back(rule(Direction::ingress, db, {group_peer("ops", "app=ops", at(5, 1))},
                          {port(Protocol::tcp, 22, 0, at(5, 9))}, origin("ops", at(5, 1))));
  const Plan plan = compile(ps, {endpoint("db-1", "app=db", {"198.18.0.9"})});
  const auto* in = chain(find(plan, "db-1"), "ingress");
  ASSERT_NE(in, nullptr);
  ASSERT_EQ(in->rules.size(), 4u + 4u + 2u);  // base, 2 sets x 2 rules, log, final
  EXPECT_EQ(in->rules[4].comment.rfind("ops: ", 0), 0u) << in->rules[4].comment;
  EXPECT_EQ(in->rules[6].comment.rfind("watch: ", 0), 0u) << in->rules[6].comment;
  EXPECT_EQ(in->rules[8].kind, RuleKind::log);
  EXPECT_EQ(in->rules[8].log_prefix, "bulkhead would-deny ingress db-1");
  EXPECT_EQ(in->rules[9].kind, RuleKind::final_accept);
  EXPECT_TRUE(in->rules[9].counter);
  EXPECT_EQ(in->rules[9].comment, "would deny other ingress (audit: watch)");
  EXPECT_EQ(chain(find(plan, "db-1"), "egress"), nullptr);
}

// An enforcing policy isolating the same side makes the audit entries irrelevant there: the
// chain is exactly the one compiled without them.
TEST(Compile, AuditEntriesChangeNothingWhereAnEnforcingPolicyIsolates) {
  PolicySet enforcing;
  const auto db = group_subject("db", "app=db");
  enforcing.isolations.push_back(isolate(Direction::ingress, db, origin("lock", at(1, 1))));
  enforcing.rules.push_back(rule(Direction::ingress, db, {group_peer("ops", "app=ops", at(5, 1))},
                                 {port(Protocol::tcp, 22, 0, at(5, 9))}, origin("lock", at(5, 1))));
  PolicySet both = enforcing;
  both.isolations.push_back(isolate(Direction::ingress, db, audit_origin("watch", at(1, 1))));
  both.isolations.push_back(isolate(Direction::egress, db, audit_origin("watch", at(1, 1))));
  both.rules.push_back(rule(Direction::ingress, db, {group_peer("api", "app=api", at(3, 1))},
                            {port(Protocol::tcp, 5432, 0, at(3, 9))},
                            audit_origin("watch", at(3, 1))));
  const Endpoints eps{endpoint("db-1", "app=db", {"198.18.0.9"}),
                      endpoint("api-1", "app=api", {"198.18.0.3"})};
  const Plan a = compile(enforcing, eps);
  const Plan b = compile(both, eps);
  ASSERT_NE(chain(find(b, "db-1"), "ingress"), nullptr);
  EXPECT_EQ(*chain(find(b, "db-1"), "ingress"), *chain(find(a, "db-1"), "ingress"));
  // The audit policy alone isolates the egress side: a would-deny chain appears there.
  ASSERT_NE(chain(find(b, "db-1"), "egress"), nullptr);
  EXPECT_EQ(chain(find(b, "db-1"), "egress")->rules.back().kind, RuleKind::final_accept);
  EXPECT_EQ(chain(find(a, "db-1"), "egress"), nullptr);
  // api-1 is isolated by nobody: no table, audit or not.
  EXPECT_FALSE(find(b, "api-1").table);
}

// Switching a policy from audit to enforce is one change: the same chain with a drop at the end.
TEST(Compile, SwitchingAuditToEnforceTurnsTheFinalAcceptIntoADrop) {
  PolicySet ps;
  const auto db = group_subject("db", "app=db");
  ps.isolations.push_back(isolate(Direction::ingress, db, audit_origin("p", at(1, 1))));
  const Endpoints eps{endpoint("db-1", "app=db", {"198.18.0.9"})};
  const auto audit = *chain(find(compile(ps, eps), "db-1"), "ingress");
  ps.isolations[0].origin.audit = false;
  const auto enforce = *chain(find(compile(ps, eps), "db-1"), "ingress");
  ASSERT_EQ(audit.rules.size(), enforce.rules.size());
  EXPECT_EQ(audit.rules.back().kind, RuleKind::final_accept);
  EXPECT_EQ(enforce.rules.back().kind, RuleKind::final_drop);
  EXPECT_EQ(audit.rules[audit.rules.size() - 2].log_prefix, "bulkhead would-deny ingress db-1");
  EXPECT_EQ(enforce.rules[enforce.rules.size() - 2].log_prefix, "bulkhead deny ingress db-1");
}

// A bandwidth limit drops what exceeds it: an audit policy's limits wait for enforce.
TEST(Compile, AuditBandwidthLimitsAreNotApplied) {
  PolicySet ps;
  BandwidthLimit l;
  l.subject = group_subject("db", "app=db");
  l.egress = Rate{10000000, 62500, {}};
  l.origin = audit_origin("p", at(1, 1));
  ps.limits.push_back(l);
  const Endpoints eps{endpoint("db-1", "app=db", {"198.18.0.9"})};
  EXPECT_TRUE(find(compile(ps, eps), "db-1").tc.empty());
  ps.limits[0].origin.audit = false;
  EXPECT_EQ(find(compile(ps, eps), "db-1").tc.egress, (TcLimit{10000000, 62500}));
}

// The prefix stays within the kernel's 127 bytes whatever the endpoint is called.
TEST(Compile, LogPrefixFitsTheKernelLimit) {
  PolicySet ps;
  ps.isolations.push_back(
      isolate(Direction::egress, group_subject("db", "app=db"), origin("p", at(1, 1))));
  const std::string name = std::string(200, 'n') + "\"";
  const Plan plan = compile(ps, {endpoint(name, "app=db", {})});
  const auto* eg = chain(find(plan, name), "egress");
  ASSERT_NE(eg, nullptr);
  const std::string& prefix = eg->rules[eg->rules.size() - 2].log_prefix;
  EXPECT_EQ(prefix.size(), kLogPrefixMax);
  EXPECT_EQ(prefix.rfind("bulkhead deny egress nnn", 0), 0u);
  EXPECT_EQ(prefix.find('"'), std::string::npos);
}

TEST(Compile, FinalDropNamesEveryIsolatingPolicyOnce) {
  PolicySet ps;
  const auto db = k8s_subject("prod", "app=db");
  ps.isolations.push_back(isolate(Direction::ingress, db, origin("prod/zz-deny", at(1, 1))));
  ps.isolations.push_back(isolate(Direction::ingress, db, origin("prod/aa-db", at(9, 1))));
  ps.isolations.push_back(isolate(Direction::ingress, db, origin("prod/zz-deny", at(1, 1))));
  const Plan plan = compile(ps, {endpoint("db", "app=db,io.kubernetes.pod.namespace=prod", {})});
  const auto* in = chain(find(plan, "db"), "ingress");
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->rules.back().kind, RuleKind::final_drop);
  EXPECT_TRUE(in->rules.back().counter);
  EXPECT_EQ(in->rules.back().comment, "drop other ingress (isolated by prod/aa-db, prod/zz-deny)");
}

TEST(Compile, SubjectNamespaceLimitsWhichEndpointsAreIsolated) {
  PolicySet ps;
  ps.isolations.push_back(
      isolate(Direction::ingress, k8s_subject("prod", "app=api"), origin("prod/np", at(1, 1))));
  const Plan plan =
      compile(ps, {endpoint("a", "app=api,io.kubernetes.pod.namespace=prod", {"198.18.0.2"}),
                   endpoint("b", "app=api,io.kubernetes.pod.namespace=dev", {"198.18.0.3"}),
                   endpoint("c", "app=api", {"198.18.0.4"})});
  EXPECT_TRUE(find(plan, "a").table.has_value());
  EXPECT_FALSE(find(plan, "b").table.has_value());
  EXPECT_FALSE(find(plan, "c").table.has_value());  // namespace "default"

  PolicySet in_default;
  in_default.isolations.push_back(isolate(Direction::ingress, k8s_subject("default", "app=api"),
                                          origin("default/np", at(1, 1))));
  EXPECT_TRUE(find(compile(in_default, {endpoint("c", "app=api", {})}), "c").table.has_value());
}

TEST(Compile, NamespaceSelectorsSeeDocumentLabelsAndTheImplicitNameLabel) {
  PolicySet ps;
  ps.namespaces.push_back(NamespaceInfo{"prod", {{"team", "a"}}, at(1, 1, "ns.yaml")});
  const auto db = k8s_subject("prod", "app=db");
  ps.isolations.push_back(isolate(Direction::ingress, db, origin("prod/db", at(1, 1))));
  ps.rules.push_back(rule(Direction::ingress, db,
                          {k8s_peer("app=web", ns_selected("team=a"), at(5, 9)),
                           k8s_peer("", ns_selected("kubernetes.io/metadata.name=dev"), at(6, 9)),
                           k8s_peer("app=web", ns_named("prod"), at(7, 9))},
                          {port(Protocol::tcp, 5432)}, origin("prod/db", at(4, 7))));
  const Endpoints eps{
      endpoint("db", "app=db,io.kubernetes.pod.namespace=prod", {"198.18.0.2"}),
      endpoint("web-prod", "app=web,io.kubernetes.pod.namespace=prod", {"198.18.0.3"}),
      endpoint("web-dev", "app=web,io.kubernetes.pod.namespace=dev", {"198.18.0.4"}),
      endpoint("job-dev", "app=job,io.kubernetes.pod.namespace=dev", {"198.18.0.5"}),
      endpoint("web-default", "app=web", {"198.18.0.6"})};
  const Plan plan = compile(ps, eps);
  const auto& p = find(plan, "db");
  const auto rules = allow_rules(chain(p, "ingress"));
  ASSERT_EQ(rules.size(), 6u);  // three peers, two families each
  // team=a: only prod has that label (from its Namespace document).
  EXPECT_EQ(elements(set(p, rules[0].peer_set)), (std::vector<std::string>{"198.18.0.3"}));
  // dev has no document, but still carries kubernetes.io/metadata.name=dev.
  EXPECT_EQ(elements(set(p, rules[2].peer_set)),
            (std::vector<std::string>{"198.18.0.4", "198.18.0.5"}));
  EXPECT_EQ(elements(set(p, rules[4].peer_set)), (std::vector<std::string>{"198.18.0.3"}));
  EXPECT_EQ(rules[0].comment,
            "prod/db: ns{team=a}/{app=web} -> prod/{app=db} 5432/tcp (p.yaml:4:7)");
  EXPECT_EQ(
      rules[2].comment,
      "prod/db: ns{kubernetes.io/metadata.name=dev}/{} -> prod/{app=db} 5432/tcp (p.yaml:4:7)");
  EXPECT_EQ(rules[4].comment, "prod/db: prod/{app=web} -> prod/{app=db} 5432/tcp (p.yaml:4:7)");
  // Kubernetes peers are named by a hash of their canonical key.
  EXPECT_EQ(rules[0].peer_set.substr(0, 3), "ep_");
  EXPECT_EQ(rules[0].peer_set.size(), std::string("ep_12345678_v4").size());
  EXPECT_NE(rules[0].peer_set, rules[4].peer_set);
}

TEST(Compile, CidrPeerBecomesOneIntervalSetOfItsFamilyMinusExceptions) {
  PolicySet ps;
  const auto s = group_subject("s", "app=s");
  ps.isolations.push_back(isolate(Direction::egress, s, origin("p", at(1, 1))));
  ps.rules.push_back(
      rule(Direction::egress, s,
           {cidr_peer("198.18.0.0/16", {"198.18.1.0/24", "198.18.128.0/17"}, at(3, 9)),
            cidr_peer("2001:db8::/32", {"2001:db8:0:1::/64"}, at(4, 9))},
           {port(Protocol::tcp, 443)}, origin("p", at(2, 7))));
  const Plan plan = compile(ps, {endpoint("s1", "app=s", {"198.18.0.2"})});
  const auto& p = find(plan, "s1");
  const auto rules = allow_rules(chain(p, "egress"));
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].family, 4);
  EXPECT_EQ(rules[1].family, 6);
  const NftSet* v4 = set(p, rules[0].peer_set);
  const NftSet* v6 = set(p, rules[1].peer_set);
  ASSERT_TRUE(v4 && v6);
  EXPECT_TRUE(v4->interval);
  EXPECT_TRUE(v6->interval);
  EXPECT_EQ(elements(v4), (std::vector<std::string>{"198.18.0.0/24", "198.18.2.0-198.18.127.255"}));
  EXPECT_EQ(elements(v6),
            (std::vector<std::string>{"2001:db8::/64",
                                      "2001:db8:0:2::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"}));
  EXPECT_EQ(p.table->sets.size(), 2u);  // no endpoint-peer companions for CIDRs
}

TEST(Compile, AnyPeerAnyPortIsOneRuleWithoutMatches) {
  PolicySet ps;
  const auto s = group_subject("s", "app=s");
  ps.isolations.push_back(isolate(Direction::ingress, s, origin("p", at(1, 1))));
  ps.rules.push_back(
      with_any_port(any_peer_rule(Direction::ingress, s, {}, origin("p", at(2, 7)))));
  const Plan plan = compile(ps, {endpoint("s1", "app=s", {"198.18.0.2"})});
  const auto rules = allow_rules(chain(find(plan, "s1"), "ingress"));
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0], allow(0, "", L4::any, 0, 0, "p: any -> s any port (p.yaml:2:7)"));
  EXPECT_TRUE(find(plan, "s1").table->sets.empty());
}

TEST(Compile, PortShapes) {
  PolicySet ps;
  const auto s = group_subject("s", "app=s");
  ps.isolations.push_back(isolate(Direction::ingress, s, origin("p", at(1, 1))));
  ps.rules.push_back(
      any_peer_rule(Direction::ingress, s,
                    {port(Protocol::tcp, 0, 0, at(3, 1)), port(Protocol::udp, 8000, 8100, at(3, 2)),
                     port(Protocol::any, 53, 0, at(3, 3)), port(Protocol::icmp, 0, 0, at(3, 4)),
                     port(Protocol::sctp, 9, 0, at(3, 5))},
                    origin("p", at(2, 7))));
  const Plan plan = compile(ps, {endpoint("s1", "app=s", {"198.18.0.2"})});
  const auto rules = allow_rules(chain(find(plan, "s1"), "ingress"));
  const std::vector<NftRule> want{
      allow(0, "", L4::tcp, 0, 0, "p: any -> s tcp (p.yaml:2:7)"),
      allow(0, "", L4::udp, 8000, 8100, "p: any -> s 8000-8100/udp (p.yaml:2:7)"),
      allow(0, "", L4::tcp, 53, 53, "p: any -> s 53 (p.yaml:2:7)"),
      allow(0, "", L4::udp, 53, 53, "p: any -> s 53 (p.yaml:2:7)"),
      allow(0, "", L4::sctp, 53, 53, "p: any -> s 53 (p.yaml:2:7)"),
      allow(0, "", L4::icmp, 0, 0, "p: any -> s icmp (p.yaml:2:7)"),
      allow(0, "", L4::icmpv6, 0, 0, "p: any -> s icmp (p.yaml:2:7)"),
      allow(0, "", L4::sctp, 9, 9, "p: any -> s 9/sctp (p.yaml:2:7)")};
  EXPECT_EQ(rules, want);
}

TEST(Compile, EndpointPeerIcmpUsesTheFamilysProtocol) {
  PolicySet ps;
  const auto s = group_subject("s", "app=s");
  ps.isolations.push_back(isolate(Direction::ingress, s, origin("p", at(1, 1))));
  ps.rules.push_back(rule(Direction::ingress, s, {group_peer("mon", "app=mon")},
                          {port(Protocol::icmp)}, origin("p", at(2, 7))));
  const Plan plan = compile(ps, {endpoint("s1", "app=s", {"198.18.0.2"})});
  const auto rules = allow_rules(chain(find(plan, "s1"), "ingress"));
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0], allow(4, "mon_v4", L4::icmp, 0, 0, "p: mon -> s icmp (p.yaml:2:7)"));
  EXPECT_EQ(rules[1], allow(6, "mon_v6", L4::icmpv6, 0, 0, "p: mon -> s icmp (p.yaml:2:7)"));
  // A peer selecting nothing still has both (empty) sets, so a later member is an element update.
  const auto& p = find(plan, "s1");
  ASSERT_NE(set(p, "mon_v4"), nullptr);
  ASSERT_NE(set(p, "mon_v6"), nullptr);
  EXPECT_TRUE(set(p, "mon_v4")->elements.empty());
  EXPECT_FALSE(set(p, "mon_v4")->interval);
}

TEST(Compile, IngressNamedPortResolvesOnTheEndpointItselfByNameAndProtocol) {
  PolicySet ps;
  const auto db = group_subject("db", "app=db");
  ps.isolations.push_back(isolate(Direction::ingress, db, origin("p", at(1, 1))));
  ps.rules.push_back(any_peer_rule(Direction::ingress, db, {named_port("pg", Protocol::tcp)},
                                   origin("p", at(2, 7))));
  const Plan plan =
      compile(ps, {endpoint("db-1", "app=db", {"198.18.0.2"}, {{"pg", 5432, Protocol::tcp}}),
                   endpoint("db-2", "app=db", {"198.18.0.3"}, {{"pg", 5433, Protocol::tcp}}),
                   endpoint("db-3", "app=db", {"198.18.0.4"}, {{"pg", 5432, Protocol::udp}}),
                   endpoint("db-4", "app=db", {"198.18.0.5"})});
  EXPECT_EQ(allow_rules(chain(find(plan, "db-1"), "ingress")),
            (std::vector<NftRule>{
                allow(0, "", L4::tcp, 5432, 5432, "p: any -> db pg/tcp (p.yaml:2:7)")}));
  EXPECT_EQ(allow_rules(chain(find(plan, "db-2"), "ingress")),
            (std::vector<NftRule>{
                allow(0, "", L4::tcp, 5433, 5433, "p: any -> db pg/tcp (p.yaml:2:7)")}));
  EXPECT_TRUE(allow_rules(chain(find(plan, "db-3"), "ingress")).empty());  // protocol differs
  EXPECT_TRUE(allow_rules(chain(find(plan, "db-4"), "ingress")).empty());  // no such name
}

TEST(Compile, EgressNamedPortSplitsThePeerSetByResolvedPort) {
  PolicySet ps;
  const auto web = group_subject("web", "app=web");
  ps.isolations.push_back(isolate(Direction::egress, web, origin("p", at(1, 1))));
  ps.rules.push_back(
      rule(Direction::egress, web,
           {group_peer("api", "app=api", at(3, 9)), cidr_peer("198.18.0.0/30", {}, at(4, 9))},
           {named_port("http")}, origin("p", at(2, 7))));
  const Plan plan = compile(
      ps,
      {endpoint("web", "app=web", {"198.18.0.9"}),
       endpoint("api-1", "app=api", {"198.18.0.2", "2001:db8::2"}, {{"http", 8080, Protocol::tcp}}),
       endpoint("api-2", "app=api", {"198.18.0.5"}, {{"http", 9090, Protocol::tcp}}),
       endpoint("api-3", "app=api", {"198.18.0.6"}),
       endpoint("other", "app=x", {"198.18.0.3"}, {{"http", 8080, Protocol::tcp}}),
       endpoint("far", "app=x", {"198.18.0.7"}, {{"http", 8080, Protocol::tcp}})});
  const auto& p = find(plan, "web");
  std::vector<std::string> names;
  for (const auto& s : p.table->sets)
    names.push_back(s.name + "=" + ::testing::PrintToString(elements(&s)));
  const std::string cidr_base = allow_rules(chain(p, "egress")).back().peer_set;
  ASSERT_EQ(cidr_base.substr(0, 5), "cidr_");
  EXPECT_EQ(names,
            (std::vector<std::string>{
                "api.http.tcp8080_v4={ \"198.18.0.2\" }", "api.http.tcp8080_v6={ \"2001:db8::2\" }",
                "api.http.tcp9090_v4={ \"198.18.0.5\" }", "api.http.tcp9090_v6={}",
                // Toward a CIDR only endpoints inside it that define the name can match.
                cidr_base + "={ \"198.18.0.2\", \"198.18.0.3\" }"}));
  EXPECT_TRUE(cidr_base.ends_with(".http.tcp8080_v4")) << cidr_base;
}

TEST(Compile, SetNamesAndRulesDoNotChangeWithMembership) {
  PolicySet ps;
  const auto db = k8s_subject("prod", "app=db");
  ps.isolations.push_back(isolate(Direction::ingress, db, origin("prod/db", at(1, 1))));
  ps.rules.push_back(rule(Direction::ingress, db,
                          {k8s_peer("app=web", ns_named("prod")), group_peer("ops", "team=ops")},
                          {port(Protocol::tcp, 5432)}, origin("prod/db", at(2, 7))));
  Endpoints eps{endpoint("db", "app=db,io.kubernetes.pod.namespace=prod", {"198.18.0.2"}),
                endpoint("w1", "app=web,io.kubernetes.pod.namespace=prod", {"198.18.0.3"})};
  const Plan before = compile(ps, eps);
  eps.push_back(
      endpoint("w2", "app=web,io.kubernetes.pod.namespace=prod", {"198.18.0.4", "2001:db8::4"}));
  eps.push_back(endpoint("o1", "team=ops", {"198.18.0.5"}));
  const Plan after = compile(ps, eps);
  const auto& b = *find(before, "db").table;
  const auto& a = *find(after, "db").table;
  EXPECT_EQ(b.chains, a.chains);
  ASSERT_EQ(b.sets.size(), a.sets.size());
  for (size_t i = 0; i < a.sets.size(); ++i) {
    EXPECT_EQ(b.sets[i].name, a.sets[i].name);
    EXPECT_EQ(b.sets[i].family, a.sets[i].family);
    EXPECT_EQ(b.sets[i].interval, a.sets[i].interval);
  }
  EXPECT_NE(b.sets, a.sets);  // the elements did change
}

TEST(Compile, IdenticalRulesAndSetsAreMergedKeepingTheFirstComment) {
  PolicySet ps;
  const auto api = group_subject("api", "app=api");
  ps.isolations.push_back(isolate(Direction::ingress, api, origin("b-pol", at(1, 1, "b.yaml"))));
  ps.rules.push_back(rule(Direction::ingress, api, {group_peer("web", "app=web")},
                          {port(Protocol::tcp, 80)}, origin("b-pol", at(5, 7, "b.yaml"))));
  ps.rules.push_back(rule(Direction::ingress, api, {group_peer("web", "app=web")},
                          {port(Protocol::tcp, 80, 0, at(9, 20, "a.yaml")),
                           port(Protocol::tcp, 443, 0, at(9, 25, "a.yaml"))},
                          origin("a-pol", at(9, 7, "a.yaml"))));
  const Plan plan = compile(ps, {endpoint("api", "app=api", {"198.18.0.2"})});
  const auto& p = find(plan, "api");
  EXPECT_EQ(allow_rules(chain(p, "ingress")),
            (std::vector<NftRule>{
                allow(4, "web_v4", L4::tcp, 80, 80, "a-pol: web -> api 80/tcp (a.yaml:9:7)"),
                allow(6, "web_v6", L4::tcp, 80, 80, "a-pol: web -> api 80/tcp (a.yaml:9:7)"),
                allow(4, "web_v4", L4::tcp, 443, 443, "a-pol: web -> api 443/tcp (a.yaml:9:7)"),
                allow(6, "web_v6", L4::tcp, 443, 443, "a-pol: web -> api 443/tcp (a.yaml:9:7)")}));
  EXPECT_EQ(p.table->sets.size(), 2u);
}

TEST(Compile, RulesAreOrderedByPolicyThenPositionWhateverTheInputOrder) {
  PolicySet ps;
  const auto api = group_subject("api", "app=api");
  ps.isolations.push_back(isolate(Direction::ingress, api, origin("p", at(1, 1))));
  ps.rules.push_back(rule(Direction::ingress, api, {cidr_peer("198.18.3.0/24")},
                          {port(Protocol::tcp, 3)}, origin("zeta", at(1, 7))));
  ps.rules.push_back(rule(Direction::ingress, api, {cidr_peer("198.18.2.0/24")},
                          {port(Protocol::tcp, 2)}, origin("alpha", at(20, 7))));
  ps.rules.push_back(rule(Direction::ingress, api, {cidr_peer("198.18.1.0/24")},
                          {port(Protocol::tcp, 1)}, origin("alpha", at(10, 7))));
  const auto rules =
      allow_rules(chain(find(compile(ps, {endpoint("api", "app=api", {})}), "api"), "ingress"));
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[0].port_first, 1);
  EXPECT_EQ(rules[1].port_first, 2);
  EXPECT_EQ(rules[2].port_first, 3);
}

TEST(Compile, SmallestBandwidthLimitWinsPerDirection) {
  PolicySet ps;
  BandwidthLimit a;
  a.subject = group_subject("batch", "app=batch");
  a.egress = Rate{50'000'000, 62'500, {}};
  a.ingress = Rate{10'000'000, 16'384, {}};
  a.origin = origin("a", at(1, 1));
  BandwidthLimit b;
  b.subject = group_subject("all", "");
  b.egress = Rate{20'000'000, 16'384, {}};
  b.origin = origin("b", at(1, 1));
  ps.limits = {a, b};
  const Endpoints eps{endpoint("job", "app=batch", {}), endpoint("web", "app=web", {})};
  const Plan plan = compile(ps, eps);
  EXPECT_EQ(find(plan, "job").tc.egress, (TcLimit{20'000'000, 16'384}));
  EXPECT_EQ(find(plan, "job").tc.ingress, (TcLimit{10'000'000, 16'384}));
  EXPECT_EQ(find(plan, "web").tc.egress, (TcLimit{20'000'000, 16'384}));
  EXPECT_FALSE(find(plan, "web").tc.ingress.has_value());
  EXPECT_FALSE(find(plan, "web").table.has_value());  // limits alone isolate nothing
  std::swap(ps.limits[0], ps.limits[1]);
  EXPECT_EQ(compile(ps, eps), plan);
}

bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

TEST(Compile, LongCommentsFitNftsLimitKeepingTheSourcePosition) {
  PolicySet ps;
  std::string group = "a";
  for (int i = 0; i < 41; ++i) group += "é";  // 82 bytes of two-byte characters
  const Subject s{sel("app=s"), std::nullopt, "s"};
  ps.isolations.push_back(isolate(Direction::ingress, s, origin("p", at(1, 1))));
  ps.rules.push_back(rule(Direction::ingress, s, {group_peer(group + "\"x", "app=w")},
                          {port(Protocol::tcp, 80)},
                          origin("shop-\"quoted\"", at(123, 45, "policies/shop.yaml"))));
  const auto rules =
      allow_rules(chain(find(compile(ps, {endpoint("s1", "app=s", {})}), "s1"), "ingress"));
  ASSERT_FALSE(rules.empty());
  const std::string& c = rules[0].comment;
  // The body is cut inside an "é" and backs off to the character boundary: 127 bytes, not 128.
  EXPECT_EQ(c.size(), 127u) << c;
  EXPECT_TRUE(valid_utf8(c)) << c;
  EXPECT_EQ(c.find('"'), std::string::npos);
  EXPECT_EQ(c.substr(0, 22), "shop-'quoted': aééé");
  EXPECT_EQ(c.substr(c.size() - 31), "... (policies/shop.yaml:123:45)");
}

TEST(Compile, ShuffledInputCompilesToTheIdenticalPlan) {
  for (uint32_t seed = 1; seed <= 150; ++seed) {
    testing::RandomCase c = testing::RandomPolicyGen(seed).make();
    const Plan want = compile(c.policies, c.endpoints);
    std::mt19937 rng(seed * 7919u);
    PolicySet ps = c.policies;
    Endpoints eps = c.endpoints;
    std::shuffle(ps.policies.begin(), ps.policies.end(), rng);
    std::shuffle(ps.isolations.begin(), ps.isolations.end(), rng);
    std::shuffle(ps.rules.begin(), ps.rules.end(), rng);
    std::shuffle(ps.limits.begin(), ps.limits.end(), rng);
    std::shuffle(ps.namespaces.begin(), ps.namespaces.end(), rng);
    std::shuffle(eps.begin(), eps.end(), rng);
    const Plan got = compile(ps, eps);
    ASSERT_EQ(got, want) << "seed " << seed;
    for (size_t i = 0; i < want.endpoints.size(); ++i) {
      if (want.endpoints[i].table) {
        ASSERT_EQ(render_nft(*got.endpoints[i].table), render_nft(*want.endpoints[i].table));
      }
    }
  }
}

}  // namespace
}  // namespace bulkhead::policy
