// The daemon's answer to a hook over fakes (engine list, namespaces, dataplane, clock): an
// endpoint resolved without an inspect is applied before the answer; unselected answered at once;
// refusals say why; the source's later view of the same container re-applies nothing; a
// quarantine table found before the first apply is marked in status.
#include "enforcer/daemon/start_gate.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "enforcer/daemon/daemon.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_dataplane.h"
#include "tests/support/fake_source.h"

namespace bulkhead::daemon {
namespace {

namespace fs = std::filesystem;
using hook::HookAnswer;
using hook::HookRequest;
using hook::Verdict;
using netlink::FakeDataplane;
using testing::FakeClock;
using testing::FakeSource;
using testing::FakeSourceFactory;
using Json = nlohmann::json;

const char* kPolicy =
    "apiVersion: bulkhead/v1\nkind: Policy\nmetadata: {name: lock}\nspec:\n"
    "  groups: {web: {selector: app=web}, api: {selector: app=api}}\n  allow:\n"
    "    - {from: [web], to: [api], ports: [8080/tcp]}\n";

class FakeLookup final : public ContainerLookup {
 public:
  Result<std::map<std::string, ListedContainer>> listed(
      const std::vector<std::string>& ids) override {
    ++lists;
    if (list_error) return make_error("list containers " + ids.front(), *list_error);
    std::map<std::string, ListedContainer> found;
    for (const auto& id : ids)
      if (auto it = containers.find(id); it != containers.end()) found[id] = it->second;
    return found;
  }
  Result<NamespaceView> namespace_of(int64_t pid) override {
    auto it = namespaces.find(pid);
    if (it == namespaces.end())
      return make_error("open /proc/" + std::to_string(pid) + "/ns/net", "cannot open", ENOENT);
    return it->second;
  }
  uint64_t netns_inode(const std::string& path) override {
    int64_t pid = 0;
    if (std::sscanf(path.c_str(), "/proc/%ld/ns/net", &pid) != 1) return 0;
    auto it = namespaces.find(pid);
    return it == namespaces.end() ? 0 : it->second.inode;
  }

  std::map<std::string, ListedContainer> containers;
  std::map<int64_t, NamespaceView> namespaces;
  std::optional<std::string> list_error;
  int lists = 0;
};

policy::Endpoint endpoint(const std::string& name, const std::string& app, const std::string& ip,
                          int pid) {
  policy::Endpoint ep;
  ep.name = name;
  ep.netns = "/proc/" + std::to_string(pid) + "/ns/net";
  ep.labels = {{"app", app}};
  ep.addresses = {*policy::IpAddr::parse(ip)};
  return ep;
}

class StartGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spdlog::set_level(spdlog::level::off);
    dir = fs::temp_directory_path() /
          ("bulkhead-gate-test-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir);
    std::ofstream(dir / "policy.yaml") << kPolicy;
    opts.policies = {(dir / "policy.yaml").string()};
    opts.status_socket = (dir / "status.sock").string();
    opts.hook_socket.clear();  // the handlers are driven directly
    // api runs already; web and a batch job start through the hook.
    lookup->containers["idweb"] = {"idweb", "web", {{"app", "web"}}, {}};
    lookup->containers["idjob"] = {"idjob", "job", {{"app", "batch"}}, {}};
    lookup->namespaces[100] = {1001, false, {*policy::IpAddr::parse("198.18.0.3")}};
    lookup->namespaces[200] = {2002, false, {*policy::IpAddr::parse("198.18.0.2")}};
    lookup->namespaces[300] = {3003, false, {*policy::IpAddr::parse("198.18.0.9")}};
    lookup->namespaces[1] = {4026531840, true, {}};
  }
  void TearDown() override {
    fs::remove_all(dir);
    spdlog::set_level(spdlog::level::info);
  }

