// explain(): exact text and JSON for the cases a user asks about, the port and endpoint parsing of
// the command line, and a randomized cross-check against the reference evaluator.
#include "policy/inspect/explain.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "policy/inspect/evaluate.h"
#include "policy/inspect/flow_query.h"
#include "policy/load/load.h"
#include "policy/model/describe.h"
#include "tests/support/policy_builders.h"
#include "tests/support/random_policy.h"

namespace bulkhead::policy {
namespace {

using namespace testing;  // NOLINT: the builders

// The shop example's policy without its comments, so the positions below stay put.
constexpr const char* kShop = R"(apiVersion: bulkhead/v1
kind: Policy
metadata:
  name: shop
spec:
  groups:
    web: {selector: app=web}
    api: {selector: app=api}
    db: {selector: app=db}
    batch:
      selector: {matchLabels: {app: batch}}
      isolate: [ingress]
  allow:
    - from: [{cidr: 198.19.0.0/16, except: [198.19.66.0/24]}]
      to: [web]
      ports: [80/tcp, 443/tcp]
    - from: [web]
      to: [api]
      ports: [8080/tcp]
    - from: [api]
      to: [db]
      ports: [5432/tcp]
    - from: [batch]
      to: [db]
      ports: [5432/tcp]
)";

constexpr const char* kShopInventory = R"(endpoints:
  - {name: shop-web, netns: /run/netns/shop-web, labels: {app: web}, addresses: [198.18.10.2]}
  - name: shop-api
    netns: /run/netns/shop-api
    labels: {app: api}
    addresses: [198.18.10.3, "2001:db8::3"]
    ports: {http: 8080/tcp}
  - {name: shop-db, netns: /run/netns/shop-db, labels: {app: db}, addresses: [198.18.10.4]}
  - {name: shop-batch, netns: /run/netns/shop-batch, labels: {app: batch}, addresses: [198.18.10.5]}
  - {name: shop-outsider, netns: /run/netns/o, labels: {app: outsider}, addresses: [198.18.10.9]}
)";

// Two NetworkPolicies isolate api's ingress; api's ingress rule names a port by name.
constexpr const char* kK8s = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: shop
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: api
  namespace: shop
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: web}}
    ports:
    - port: http
)";

constexpr const char* kK8sInventory = R"(endpoints:
  - name: web
    netns: /run/netns/web
    labels: {app: web, io.kubernetes.pod.namespace: shop}
    addresses: [198.18.20.2]
  - name: api
    netns: /run/netns/api
    labels: {app: api, io.kubernetes.pod.namespace: shop}
    addresses: [198.18.20.3]
    ports: {http: 8080/tcp}
)";

struct Loaded {
  PolicySet set;
  Endpoints endpoints;
};

Loaded load(const char* policy, const char* file, const char* inventory) {
  auto p = load_policy_text(policy, file);
  EXPECT_TRUE(p.diagnostics.empty()) << p.diagnostics.front().message;
  auto i = load_inventory_text(inventory, "inventory.yaml");
  EXPECT_TRUE(i.diagnostics.empty()) << i.diagnostics.front().message;
  return {std::move(p.set), std::move(i.endpoints)};
}

// explain() for command-line words, as `bulkhead explain` does it.
Explanation ask(const Loaded& w, const char* from, const char* to, const char* port,
                int family = 0) {
  auto p = parse_port_query(port);
  EXPECT_TRUE(p.ok()) << p.error().to_string();
  auto q = make_flow_query(w.endpoints, from, to, *p, family);
  EXPECT_TRUE(q.ok()) << q.error().to_string();
  return explain(w.set, *q);
}

TEST(Explain, AllowedShowsIsolationAndRuleOnBothSides) {
  const auto w = load(kShop, "shop.yaml", kShopInventory);
  const auto e = ask(w, "shop-web", "shop-api", "8080/tcp");
  EXPECT_TRUE(e.allowed);
  EXPECT_EQ(format_explanation_text(e),
            "shop-web -> shop-api 8080/tcp: allowed\n"
            "  from shop-web 198.18.10.2\n"
            "  to   shop-api 198.18.10.3\n"
            "egress of shop-web: allowed\n"
            "  isolated by shop.yaml:7:5: Policy shop, group web\n"
            "  allowed by shop.yaml:17:7: Policy shop: to api on 8080/tcp\n"
            "ingress of shop-api: allowed\n"
            "  isolated by shop.yaml:8:5: Policy shop, group api\n"
            "  allowed by shop.yaml:17:7: Policy shop: from web on 8080/tcp\n");
}

