// The Engine API's JSON into containers and endpoints, on responses captured from a real engine
// (tests/data/docker/, made with scripts/docker-test-engine.sh), and on hostile input.
#include "enforcer/sources/docker/json.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "enforcer/sources/docker/endpoints.h"

namespace bulkhead::daemon::docker {
namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(BULKHEAD_SOURCE_DIR) + "/tests/data/docker/" + name);
  EXPECT_TRUE(in) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ContainerInfo inspect(const std::string& name) {
  auto r = parse_container_inspect(fixture("docker-inspect-" + name + ".json"));
  EXPECT_TRUE(r.ok()) << name << ": " << (r.ok() ? "" : r.error().to_string());
  return r.ok() ? *r : ContainerInfo{};
}

policy::IpAddr ip(const char* text) { return *policy::IpAddr::parse(text); }

const policy::Endpoint* find(const EndpointView& v, const std::string& name) {
  for (const auto& ep : v.endpoints) {
    if (ep.name == name) return &ep;
  }
  return nullptr;
}

TEST(DockerJson, ParsesTheContainerList) {
  auto list = parse_container_list(fixture("docker-list.json"));
  ASSERT_TRUE(list.ok()) << list.error().to_string();
  std::vector<std::string> names;
  for (const auto& c : *list) {
    EXPECT_EQ(c.id.size(), 64u);
    EXPECT_EQ(c.state, "running");
    names.push_back(c.name);
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names,
            (std::vector<std::string>{"caps", "dflt", "dual", "hostnet", "nonet", "side", "web"}));
}

TEST(DockerJson, ParsesAnInspectedContainer) {
  ContainerInfo web = inspect("web");
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.id.substr(0, 12), "0d53c85af68f");
  EXPECT_EQ(web.labels, (policy::Labels{{"app", "web"}, {"tier", "front"}}));
  EXPECT_TRUE(web.running);
  EXPECT_GT(web.pid, 0);
  EXPECT_EQ(web.network_mode, "bhnet");
  EXPECT_EQ(web.addresses, std::vector<policy::IpAddr>{ip("198.19.0.2")});
  EXPECT_FALSE(web.privileged);
  EXPECT_FALSE(web.net_admin);
}

TEST(DockerJson, ReadsNetworkModesPrivilegeAndCapabilities) {
  ContainerInfo side = inspect("side");
  EXPECT_EQ(side.network_mode, "container:" + inspect("web").id);
  EXPECT_TRUE(side.net_admin);  // --cap-add NET_ADMIN, stored as CAP_NET_ADMIN
  EXPECT_TRUE(side.addresses.empty());

  EXPECT_TRUE(inspect("caps").net_admin);
  EXPECT_EQ(inspect("hostnet").network_mode, "host");
  EXPECT_EQ(inspect("nonet").network_mode, "none");
  EXPECT_TRUE(inspect("nonet").addresses.empty());

  ContainerInfo priv = inspect("priv");  // created, never started
  EXPECT_TRUE(priv.privileged);
  EXPECT_FALSE(priv.running);
  EXPECT_EQ(priv.pid, 0);
}

TEST(DockerJson, CollectsEveryNetworksAddressesSorted) {
  EXPECT_EQ(
      inspect("dual").addresses,
      (std::vector<policy::IpAddr>{ip("198.19.0.4"), ip("198.19.5.2"), ip("2001:db8:19::2")}));
}

TEST(DockerJson, ParsesTheEventStream) {
  std::istringstream lines(fixture("docker-events.jsonl"));
  std::string line;
  std::vector<std::string> seen;
  while (std::getline(lines, line)) {
    auto e = parse_event(line);
    ASSERT_TRUE(e.ok()) << e.error().to_string() << "\n" << line;
    EXPECT_GT(e->time_nano, 1'500'000'000'000'000'000);
    seen.push_back(e->type + " " + e->action);
    if (e->type == "network") {
      EXPECT_EQ(e->container_id.substr(0, 12), "7bf5e113713c");
      EXPECT_TRUE(event_matters(*e));
    } else {
      EXPECT_EQ(e->actor_id.substr(0, 12), "7bf5e113713c");
    }
  }
  ASSERT_GE(seen.size(), 10u);
  EXPECT_EQ(seen.front(), "container create");
  EXPECT_EQ(seen[1], "network connect");  // before the start: the window to close early
  EXPECT_EQ(seen[2], "container start");
  EXPECT_EQ(seen.back(), "container destroy");
  EXPECT_NE(std::find(seen.begin(), seen.end(), "container rename"), seen.end());
}

