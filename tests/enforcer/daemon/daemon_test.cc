// The daemon's steps and handlers over a FakeDataplane, fake sources and a fake clock: reload
// refusal keeps what is enforced and shows why in status, a restarted daemon recognises its
// tables and applies nothing, --once exit codes, status answered without reading the kernel.
#include "enforcer/daemon/daemon.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "enforcer/sources/cluster/record.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_dataplane.h"
#include "tests/support/fake_source.h"

namespace bulkhead::daemon {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using netlink::FakeDataplane;
using testing::FakeClock;
using testing::FakeSource;
using testing::FakeSourceFactory;
using Json = nlohmann::json;

// web and api, both isolated, and the allow rules in `rules` (lines of the allow list).
std::string policy_text(const std::string& rules) {
  return "apiVersion: bulkhead/v1\nkind: Policy\nmetadata: {name: lock}\nspec:\n"
         "  groups: {web: {selector: app=web}, api: {selector: app=api}}\n  allow:\n" +
         rules;
}
const std::string kPolicy = policy_text("    - {from: [web], to: [api], ports: [8080/tcp]}\n");
// Changes both tables.
const std::string kPolicyMore =
    policy_text("    - {from: [web], to: [api], ports: [8080/tcp, 9090/tcp]}\n");

// Loads, but its plan needs 20,010 rules in a chain: beyond one transaction
// (policy/model/limits.h).
std::string too_large_policy() {
  std::string rules;
  for (int i = 1; i <= 5001; ++i)
    rules += "    - {from: [web], to: [api], ports: [" + std::to_string(4 * i) + "/tcp, " +
             std::to_string(4 * i + 2) + "/tcp]}\n";
  return policy_text(rules);
}
constexpr const char* kTooLarge =
    "endpoint \"api\" would need 20010 rules in its ingress chain; the limit is 10000";

policy::Endpoint endpoint(const std::string& name, const std::string& app, const std::string& ip) {
  policy::Endpoint ep;
  ep.name = name;
  ep.netns = "/run/netns/" + name;
  ep.labels = {{"app", app}};
  ep.addresses = {*policy::IpAddr::parse(ip)};
  return ep;
}

Snapshot lab() {
  Snapshot s;
  s.ready = true;
  s.endpoints = {endpoint("api", "api", "198.18.0.3"), endpoint("web", "web", "198.18.0.2")};
  return s;
}

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spdlog::set_level(spdlog::level::off);
    dir = fs::temp_directory_path() /
          ("bulkhead-daemon-test-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir);
    write_policy(kPolicy);
    opts.policies = {(dir / "policy.yaml").string()};
    opts.status_socket = (dir / "status.sock").string();
  }
  void TearDown() override {
    fs::remove_all(dir);
    spdlog::set_level(spdlog::level::info);
  }

  void write_policy(const std::string& text) { std::ofstream(dir / "policy.yaml") << text; }

  // The long-running daemon's start, without the loop's descriptors.
  std::unique_ptr<Daemon> start(Snapshot snap = lab()) {
    source = factory.add(std::move(snap));
    auto d = std::make_unique<Daemon>(opts, fake, factory, clock);
    EXPECT_EQ(d->build_sources(), std::nullopt);
    EXPECT_EQ(d->load_policies(), std::nullopt);
    EXPECT_EQ(d->start_sources(), std::nullopt);
    d->enforce();
    return d;
  }
  Json status(Daemon& d) { return Json::parse(d.status_document()); }
  static Json endpoint_status(const Json& doc, const std::string& name) {
    for (const auto& e : doc["endpoints"])
      if (e["name"] == name) return e;
    return nullptr;
  }

  fs::path dir;
  Options opts;
  FakeClock clock;
  FakeDataplane fake;
  FakeSourceFactory factory;
  FakeSource* source = nullptr;
};