TEST(Explain, DeniedNamesTheRulesThatDoNotMatch) {
  const auto w = load(kShop, "shop.yaml", kShopInventory);
  const auto e = ask(w, "shop-outsider", "shop-db", "5432/tcp");
  EXPECT_FALSE(e.allowed);
  EXPECT_EQ(format_explanation_text(e),
            "shop-outsider -> shop-db 5432/tcp: denied\n"
            "  from shop-outsider 198.18.10.9\n"
            "  to   shop-db 198.18.10.4\n"
            "egress of shop-outsider: allowed\n"
            "  not isolated: no enforcing policy isolates its egress\n"
            "ingress of shop-db: denied\n"
            "  isolated by shop.yaml:9:5: Policy shop, group db\n"
            "  no rule allows it\n"
            "  not matching shop.yaml:20:7: Policy shop: from api on 5432/tcp (peer does not "
            "match)\n"
            "  not matching shop.yaml:23:7: Policy shop: from batch on 5432/tcp (peer does not "
            "match)\n");
}

TEST(Explain, WrongPortIsReportedAsPortMismatch) {
  const auto w = load(kShop, "shop.yaml", kShopInventory);
  const auto e = ask(w, "shop-web", "shop-api", "8081/tcp");
  EXPECT_FALSE(e.allowed);
  EXPECT_FALSE(e.egress.allowed);
  EXPECT_FALSE(e.ingress.allowed);
  ASSERT_EQ(e.ingress.rules.size(), 1u);
  EXPECT_TRUE(e.ingress.rules[0].peer_matches);
  EXPECT_FALSE(e.ingress.rules[0].admits);
  EXPECT_NE(format_explanation_text(e).find(
                "  not matching shop.yaml:17:7: Policy shop: from web on 8080/tcp (port does not "
                "match)\n"),
            std::string::npos);
}

TEST(Explain, CidrPeerByAddressAndItsException) {
  const auto w = load(kShop, "shop.yaml", kShopInventory);
  const auto in = ask(w, "198.19.1.1", "shop-web", "443/tcp");
  EXPECT_TRUE(in.allowed);
  EXPECT_EQ(format_explanation_text(in),
            "198.19.1.1 -> shop-web 443/tcp: allowed\n"
            "  from 198.19.1.1 (outside the inventory)\n"
            "  to   shop-web 198.18.10.2\n"
            "egress of 198.19.1.1: allowed (an address outside the inventory: nothing is "
            "enforced there)\n"
            "ingress of shop-web: allowed\n"
            "  isolated by shop.yaml:7:5: Policy shop, group web\n"
            "  allowed by shop.yaml:14:7: Policy shop: from 198.19.0.0/16 except 198.19.66.0/24 "
            "on 443/tcp\n");
  ASSERT_EQ(in.ingress.rules.size(), 1u);
  EXPECT_EQ(in.ingress.rules[0].peer_pos, at(14, 14, "shop.yaml"));
  EXPECT_EQ(in.ingress.rules[0].port_pos, at(16, 23, "shop.yaml"));

  const auto quarantined = ask(w, "198.19.66.7", "shop-web", "443/tcp");
  EXPECT_FALSE(quarantined.allowed);
  EXPECT_TRUE(quarantined.egress.allowed);
  EXPECT_FALSE(quarantined.egress.enforced);
  EXPECT_FALSE(quarantined.ingress.allowed);
}

TEST(Explain, AnEndpointsOwnAddressMeansTheEndpoint) {
  const auto w = load(kShop, "shop.yaml", kShopInventory);
  const auto e = ask(w, "198.18.10.2", "shop-api", "8080/tcp");
  ASSERT_NE(e.query.from.endpoint, nullptr);
  EXPECT_EQ(e.query.from.endpoint->name, "shop-web");
  EXPECT_TRUE(e.allowed);
  EXPECT_TRUE(e.egress.enforced);
}