TEST(DockerJson, EventsThatChangeNoEndpointAreIgnored) {
  Event exec{"container", "exec_start: sh -c true", "abc", "", 1};
  EXPECT_FALSE(event_matters(exec));
  Event health{"container", "health_status: healthy", "abc", "", 1};
  EXPECT_FALSE(event_matters(health));
  Event image{"image", "pull", "busybox", "", 1};
  EXPECT_FALSE(event_matters(image));
  Event start{"container", "start", "abc", "", 1};
  EXPECT_TRUE(event_matters(start));
  Event podman_remove{"container", "remove", "abc", "", 1};
  EXPECT_TRUE(event_matters(podman_remove));
}

TEST(DockerJson, ReadsTheEnginesErrorMessage) {
  EXPECT_EQ(parse_error_message(fixture("docker-inspect-404.json")), "No such container: nosuch");
  EXPECT_EQ(parse_error_message("page not found\n"), "page not found");
  EXPECT_EQ(parse_error_message(std::string(10000, 'x')).size(), 200u);
}

TEST(DockerJson, HostileInputIsAnErrorNeverACrash) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::vector<std::string> bad_inspect = {
      "",
      "null",
      "[]",
      "{}",
      deep,
      R"({"Id": 5, "Name": "/x"})",
      R"({"Id": "a", "Name": ""})",
      R"({"Id": "a", "Name": "/x", "State": {"Pid": -1}})",
      R"({"Id": "a", "Name": "/x", "State": {"Pid": 1e30}})",
      R"({"Id": "a", "Name": "/x", "State": {"Pid": 99999999999999999999}})",
      R"({"Id": "a", "Name": "/x", "State": {"Pid": 4194305}})",
      R"({"Id": "a", "Name": "/x", "State": {"Pid": "12"}})",
      R"({"Id": "a", "Name": "/x", "State": []})",
      R"({"Id": "a", "Name": "/x", "Config": {"Labels": {"a": 1}}})",
      R"({"Id": "a", "Name": "/x", "Config": {"Labels": ["a"]}})",
      R"({"Id": "a", "Name": "/x", "HostConfig": {"CapAdd": "NET_ADMIN"}})",
      R"({"Id": "a", "Name": "/x", "HostConfig": {"Privileged": "yes"}})",
      R"({"Id": "a", "Name": "/x", "NetworkSettings": {"Networks": []}})",
      R"({"Id": "a", "Name": "/x", "NetworkSettings": {"Networks": {"n": 3}}})",
      R"({"Id": "a", "Name": "/x", "NetworkSettings": {"Networks": {"n": {"IPAddress": "999.1.1.1"}}}})",
      "{\"Id\": \"a\", \"Name\": \"/\xff\xfe\"}",
  };
  for (const auto& text : bad_inspect) {
    auto r = parse_container_inspect(text);
    EXPECT_FALSE(r.ok()) << text.substr(0, 120);
  }
  for (const char* text : {"", "{}", "[1]", "[{\"Id\": 1}]", "[{\"Id\": \"\"}]",
                           "[{\"Id\": \"a\", \"Names\": \"x\"}]"}) {
    EXPECT_FALSE(parse_container_list(text).ok()) << text;
  }
  for (const char* text : {"", "[]", "{}", R"({"Type": "container", "Action": "start"})",
                           R"({"Type": "container", "Action": "start", "Actor": 1})",
                           R"({"Type": 1, "Action": "start", "Actor": {"ID": "a"}})",
                           R"({"Type": "container", "Action": "start", "Actor": {"ID": "a"},
                               "timeNano": -5})"}) {
    EXPECT_FALSE(parse_event(text).ok()) << text;
  }
}