TEST_F(DaemonTest, EnforcesEveryEndpointOfItsSources) {
  auto d = start();
  EXPECT_EQ(fake.text(),
            "apply api (/run/netns/api): nft replaced\n"
            "apply web (/run/netns/web): nft replaced\n");
  Json doc = status(*d);
  EXPECT_EQ(doc["policy_load"]["ok"], true);
  EXPECT_EQ(doc["policies"][0]["name"], "lock");
  for (const char* name : {"api", "web"}) {
    Json e = endpoint_status(doc, name);
    EXPECT_EQ(e["state"], "enforced") << name;
    EXPECT_EQ(e["groups"], Json::array({name})) << name;
    EXPECT_EQ(e["policies"], Json::array({"lock"})) << name;
    EXPECT_EQ(e["last_apply"], "2026-01-02T03:04:05Z");
  }
  EXPECT_EQ(doc["sources"], Json::parse(R"([{"name": "fake", "ready": true, "error": ""}])"));
  // The digest is of the text the load read.
  EXPECT_EQ(doc["policy_digest"], cluster::policy_digest({kPolicy}));
}

TEST_F(DaemonTest, ASourceChangeAppliesOnlyWhatChanged) {
  auto d = start();
  fake.clear_lines();
  Snapshot more = lab();
  more.endpoints.push_back(endpoint("zed", "web", "198.18.0.4"));
  source->set(more);
  d->sources_changed();
  EXPECT_EQ(d->apply_due(), 0);
  // zed joins web's group: api's peer set grows, zed gets its table.
  EXPECT_EQ(fake.text(),
            "apply api (/run/netns/api): nft elements web_v4 +1 -0\n"
            "apply zed (/run/netns/zed): nft replaced\n");
  fake.clear_lines();
  source->set(lab());
  d->sources_changed();
  d->apply_due();
  EXPECT_EQ(fake.text(),
            "remove /run/netns/zed\nforget /run/netns/zed\n"
            "apply api (/run/netns/api): nft elements web_v4 +0 -1\n");
}

TEST_F(DaemonTest, ABrokenPolicyKeepsThePreviousPlanAndStatusShowsWhy) {
  auto d = start();
  fake.clear_lines();
  const std::string before = cluster::policy_digest({kPolicy});
  clock.advance(5s);
  write_policy(
      "apiVersion: bulkhead/v1\nkind: Policy\nmetadata: {name: lock}\nspec:\n"
      "  groups:\n    web: {selectr: app=web}\n");
  d->reload();
  d->apply_due();
  EXPECT_EQ(fake.text(), "");
  Json doc = status(*d);
  EXPECT_EQ(doc["policy_load"]["ok"], false);
  const std::string error = doc["policy_load"]["error"];
  EXPECT_EQ(error.rfind((dir / "policy.yaml").string() + ":6:", 0), 0u) << error;
  EXPECT_EQ(doc["policy_load"]["since"], "2026-01-02T03:04:10Z");
  EXPECT_EQ(doc["policies"][0]["name"], "lock");  // the set still enforced
  EXPECT_EQ(doc["policy_digest"], before);
  EXPECT_EQ(endpoint_status(doc, "api")["state"], "enforced");
  ASSERT_GE(doc["errors"].size(), 2u);
  EXPECT_EQ(doc["errors"][0], "2026-01-02T03:04:10Z policy not loaded: " + error);
  EXPECT_EQ(doc["errors"].back(),
            "2026-01-02T03:04:10Z reload failed; the running enforcement is kept as it was");

  // Still broken later: the problem keeps the time it began.
  clock.advance(5s);
  d->reload();
  EXPECT_EQ(status(*d)["policy_load"]["since"], "2026-01-02T03:04:10Z");

  // Fixed: loaded, applied, the error gone.
  write_policy(kPolicyMore);
  d->reload();
  d->apply_due();
  EXPECT_EQ(fake.text(),
            "apply api (/run/netns/api): nft replaced\n"
            "apply web (/run/netns/web): nft replaced\n");
  doc = status(*d);
  EXPECT_EQ(doc["policy_load"], Json::parse(R"({"ok": true, "error": "", "since": ""})"));
  EXPECT_EQ(doc["policy_digest"], cluster::policy_digest({kPolicyMore}));
}