TEST(Explain, SeveralIsolatingPoliciesAndANamedPort) {
  const auto w = load(kK8s, "np.yaml", kK8sInventory);
  const auto e = ask(w, "web", "api", "8080/tcp");
  EXPECT_FALSE(e.allowed);
  EXPECT_EQ(format_explanation_text(e),
            "web -> api 8080/tcp: denied\n"
            "  from web 198.18.20.2\n"
            "  to   api 198.18.20.3\n"
            "egress of web: denied\n"
            "  isolated by np.yaml:1:1: NetworkPolicy shop/default-deny\n"
            "  no rule allows it\n"
            "ingress of api: allowed\n"
            "  isolated by np.yaml:1:1: NetworkPolicy shop/default-deny\n"
            "  isolated by np.yaml:10:1: NetworkPolicy shop/api\n"
            "  allowed by np.yaml:18:5: NetworkPolicy shop/api: from shop/{app=web} on http/tcp "
            "(8080/tcp)\n");
  // The named port means 8080/tcp on api, nothing else.
  EXPECT_FALSE(ask(w, "web", "api", "8081/tcp").ingress.allowed);
  EXPECT_FALSE(ask(w, "web", "api", "8080/udp").ingress.allowed);
  // Asked by name, the port is resolved against the receiver.
  const auto named = ask(w, "web", "api", "http");
  EXPECT_EQ(named.query.proto, Protocol::tcp);
  EXPECT_EQ(named.query.port, 8080);
}

TEST(Explain, LoopbackIsAlwaysAllowed) {
  const auto w = load(kShop, "shop.yaml", kShopInventory);
  const auto e = ask(w, "shop-db", "shop-db", "9/udp");
  EXPECT_TRUE(e.allowed);
  EXPECT_TRUE(e.loopback);
  EXPECT_EQ(format_explanation_text(e),
            "shop-db -> shop-db 9/udp: allowed\n"
            "  from shop-db 198.18.10.4\n"
            "  to   shop-db 198.18.10.4\n"
            "  loopback: an endpoint reaching itself is always allowed\n");
}

// An audit policy isolating a side no enforcing policy isolates: enforcement allows, the audit
// says it would deny, unless some rule (of either kind) admits the flow.
TEST(Explain, AuditWouldDeny) {
  PolicySet ps;
  const auto db = group_subject("db", "app=db");
  Origin audit = origin("db-lock", at(3, 5, "audit.yaml"));
  audit.audit = true;
  ps.isolations.push_back(isolate(Direction::ingress, db, audit));
  Origin audit_rule = origin("db-lock", at(9, 7, "audit.yaml"));
  audit_rule.audit = true;
  ps.rules.push_back(rule(Direction::ingress, db, {group_peer("api", "app=api", at(9, 15))},
                          {port(Protocol::tcp, 5432, 0, at(11, 16))}, audit_rule));
  const Endpoints eps = {endpoint("api", "app=api", {"198.18.0.3"}),
                         endpoint("db", "app=db", {"198.18.0.4"}),
                         endpoint("web", "app=web", {"198.18.0.2"})};
  auto q = [&](const char* from, uint16_t p) {
    auto port_q = parse_port_query(std::to_string(p) + "/tcp");
    return explain(ps, *make_flow_query(eps, from, "db", *port_q, 0));
  };

  const auto web = q("web", 5432);
  EXPECT_TRUE(web.allowed);
  EXPECT_TRUE(web.would_deny);
  EXPECT_EQ(nlohmann::json::parse(format_explanation_json(web))["would_deny"], true);
  EXPECT_TRUE(web.ingress.would_deny);
  EXPECT_FALSE(web.egress.would_deny);
  EXPECT_EQ(format_explanation_text(web),
            "web -> db 5432/tcp: allowed (audit: would deny)\n"
            "  from web 198.18.0.2\n"
            "  to   db 198.18.0.4\n"
            "egress of web: allowed\n"
            "  not isolated: no enforcing policy isolates its egress\n"
            "ingress of db: allowed\n"
            "  not isolated: no enforcing policy isolates its ingress\n"
            "  audit: would deny (Policy db-lock, audit.yaml:3:5)\n");

  const auto api = q("api", 5432);
  EXPECT_TRUE(api.allowed);
  EXPECT_FALSE(api.ingress.would_deny);
  EXPECT_EQ(format_explanation_text(api),
            "api -> db 5432/tcp: allowed\n"
            "  from api 198.18.0.3\n"
            "  to   db 198.18.0.4\n"
            "egress of api: allowed\n"
            "  not isolated: no enforcing policy isolates its egress\n"
            "ingress of db: allowed\n"
            "  not isolated: no enforcing policy isolates its ingress\n"
            "  audit: isolated by audit.yaml:3:5: Policy db-lock, group db\n"
            "  audit: allowed by audit.yaml:9:7: Policy db-lock: from api on 5432/tcp\n");

  // An enforcing isolation makes the audit entries irrelevant to "would deny": enforcement
  // already denies, and audit rules never open anything.
  ps.isolations.push_back(isolate(Direction::ingress, db, origin("db", at(1, 1, "db.yaml"))));
  const auto enforced = q("api", 5432);
  EXPECT_FALSE(enforced.allowed);
  EXPECT_FALSE(enforced.ingress.would_deny);
}