TEST(DockerJson, TruncatedAndCorruptedResponsesNeverCrash) {
  const std::string good = fixture("docker-inspect-web.json");
  for (size_t n = 0; n + 2 < good.size(); n += 7) {
    EXPECT_FALSE(parse_container_inspect(good.substr(0, n)).ok()) << n;
  }
  std::mt19937 rng(42);
  int parsed = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string text = good;
    for (int j = 0; j < 4; ++j) text[rng() % text.size()] = static_cast<char>(rng() % 256);
    auto r = parse_container_inspect(text);
    if (r.ok()) {
      ++parsed;
      EXPECT_FALSE(r->id.empty());
      EXPECT_FALSE(r->name.empty());
    }
  }
  // Most corruptions land in strings and leave valid JSON; both outcomes must have happened.
  EXPECT_GT(parsed, 0);
  EXPECT_LT(parsed, 2000);
}

// Inputs the fuzzer found or that were written to attack the parsers (tests/fuzz/regressions/
// docker): each gives the same definite answer every time, never a crash, hang or exception.
TEST(DockerJson, FuzzRegressionsGiveDefiniteAnswers) {
  const std::string dir = std::string(BULKHEAD_SOURCE_DIR) + "/tests/fuzz/regressions/docker/";
  auto outcome = [](const auto& r) { return r.ok() ? std::string("ok") : r.error().to_string(); };
  const std::map<std::string, std::vector<std::string>> want = {
      // list, inspect, event
      {"lone-surrogate-event.json",
       {"docker list: not JSON", "docker inspect: not JSON", "docker event: not JSON"}},
      {"nested-20k-arrays.json",
       {"docker list: [0]: expected an object", "docker inspect: expected an object",
        "docker event: expected an object"}},
      {"nested-inspect-networks.json",
       {"docker list: expected an array", "ok", "docker event: .Type: missing"}},
      {"number-overflow-and-nul.json",
       {"docker list: not JSON", "docker inspect: not JSON", "docker event: not JSON"}},
  };
  size_t seen = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    std::ifstream in(e.path(), std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::vector<std::string> got = {outcome(parse_container_list(text)),
                                          outcome(parse_container_inspect(text)),
                                          outcome(parse_event(text))};
    (void)parse_error_message(text);
    auto it = want.find(name);
    ASSERT_NE(it, want.end()) << name << ": add its expected outcome here: " << got[0] << " | "
                              << got[1] << " | " << got[2];
    EXPECT_EQ(got, it->second) << name;
    ++seen;
  }
  EXPECT_EQ(seen, want.size());
}

std::vector<ContainerInfo> captured() {
  std::vector<ContainerInfo> all;
  for (const char* n : {"web", "side", "hostnet", "nonet", "dflt", "priv", "caps", "dual"}) {
    all.push_back(inspect(n));
  }
  return all;
}

TEST(DockerEndpoints, OneEndpointPerNamespaceSortedByName) {
  EndpointView v = build_endpoints(captured());
  std::vector<std::string> names;
  for (const auto& ep : v.endpoints) names.push_back(ep.name);
  // side joined web; hostnet is the host's; priv never started.
  EXPECT_EQ(names, (std::vector<std::string>{"caps", "dflt", "dual", "nonet", "web"}));
  ASSERT_EQ(v.unenforceable.size(), 1u);
  EXPECT_EQ(v.unenforceable[0].name, "hostnet");
  EXPECT_NE(v.unenforceable[0].reason.find("host"), std::string::npos);
  for (const auto& ep : v.endpoints) EXPECT_FALSE(ep.host_network);
}

TEST(DockerEndpoints, SharedNamespaceFoldsIntoTheOwner) {
  ContainerInfo web = inspect("web");
  EndpointView v = build_endpoints(captured());
  const policy::Endpoint* ep = find(v, "web");
  ASSERT_NE(ep, nullptr);
  EXPECT_EQ(ep->netns, "/proc/" + std::to_string(web.pid) + "/ns/net");
  // The owner's app=web wins over the member's app=sidecar; the member adds role=proxy.
  EXPECT_EQ(ep->labels, (policy::Labels{{"app", "web"},
                                        {"tier", "front"},
                                        {"role", "proxy"},
                                        {std::string(kMembersLabel), "side"}}));
  EXPECT_TRUE(ep->net_admin);  // the member's NET_ADMIN reaches the shared namespace
  EXPECT_EQ(ep->addresses, std::vector<policy::IpAddr>{ip("198.19.0.2")});
}