TEST_F(DaemonTest, AnEmptyOrDeletedPolicyIsRefusedLikeABrokenOne) {
  auto d = start();
  fake.clear_lines();
  write_policy("# nothing left\n");
  d->reload();
  d->apply_due();
  EXPECT_EQ(fake.text(), "");
  EXPECT_EQ(status(*d)["policy_load"]["error"],
            "no policy in the policy paths (deleted or empty?); refusing to release every "
            "endpoint");
  fs::remove(dir / "policy.yaml");
  d->reload();
  d->apply_due();
  EXPECT_EQ(fake.text(), "");
  const std::string error = status(*d)["policy_load"]["error"];
  EXPECT_NE(error.find("policy.yaml:1:1: cannot read"), std::string::npos) << error;
}

TEST_F(DaemonTest, AReloadWhosePlanIsTooLargeIsRefusedWhole) {
  auto d = start();
  fake.clear_lines();
  write_policy(too_large_policy());
  d->reload();
  d->apply_due();
  EXPECT_EQ(fake.text(), "");
  Json doc = status(*d);
  const std::string error = doc["policy_load"]["error"];
  EXPECT_NE(error.find(kTooLarge), std::string::npos) << error;
  EXPECT_EQ(doc["policy_digest"], cluster::policy_digest({kPolicy}));
}

TEST_F(DaemonTest, ARestartedDaemonRecognisesItsTablesAndAppliesNothing) {
  start().reset();  // the first daemon enforced the lab and went away, its tables stay
  fake.clear_lines();
  auto d = start();
  EXPECT_EQ(fake.text(), "");
  Json doc = status(*d);
  EXPECT_EQ(endpoint_status(doc, "api")["state"], "enforced");
  EXPECT_EQ(endpoint_status(doc, "web")["state"], "enforced");
  // Its counters are unknown until the first resync reads them.
  EXPECT_EQ(endpoint_status(doc, "api")["dropped_packets"], nullptr);
  EXPECT_EQ(endpoint_status(doc, "api")["counters_at"], "");
}

TEST_F(DaemonTest, StatusShowsTheResyncsCountersWithoutReadingTheKernel) {
  auto d = start();
  auto seen = fake.observe("/run/netns/api");
  ASSERT_TRUE(seen.ok());
  auto& ingress = seen->table->chains[0];
  ASSERT_EQ(ingress.rules.back().kind, policy::RuleKind::final_drop);
  ingress.rules.back().packets = 5;
  int allows = 0;
  for (auto& r : ingress.rules) {
    if (r.kind == policy::RuleKind::allow) r.packets = ++allows;
    if (r.kind == policy::RuleKind::ct_invalid_drop) r.packets = 2;
  }
  fake.set_observed("/run/netns/api", *seen);
  clock.advance(30s);
  d->resync();
  clock.advance(3s);
  const size_t readings = fake.observations();
  Json e = endpoint_status(status(*d), "api");
  EXPECT_EQ(fake.observations(), readings);
  EXPECT_EQ(e["dropped_packets"], 5);
  ASSERT_GE(allows, 1);
  EXPECT_EQ(e["allowed_packets"], allows * (allows + 1) / 2);
  EXPECT_EQ(e["would_deny_packets"], 0);
  EXPECT_EQ(e["invalid_packets"], 2) << "ct state invalid drops are counted apart";
  EXPECT_EQ(e["counters_at"], "2026-01-02T03:04:35.000Z");
  bool drop_listed = false;
  for (const auto& r : e["rules"])
    drop_listed = drop_listed || (r["chain"] == "ingress" && r["packets"] == 5);
  EXPECT_TRUE(drop_listed) << e["rules"].dump();
}