TEST(Explain, JsonShape) {
  const auto w = load(kShop, "shop.yaml", kShopInventory);
  const auto j =
      nlohmann::json::parse(format_explanation_json(ask(w, "198.19.66.7", "shop-web", "80/tcp")));
  EXPECT_EQ(j["from"]["endpoint"], nullptr);
  EXPECT_EQ(j["from"]["address"], "198.19.66.7");
  EXPECT_EQ(j["to"]["endpoint"], "shop-web");
  EXPECT_EQ(j["to"]["address"], "198.18.10.2");
  EXPECT_EQ(j["protocol"], "tcp");
  EXPECT_EQ(j["port"], 80);
  EXPECT_EQ(j["allowed"], false);
  EXPECT_EQ(j["would_deny"], false);
  EXPECT_EQ(j["loopback"], false);
  EXPECT_EQ(j["egress"]["enforced"], false);
  EXPECT_EQ(j["egress"]["allowed"], true);
  const auto& in = j["ingress"];
  EXPECT_EQ(in["enforced"], true);
  EXPECT_EQ(in["allowed"], false);
  EXPECT_EQ(in["isolated"], true);
  ASSERT_EQ(in["isolated_by"].size(), 1u);
  EXPECT_EQ(in["isolated_by"][0],
            nlohmann::json::parse(R"({"policy": "shop", "kind": "Policy", "group": "web",
                                      "file": "shop.yaml", "line": 7, "column": 5})"));
  EXPECT_TRUE(in["allowed_by"].empty());
  ASSERT_EQ(in["not_matching"].size(), 1u);
  EXPECT_EQ(in["not_matching"][0]["line"], 14);
  EXPECT_EQ(in["not_matching"][0]["rule"],
            "from 198.19.0.0/16 except 198.19.66.0/24 on 80/tcp, 443/tcp");
  EXPECT_EQ(in["not_matching"][0]["mismatch"], "peer");
  EXPECT_EQ(in["audit"]["would_deny"], false);
  EXPECT_TRUE(in["audit"]["isolated_by"].empty());

  const auto ok =
      nlohmann::json::parse(format_explanation_json(ask(w, "shop-web", "shop-api", "8080/tcp")));
  EXPECT_EQ(ok["allowed"], true);
  ASSERT_EQ(ok["egress"]["allowed_by"].size(), 1u);
  EXPECT_EQ(
      ok["egress"]["allowed_by"][0]["peer"],
      nlohmann::json::parse(R"({"text": "api", "file": "shop.yaml", "line": 18, "column": 12})"));
  EXPECT_EQ(ok["egress"]["allowed_by"][0]["port"],
            nlohmann::json::parse(
                R"({"text": "8080/tcp", "file": "shop.yaml", "line": 19, "column": 15})"));

  const auto icmp =
      nlohmann::json::parse(format_explanation_json(ask(w, "shop-web", "shop-api", "icmp")));
  EXPECT_EQ(icmp["protocol"], "icmp");
  EXPECT_EQ(icmp["port"], nullptr);
}