TEST(DockerEndpoints, NoneModeIsAnEndpointWithoutAddresses) {
  EndpointView v = build_endpoints(captured());
  const policy::Endpoint* ep = find(v, "nonet");
  ASSERT_NE(ep, nullptr);
  EXPECT_TRUE(ep->addresses.empty());
  EXPECT_EQ(ep->labels, (policy::Labels{{"app", "n"}}));
}

ContainerInfo fake(std::string id, std::string name, std::string mode, int64_t pid,
                   policy::Labels labels = {}) {
  ContainerInfo c;
  c.id = std::move(id);
  c.name = std::move(name);
  c.network_mode = std::move(mode);
  c.pid = pid;
  c.running = pid > 0;
  c.labels = std::move(labels);
  return c;
}

TEST(DockerEndpoints, JoiningTheHostsNamespaceIsUnenforceable) {
  EndpointView v = build_endpoints(
      {fake("aaa1", "h", "host", 10), fake("bbb2", "joiner", "container:aaa1", 11)});
  EXPECT_TRUE(v.endpoints.empty());
  ASSERT_EQ(v.unenforceable.size(), 2u);
  EXPECT_EQ(v.unenforceable[1].name, "joiner");
  EXPECT_NE(v.unenforceable[1].reason.find("container:h"), std::string::npos);
}

TEST(DockerEndpoints, JoinedByNameOrIdPrefixAndChains) {
  EndpointView v = build_endpoints(
      {fake("aaa111", "owner", "net", 10, {{"a", "1"}}),
       fake("bbb222", "by-name", "container:owner", 11, {{"b", "2"}}),
       fake("ccc333", "by-prefix", "container:aaa", 12, {{"c", "3"}}),
       fake("ddd444", "chained", "container:bbb222", 13, {{"a", "9"}, {"d", "4"}})});
  ASSERT_EQ(v.endpoints.size(), 1u);
  EXPECT_EQ(v.endpoints[0].name, "owner");
  EXPECT_EQ(v.endpoints[0].netns, "/proc/10/ns/net");
  EXPECT_EQ(v.endpoints[0].labels,
            (policy::Labels{{"a", "1"},
                            {"b", "2"},
                            {"c", "3"},
                            {"d", "4"},
                            {std::string(kMembersLabel), "by-name,by-prefix,chained"}}));
}

TEST(DockerEndpoints, AMemberWhoseOwnerIsNotRunningKeepsTheNamespaceItself) {
  EndpointView v = build_endpoints(
      {fake("aaa1", "gone", "net", 0), fake("bbb2", "member", "container:aaa1", 11)});
  ASSERT_EQ(v.endpoints.size(), 1u);
  EXPECT_EQ(v.endpoints[0].name, "member");
  EXPECT_EQ(v.endpoints[0].netns, "/proc/11/ns/net");
  EXPECT_EQ(v.endpoints[0].labels.count(kMembersLabel), 0u);
}

TEST(DockerEndpoints, AJoinCycleTerminates) {
  EndpointView v = build_endpoints(
      {fake("aaa1", "x", "container:bbb2", 10), fake("bbb2", "y", "container:aaa1", 11)});
  EXPECT_FALSE(v.endpoints.empty());
}

TEST(DockerEndpoints, SameViewSeesEveryChange) {
  EndpointView a = build_endpoints(captured());
  EndpointView b = build_endpoints(captured());
  EXPECT_TRUE(same_view(a, b));
  b.endpoints[0].labels["new"] = "1";
  EXPECT_FALSE(same_view(a, b));
  b = a;
  b.endpoints[2].addresses.clear();  // dual
  EXPECT_FALSE(same_view(a, b));
  b = a;
  b.unenforceable[0].reason = "other";
  EXPECT_FALSE(same_view(a, b));
}