TEST_F(DaemonTest, DriftFoundByTheResyncIsRepaired) {
  auto d = start();
  fake.clear_lines();
  auto seen = fake.observe("/run/netns/web");
  ASSERT_TRUE(seen.ok());
  seen->table->chains[1].rules.pop_back();
  fake.set_observed("/run/netns/web", *seen);
  d->resync();
  EXPECT_EQ(endpoint_status(status(*d), "web")["state"], "pending");
  d->apply_due();
  EXPECT_EQ(fake.text(), "apply web (/run/netns/web): nft replaced\n");
}

TEST_F(DaemonTest, AFailedApplyIsRetriedOnTheClock) {
  fake.fail_next("/run/netns/web", make_error("nft transaction", "injected"));
  auto d = start();
  Json e = endpoint_status(status(*d), "web");
  EXPECT_EQ(e["state"], "failed");
  EXPECT_EQ(e["error"], "nft transaction: injected");
  fake.clear_lines();
  clock.advance(249ms);
  EXPECT_EQ(d->apply_due(), 0);
  EXPECT_EQ(fake.text(), "");
  clock.advance(1ms);
  EXPECT_EQ(d->apply_due(), 0);
  EXPECT_EQ(fake.text(), "apply web (/run/netns/web): nft replaced\n");
  EXPECT_EQ(endpoint_status(status(*d), "web")["state"], "enforced");
}

class OnceTest : public DaemonTest {
 protected:
  int run_once(Snapshot snap = lab()) {
    opts.once = true;
    source = factory.add(std::move(snap));
    Daemon d(opts, fake, factory, clock);
    ::testing::internal::CaptureStderr();
    const int rc = d.run();
    err = ::testing::internal::GetCapturedStderr();
    return rc;
  }
  std::string err;
};

TEST_F(OnceTest, ExitsZeroWhenEveryEndpointIsEnforced) {
  EXPECT_EQ(run_once(), 0);
  EXPECT_EQ(err, "");
  EXPECT_EQ(fake.text(),
            "apply api (/run/netns/api): nft replaced\n"
            "apply web (/run/netns/web): nft replaced\n");
}

TEST_F(OnceTest, ExitsOneNamingEachEndpointNotEnforced) {
  fake.fail_next("/run/netns/web", make_error("open netns /run/netns/web", "cannot open", ENOENT));
  EXPECT_EQ(run_once(), 1);
  EXPECT_EQ(err,
            "bulkheadd: endpoint web (/run/netns/web) not enforced: open netns /run/netns/web: "
            "cannot open: No such file or directory\n");
}

TEST_F(OnceTest, ExitsOneWhenASourceNeverDeliversItsList) {
  const auto t0 = clock.now();
  EXPECT_EQ(run_once(Snapshot{}), 1);
  EXPECT_EQ(err, "bulkheadd: a source never delivered its first list; nothing was changed\n");
  EXPECT_EQ(fake.text(), "");
  EXPECT_EQ(clock.now() - t0, 30s);  // the bounded wait, on the injected clock
}

TEST_F(OnceTest, ExitsTwoWithoutChangesWhenThePoliciesDoNotLoad) {
  write_policy("kind: [\n");
  EXPECT_EQ(run_once(), 2);
  EXPECT_EQ(err, "bulkheadd: the policies did not load; nothing was changed\n");
  EXPECT_EQ(fake.text(), "");
}

TEST_F(OnceTest, ExitsTwoWhenASourceCannotStartOrBeMade) {
  factory.add(lab())->fail_start(make_error("inventory:x", "the inventory did not load"));
  EXPECT_EQ(run_once(), 2);
  EXPECT_EQ(err, "bulkheadd: inventory:x: the inventory did not load; nothing was changed\n");
  EXPECT_EQ(fake.text(), "");
}