TEST(FlowQuery, Ports) {
  auto p = parse_port_query("8080/tcp");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->proto, Protocol::tcp);
  EXPECT_EQ(p->port, 8080);
  EXPECT_EQ(parse_port_query("53/UDP")->proto, Protocol::udp);
  EXPECT_EQ(parse_port_query("7777/sctp")->proto, Protocol::sctp);
  EXPECT_EQ(parse_port_query("icmp")->proto, Protocol::icmp);
  EXPECT_EQ(parse_port_query("http")->named, "http");
  EXPECT_EQ(parse_port_query("http")->proto, Protocol::any);
  EXPECT_EQ(parse_port_query("http/tcp")->proto, Protocol::tcp);

  EXPECT_EQ(parse_port_query("8080").error().to_string(),
            "--port \"8080\": a port needs its protocol: 8080/tcp, 8080/udp or 8080/sctp");
  EXPECT_EQ(parse_port_query("8080/tpc").error().to_string(),
            "--port \"8080/tpc\": unknown protocol \"tpc\"; expected tcp, udp or sctp (or icmp "
            "alone)");
  EXPECT_EQ(parse_port_query("0/tcp").error().to_string(),
            "--port \"0/tcp\": port 0 is out of range 1-65535");
  EXPECT_EQ(parse_port_query("65536/tcp").error().to_string(),
            "--port \"65536/tcp\": port 65536 is out of range 1-65535");
  EXPECT_EQ(parse_port_query("").error().to_string(),
            "--port \"\": expected PORT/PROTO (8080/tcp, 53/udp, 7777/sctp), icmp, or a named "
            "port of the receiver (http, http/tcp)");
  EXPECT_EQ(parse_port_query("icmp/tcp").error().to_string(),
            "--port \"icmp/tcp\": icmp takes no port or protocol; write --port icmp");
  EXPECT_FALSE(parse_port_query("80-90/tcp").ok());
}

TEST(FlowQuery, EndpointsAndAddresses) {
  const auto w = load(kShop, "shop.yaml", kShopInventory);
  const PortQuery tcp80{Protocol::tcp, 80, ""};
  EXPECT_EQ(make_flow_query(w.endpoints, "shop-wbe", "shop-api", tcp80, 0).error().to_string(),
            "--from: no endpoint named \"shop-wbe\" in the inventory, and it is not an IP "
            "address; did you mean shop-web?");
  EXPECT_EQ(make_flow_query(w.endpoints, "shop-wb", "shop-api", tcp80, 0).error().to_string(),
            "--from: no endpoint named \"shop-wb\" in the inventory, and it is not an IP "
            "address; did you mean shop-db or shop-web?");
  EXPECT_EQ(make_flow_query(w.endpoints, "shop-web", "outsider", tcp80, 0).error().to_string(),
            "--to: no endpoint named \"outsider\" in the inventory, and it is not an IP "
            "address; did you mean shop-outsider?");
  EXPECT_EQ(make_flow_query(w.endpoints, "shop-web", "zzz", tcp80, 0).error().to_string(),
            "--to: no endpoint named \"zzz\" in the inventory, and it is not an IP address "
            "(endpoints: shop-api, shop-batch, shop-db, shop-outsider, shop-web)");
  EXPECT_EQ(make_flow_query(w.endpoints, "198.19.0.1", "198.19.0.2", tcp80, 0).error().to_string(),
            "neither --from nor --to is an inventory endpoint: bulkhead enforces nothing between "
            "two outside addresses");
  EXPECT_EQ(make_flow_query(w.endpoints, "shop-web", "shop-db", {Protocol::any, 0, "http"}, 0)
                .error()
                .to_string(),
            "endpoint shop-db has no named port \"http\" (it has none)");
  EXPECT_EQ(make_flow_query(w.endpoints, "shop-web", "shop-api", {Protocol::udp, 0, "http"}, 0)
                .error()
                .to_string(),
            "endpoint shop-api has no named port \"http/udp\"; it has http (8080/tcp)");
  EXPECT_EQ(make_flow_query(w.endpoints, "shop-web", "2001:db8::9", tcp80, 4).error().to_string(),
            "address 2001:db8::9 is not IPv4 (--family 4)");

  // Families: IPv4 when both ends have one; --family 6 takes the IPv6 address, and an end
  // without one has no address (no CIDR peer can match it).
  auto q = make_flow_query(w.endpoints, "shop-web", "shop-api", tcp80, 0);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->to.addr->to_string(), "198.18.10.3");
  q = make_flow_query(w.endpoints, "shop-web", "shop-api", tcp80, 6);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->to.addr->to_string(), "2001:db8::3");
  EXPECT_FALSE(q->from.addr.has_value());
  q = make_flow_query(w.endpoints, "2001:db8::77", "shop-api", tcp80, 0);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->from.endpoint, nullptr);
  EXPECT_EQ(q->to.addr->to_string(), "2001:db8::3");
}