  std::unique_ptr<Daemon> start() {
    Snapshot snap;
    snap.ready = true;
    snap.endpoints = {endpoint("api", "api", "198.18.0.3", 100)};
    source = factory.add(snap);
    auto d = std::make_unique<Daemon>(opts, fake, factory, clock);
    d->set_container_lookup(std::move(owned));
    EXPECT_EQ(d->build_sources(), std::nullopt);
    EXPECT_EQ(d->load_policies(), std::nullopt);
    EXPECT_EQ(d->start_sources(), std::nullopt);
    d->start_watchers();
    d->enforce();
    fake.clear_lines();
    return d;
  }
  static Json endpoint_status(Daemon& d, const std::string& name) {
    const Json doc = Json::parse(d.status_document());
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
  std::unique_ptr<FakeLookup> owned = std::make_unique<FakeLookup>();
  FakeLookup* lookup = owned.get();
};

TEST_F(StartGateTest, SelectedContainerIsAppliedBeforeTheAnswer) {
  auto d = start();
  HookAnswer a = d->answer_hook({"idweb", 200, "docker"});
  EXPECT_EQ(a, (HookAnswer{Verdict::kEnforced, ""}));
  // The starting container's own table first, then the peer's set, both before the answer.
  EXPECT_EQ(lookup->lists, 1);
  EXPECT_EQ(fake.text(),
            "apply web (/proc/200/ns/net): nft replaced\n"
            "apply api (/proc/100/ns/net): nft elements web_v4 +1 -0\n");
  EXPECT_EQ(d->apply_due(), 0);
  EXPECT_EQ(fake.text(),
            "apply web (/proc/200/ns/net): nft replaced\n"
            "apply api (/proc/100/ns/net): nft elements web_v4 +1 -0\n");
  Json web = endpoint_status(*d, "web");
  EXPECT_EQ(web["state"], "enforced");
  EXPECT_EQ(web["enforced_at"], "start");
  EXPECT_EQ(web["started_quarantined"], false);
  EXPECT_EQ(endpoint_status(*d, "api")["enforced_at"], "after");
}

TEST_F(StartGateTest, ABatchIsOneListOneCompileOwnTablesThenOnePeerUpdate) {
  lookup->containers["idweb2"] = {"idweb2", "web2", {{"app", "web"}}, {}};
  lookup->namespaces[400] = {4004, false, {*policy::IpAddr::parse("198.18.0.4")}};
  auto d = start();
  auto answers = d->answer_hooks({{"idweb", 200, "docker"},
                                  {"idjob", 300, "docker"},
                                  {"idweb2", 400, "docker"},
                                  {"idhost", 1, "docker"}});
  ASSERT_EQ(answers.size(), 4u);
  EXPECT_EQ(answers[0], (HookAnswer{Verdict::kEnforced, ""}));
  EXPECT_EQ(answers[1], (HookAnswer{Verdict::kUnselected, ""}));
  EXPECT_EQ(answers[2], (HookAnswer{Verdict::kEnforced, ""}));
  EXPECT_EQ(answers[3].verdict, Verdict::kUnselected);  // the host's namespace
  EXPECT_EQ(lookup->lists, 1);
  EXPECT_EQ(fake.text(),
            "apply web (/proc/200/ns/net): nft replaced\n"
            "apply web2 (/proc/400/ns/net): nft replaced\n"
            "apply api (/proc/100/ns/net): nft elements web_v4 +2 -0\n");
}

TEST_F(StartGateTest, AContainerJoiningAnEndpointsNamespaceIsMergedIntoThatEndpoint) {
  // "plain" runs unselected; "side" starts with --network container:plain and app=web.
  lookup->namespaces[500] = {5005, false, {*policy::IpAddr::parse("198.18.0.5")}};
  lookup->namespaces[600] = {5005, false, {*policy::IpAddr::parse("198.18.0.5")}};
  lookup->containers["idside"] = {"idside", "side", {{"app", "web"}}, {}};
  policy::Endpoint plain = endpoint("plain", "-", "198.18.0.5", 500);
  plain.labels = {{"team", "x"}};
  Snapshot snap;
  snap.ready = true;
  snap.endpoints = {endpoint("api", "api", "198.18.0.3", 100), plain};
  auto d = start();
  source->set(snap);
  d->sources_changed();
  d->apply_due();
  fake.clear_lines();
  // The namespace's endpoint takes the member's labels: selected as web now, applied, and its
  // address reaches web's peer, before the answer. No second endpoint on the same namespace.
  EXPECT_EQ(d->answer_hook({"idside", 600, "docker"}), (HookAnswer{Verdict::kEnforced, ""}));
  EXPECT_EQ(fake.text(),
            "apply plain (/proc/500/ns/net): nft replaced\n"
            "apply api (/proc/100/ns/net): nft elements web_v4 +1 -0\n");
  EXPECT_EQ(endpoint_status(*d, "side"), nullptr);
  EXPECT_EQ(endpoint_status(*d, "plain")["enforced_at"], "start");
  // The source's view of the same merge (docker/endpoints.cc) changes nothing.
  plain.labels = {{"team", "x"}, {"app", "web"}, {"bulkhead.io/members", "side"}};
  snap.endpoints = {endpoint("api", "api", "198.18.0.3", 100), plain};
  source->set(snap);
  fake.clear_lines();
  d->sources_changed();
  EXPECT_EQ(d->apply_due(), 0);
  EXPECT_EQ(fake.text(), "");
}

TEST_F(StartGateTest, AnEntryHidingALabelNoSelectorReadsIsEnforced) {
  // Podman's create event: `name` and the rest are Podman's own there, not the labels.
  lookup->containers["idweb"].hidden = {"containerExitCode", "image", "name", "podId"};
  auto d = start();
  EXPECT_EQ(d->answer_hook({"idweb", 200, "podman"}), (HookAnswer{Verdict::kEnforced, ""}));
}

TEST_F(StartGateTest, AnEntryHidingALabelASelectorReadsIsRefused) {
  // web's selector reads `image` now: an entry that hides it cannot be decided.
  std::ofstream(dir / "policy.yaml")
      << "apiVersion: bulkhead/v1\nkind: Policy\nmetadata: {name: lock}\nspec:\n"
         "  groups: {web: {selector: 'app=web,image!=legacy'}, api: {selector: app=api}}\n"
         "  allow:\n    - {from: [web], to: [api], ports: [8080/tcp]}\n";
  lookup->containers["idweb"].hidden = {"containerExitCode", "image", "name", "podId"};
  auto d = start();
  EXPECT_EQ(d->answer_hook({"idweb", 200, "podman"}),
            (HookAnswer{Verdict::kRefused,
                        "the engine's create event hides label image, which a selector reads"}));
  EXPECT_EQ(fake.text(), "");
}

TEST_F(StartGateTest, AHookAskingAgainIsNotAMemberOfItsOwnEndpoint) {
  auto d = start();
  ASSERT_EQ(d->answer_hook({"idweb", 200, "docker"}).verdict, Verdict::kEnforced);
  fake.clear_lines();
  // Its namespace is its own endpoint's now: that must not make it a member of itself (which
  // would drop the endpoint it holds, and its table with it).
  EXPECT_EQ(d->answer_hook({"idweb", 200, "docker"}), (HookAnswer{Verdict::kEnforced, ""}));
  d->sources_changed();
  EXPECT_EQ(d->apply_due(), 0);
  EXPECT_EQ(fake.text(), "");
  EXPECT_EQ(endpoint_status(*d, "web")["state"], "enforced");
}

TEST_F(StartGateTest, TheSourcesLaterViewReappliesNothing) {
  auto d = start();
  ASSERT_EQ(d->answer_hook({"idweb", 200, "docker"}).verdict, Verdict::kEnforced);
  d->apply_due();
  fake.clear_lines();
  // The events path lists and inspects the same container: same name, namespace and addresses.
  Snapshot snap;
  snap.ready = true;
  snap.endpoints = {endpoint("api", "api", "198.18.0.3", 100),
                    endpoint("web", "web", "198.18.0.2", 200)};
  source->set(snap);
  d->sources_changed();
  EXPECT_EQ(d->apply_due(), 0);
  EXPECT_EQ(fake.text(), "");
  EXPECT_EQ(endpoint_status(*d, "web")["enforced_at"], "start");
}

TEST_F(StartGateTest, UnselectedContainerIsAnsweredAtOnce) {
  auto d = start();
  EXPECT_EQ(d->answer_hook({"idjob", 300, "docker"}), (HookAnswer{Verdict::kUnselected, ""}));
  EXPECT_EQ(fake.text(), "");
}

TEST_F(StartGateTest, HostNamespaceIsNeverProgrammed) {
  auto d = start();
  lookup->containers["idhost"] = {"idhost", "hostnet", {{"app", "web"}}, {}};
  EXPECT_EQ(d->answer_hook({"idhost", 1, "docker"}),
            (HookAnswer{Verdict::kUnselected,
                        "shares the host's network namespace: cannot be segmented there"}));
  EXPECT_EQ(lookup->lists, 0);
  d->apply_due();
  EXPECT_EQ(fake.text(), "");
}

TEST_F(StartGateTest, RefusalsSayWhy) {
  auto d = start();
  EXPECT_EQ(d->answer_hook({"idweb", 999, "docker"}),
            (HookAnswer{Verdict::kRefused,
                        "namespace of pid 999 not readable: open /proc/999/ns/net: cannot open: No "
                        "such file or directory"}));
  EXPECT_EQ(d->answer_hook({"idnone", 200, "docker"}),
            (HookAnswer{Verdict::kRefused, "container idnone is not in the engine's list"}));
  lookup->list_error = "connect: timed out";
  EXPECT_EQ(d->answer_hook({"idweb", 200, "docker"}),
            (HookAnswer{Verdict::kRefused, "list containers idweb: connect: timed out"}));
  fake.fail_next("/proc/200/ns/net", make_error("nft commit", "injected", EPERM));
  lookup->list_error.reset();
  HookAnswer a = d->answer_hook({"idweb", 200, "docker"});
  EXPECT_EQ(a.verdict, Verdict::kRefused);
  EXPECT_EQ(a.reason.rfind("apply failed: ", 0), 0u) << a.reason;
}

TEST_F(StartGateTest, RefusedUntilTheSourcesAreSynced) {
  Snapshot snap;  // not ready: no first full list yet
  source = factory.add(snap);
  Daemon d(opts, fake, factory, clock);
  d.set_container_lookup(std::move(owned));
  ASSERT_EQ(d.build_sources(), std::nullopt);
  ASSERT_EQ(d.load_policies(), std::nullopt);
  ASSERT_EQ(d.start_sources(), std::nullopt);
  EXPECT_EQ(d.answer_hook({"idweb", 200, "docker"}),
            (HookAnswer{Verdict::kRefused, "not yet synced with its sources"}));
}

TEST_F(StartGateTest, AContainerGoneBeforeASourceListedItIsDropped) {
  auto d = start();
  ASSERT_EQ(d->answer_hook({"idweb", 200, "docker"}).verdict, Verdict::kEnforced);
  d->apply_due();
  fake.clear_lines();
  lookup->namespaces.erase(200);  // its start failed; the process is gone
  d->sources_changed();
  d->apply_due();
  EXPECT_EQ(fake.text(),
            "remove /proc/200/ns/net\n"
            "forget /proc/200/ns/net\n"
            "apply api (/proc/100/ns/net): nft elements web_v4 +0 -1\n");
}

TEST_F(StartGateTest, QuarantineTableFoundBeforeTheFirstApplyIsMarked) {
  auto d = start();
  // The hook quarantined web while the daemon was away; the events path learns it now.
  policy::NftTable quarantine;
  policy::NftChain chain;
  chain.name = "ingress";
  policy::NftRule drop;
  drop.kind = policy::RuleKind::final_drop;
  drop.comment = kQuarantineComment;
  chain.rules.push_back(drop);
  quarantine.chains.push_back(chain);
  netlink::Observed seen;
  seen.table = quarantine;
  fake.set_observed("/proc/200/ns/net", seen);
  Snapshot snap;
  snap.ready = true;
  snap.endpoints = {endpoint("api", "api", "198.18.0.3", 100),
                    endpoint("web", "web", "198.18.0.2", 200)};
  source->set(snap);
  d->sources_changed();
  d->apply_due();
  Json web = endpoint_status(*d, "web");
  EXPECT_EQ(web["state"], "enforced");
  EXPECT_EQ(web["enforced_at"], "after");
  EXPECT_EQ(web["started_quarantined"], true);
  EXPECT_EQ(endpoint_status(*d, "api")["started_quarantined"], false);
}

TEST(StartGateList, FiltersTheEnginesListById) {
  EXPECT_EQ(list_target({"abc.1"}),
            "/v1.40/containers/json?all=1&filters=%7B%22id%22%3A%5B%22abc.1%22%5D%7D");
  EXPECT_EQ(list_target({"abc.1", "d-2"}),
            "/v1.40/containers/json?all=1&filters=%7B%22id%22%3A%5B%22abc.1%22%2C%22d-2%22%5D%7D");
}

}  // namespace
}  // namespace bulkhead::daemon