// Podman 4.3's Docker-compatible API, captured the same way.
TEST(PodmanJson, ListAndInspectMapLikeDockers) {
  auto list = parse_container_list(fixture("podman-list.json"));
  ASSERT_TRUE(list.ok()) << list.error().to_string();
  EXPECT_EQ(list->size(), 4u);
  std::vector<ContainerInfo> all;
  for (const char* n : {"web", "side", "hostnet", "nonet"}) {
    auto r = parse_container_inspect(fixture(std::string("podman-inspect-") + n + ".json"));
    ASSERT_TRUE(r.ok()) << n << ": " << r.error().to_string();
    EXPECT_EQ(r->name, n);
    all.push_back(*r);
  }
  EndpointView v = build_endpoints(all);
  ASSERT_EQ(v.endpoints.size(), 2u);
  EXPECT_EQ(v.endpoints[0].name, "nonet");
  EXPECT_TRUE(v.endpoints[0].net_admin);  // Podman keeps NET_ADMIN without the CAP_ prefix
  EXPECT_TRUE(v.endpoints[0].addresses.empty());
  EXPECT_EQ(v.endpoints[1].name, "web");
  EXPECT_EQ(v.endpoints[1].netns, "/proc/" + std::to_string(all[0].pid) + "/ns/net");
  EXPECT_EQ(
      v.endpoints[1].labels,
      (policy::Labels{{"app", "web"}, {"role", "proxy"}, {std::string(kMembersLabel), "side"}}));
  // Podman repeats the owner's networks on the member: still one address.
  EXPECT_EQ(v.endpoints[1].addresses, std::vector<policy::IpAddr>{ip("198.19.201.2")});
  ASSERT_EQ(v.unenforceable.size(), 1u);
  EXPECT_EQ(v.unenforceable[0].name, "hostnet");
}

TEST(PodmanJson, NetworkEventsNameTheContainerAsTheActor) {
  std::istringstream lines(fixture("podman-events.jsonl"));
  std::string line;
  int connects = 0;
  bool removed = false;
  while (std::getline(lines, line)) {
    auto e = parse_event(line);
    ASSERT_TRUE(e.ok()) << e.error().to_string() << "\n" << line;
    EXPECT_EQ(e->actor_id.substr(0, 12), "39f9ef9329e7");
    if (e->type == "network") {
      ++connects;
      EXPECT_EQ(e->container_id, e->actor_id);
      EXPECT_TRUE(event_matters(*e));
    }
    if (e->action == "remove") removed = event_matters(*e);
    if (e->action == "cleanup" || e->action == "init") EXPECT_FALSE(event_matters(*e));
  }
  EXPECT_EQ(connects, 2);
  EXPECT_TRUE(removed);
}

TEST(PodmanJson, TheVersionSaysWhichEngineAnswers) {
  EXPECT_TRUE(version_is_podman(
      R"({"Platform":{"Name":"linux/amd64/debian-12"},"Components":[{"Name":"Podman Engine",)"
      R"("Version":"4.3.1"},{"Name":"Conmon","Version":"conmon version 2.1.6"}]})"));
  EXPECT_FALSE(version_is_podman(
      R"({"Platform":{"Name":"Docker Engine - Community"},"Components":[{"Name":"Engine",)"
      R"("Version":"28.2.2"},{"Name":"containerd"}]})"));
  for (const char* bad : {"", "[]", "{\"Components\":{}}", "{\"Components\":[1,{\"Name\":2}]}"})
    EXPECT_FALSE(version_is_podman(bad)) << bad;
}

TEST(PodmanJson, ACreateEventKeepsItsAttributes) {
  auto e = parse_event(
      R"({"Type":"container","Action":"create","Actor":{"ID":"c6","Attributes":{"app":"x",)"
      R"("name":"evy","podId":""}},"timeNano":1})");
  ASSERT_TRUE(e.ok()) << e.error().to_string();
  EXPECT_EQ(e->attributes, (policy::Labels{{"app", "x"}, {"name", "evy"}, {"podId", ""}}));
}

}  // namespace
}  // namespace bulkhead::daemon::docker