TEST_F(OnceTest, ExitsOneWhenThePlanIsTooLarge) {
  write_policy(too_large_policy());
  EXPECT_EQ(run_once(), 1);
  EXPECT_NE(err.find(kTooLarge), std::string::npos) << err;
  EXPECT_NE(err.find("; nothing was changed\n"), std::string::npos) << err;
  EXPECT_EQ(fake.text(), "");
}

// --layers netns,host: after the endpoints, the host namespace gets the host plan of the same
// desired plans; status shows each endpoint's layers; a failed host apply keeps the layer dirty
// and is retried at the next round, and a departed endpoint leaves the host plan.
TEST_F(DaemonTest, HostLayerFollowsTheEndpointsAndRetriesAFailure) {
  opts.host_layer = true;
  opts.host_netns = "/run/netns/sw";
  fake.set_host_ports("/run/netns/api", {{"veth-api"}, {}});
  fake.set_host_ports("/run/netns/web", {{}, {"eth0: host end veth-web is not a bridge port"}});
  auto d = start();
  EXPECT_EQ(fake.text(),
            "apply api (/run/netns/api): nft replaced\n"
            "apply web (/run/netns/web): nft replaced\n"
            "apply host /run/netns/sw: endpoints api; policy 5 chains; antispoof 1 ports\n");
  Json doc = status(*d);
  const Json host = endpoint_status(doc, "api")["layers"]["host"];
  EXPECT_EQ(host["enabled"], true);
  EXPECT_EQ(host["enforced"], true);
  EXPECT_EQ(host["detail"], "");
  EXPECT_EQ(host["dropped_packets"], nullptr) << "no reading yet";

  // The resync reads the host tables' drops; status shows them per endpoint.
  const std::string id = policy::host_id("api");
  fake.set_host_drops(
      {{id + "-egress", {3, 1}}, {id + "-ingress", {4, 0}}, {id + "-spoof", {2, 0}}});
  clock.advance(30s);
  d->resync();
  const Json counted = endpoint_status(status(*d), "api")["layers"]["host"];
  EXPECT_EQ(counted["dropped_packets"], 7);
  EXPECT_EQ(counted["invalid_packets"], 1);
  EXPECT_EQ(counted["spoofed_packets"], 2);
  EXPECT_EQ(endpoint_status(doc, "web")["layers"]["host"]["enforced"], false);
  EXPECT_EQ(endpoint_status(doc, "web")["layers"]["host"]["detail"],
            "eth0: host end veth-web is not a bridge port");

  // The web endpoint leaves; the host apply fails once, the previous tables stay, and the next
  // round applies it.
  fake.clear_lines();
  fake.fail_next("/run/netns/sw", make_error("nft transaction", "injected"));
  Snapshot only_api = lab();
  only_api.endpoints.pop_back();
  source->set(only_api);
  d->sources_changed();
  d->apply_due();
  EXPECT_EQ(fake.text(),
            "remove /run/netns/web\n"
            "forget /run/netns/web\n"
            "apply api (/run/netns/api): nft elements web_v4 +0 -1\n"
            "error apply host /run/netns/sw: nft transaction: injected\n");
  const Json api = endpoint_status(status(*d), "api")["layers"]["host"];
  EXPECT_EQ(api["enforced"], true) << "the previous tables, which cover api, stay";
  EXPECT_NE(api["detail"].get<std::string>().find("the last host apply failed"), std::string::npos);
  fake.clear_lines();
  d->apply_due();
  EXPECT_EQ(fake.text(),
            "apply host /run/netns/sw: endpoints api; policy 5 chains; antispoof 1 ports\n");
  fake.clear_lines();
  d->apply_due();
  EXPECT_EQ(fake.text(), "") << "a clean host layer is applied again";
}

TEST_F(DaemonTest, WithoutTheHostLayerStatusSaysSo) {
  auto d = start();
  EXPECT_EQ(fake.text().find("apply host"), std::string::npos);
  EXPECT_EQ(endpoint_status(status(*d), "api")["layers"]["host"], (Json{{"enabled", false}}));
}

}  // namespace
}  // namespace bulkhead::daemon