// explain() and reference_allows() are written independently; on random policies (native and
// Kubernetes, audit and enforcing, CIDR peers, named ports) they must agree on every side of every
// flow, "would deny" included, and explain's reasons must be consistent with its verdict.
struct CrossCheck {
  long flows = 0, allowed = 0, would_deny = 0;
};

void cross_check(const RandomCase& c, uint32_t seed, CrossCheck& stats) {
  struct Probe {
    Protocol proto;
    uint16_t port;
  };
  const Probe probes[] = {{Protocol::tcp, 80}, {Protocol::tcp, 443},  {Protocol::tcp, 8080},
                          {Protocol::udp, 53}, {Protocol::tcp, 9090}, {Protocol::sctp, 7777},
                          {Protocol::icmp, 0}, {Protocol::udp, 8080}};
  std::vector<std::pair<const Endpoint*, IpAddr>> ends;
  for (const auto& e : c.endpoints)
    for (const auto& a : e.addresses) ends.push_back({&e, a});
  for (const auto& a : c.outside) ends.push_back({nullptr, a});
  for (const auto& [from, from_addr] : ends) {
    for (const auto& [to, to_addr] : ends) {
      if ((!from && !to) || from_addr.family != to_addr.family) continue;
      for (const Probe& p : probes) {
        const Flow f{from, to, from_addr, to_addr, p.proto, p.port};
        const Verdict ref = reference_allows(c.policies, c.endpoints, f);
        const Explanation e =
            explain(c.policies, FlowQuery{{from, from_addr}, {to, to_addr}, p.proto, p.port});
        ++stats.flows;
        stats.allowed += e.allowed;
        stats.would_deny += e.egress.would_deny || e.ingress.would_deny;
        // Built only when an assertion fails: gtest evaluates the message lazily.
        auto what = [&, from = from, to = to, &from_addr = from_addr, &to_addr = to_addr] {
          return "seed " + std::to_string(seed) + " " +
                 (from ? from->name : from_addr.to_string()) + " -> " +
                 (to ? to->name : to_addr.to_string()) + " " + flow_port_text(p.proto, p.port) +
                 "\n" + format_explanation_text(e);
        };
        ASSERT_EQ(e.allowed, ref.allowed) << what();
        ASSERT_EQ(e.egress.allowed, ref.egress_allowed) << what();
        ASSERT_EQ(e.ingress.allowed, ref.ingress_allowed) << what();
        ASSERT_EQ(e.egress.would_deny, ref.egress_would_deny) << what();
        ASSERT_EQ(e.ingress.would_deny, ref.ingress_would_deny) << what();
        ASSERT_EQ(e.would_deny, ref.would_deny) << what();
        for (const SideExplanation* s : {&e.egress, &e.ingress}) {
          bool admitted = false;
          for (const auto& r : s->rules) admitted = admitted || r.admits;
          if (!e.loopback) ASSERT_EQ(s->allowed, !s->isolated() || admitted) << what();
          for (const auto& i : s->isolated_by) ASSERT_FALSE(i.origin.audit) << what();
          for (const auto& i : s->audit_isolated_by) ASSERT_TRUE(i.origin.audit) << what();
          if (s->would_deny) ASSERT_FALSE(s->audit_isolated_by.empty()) << what();
        }
      }
    }
  }
}

TEST(Explain, AgreesWithReferenceOnRandomPolicies) {
  CrossCheck with_audit, enforcing_only;
  for (uint32_t seed = 7000; seed < 7250; ++seed) {
    RandomCase c = RandomPolicyGen(seed).make();
    cross_check(c, seed, with_audit);
    if (::testing::Test::HasFatalFailure()) return;
    // The same policies with every entry enforcing.
    for (auto& i : c.policies.isolations) i.origin.audit = false;
    for (auto& r : c.policies.rules) r.origin.audit = false;
    cross_check(c, seed, enforcing_only);
    if (::testing::Test::HasFatalFailure()) return;
  }
  for (const CrossCheck* s : {&with_audit, &enforcing_only}) {
    // Both verdicts must be common, or agreeing says little.
    EXPECT_GT(s->allowed, s->flows / 20);
    EXPECT_LT(s->allowed, s->flows - s->flows / 20);
  }
  EXPECT_GT(with_audit.would_deny, with_audit.flows / 100) << "too few audit cases generated";
  EXPECT_EQ(enforcing_only.would_deny, 0);
}

}  // namespace
}  // namespace bulkhead::policy
