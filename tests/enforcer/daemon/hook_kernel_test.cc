// The hook socket for real: a process in a test namespace asks through the socket, the daemon
// applies its table in that namespace before answering "enforced", and the table is read back
// from the kernel; a non-root peer is refused and counted; oversize and slow requests are refused
// within their bounds. The engine's list is faked (labels); the namespace is real.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "enforcer/daemon/daemon.h"
#include "enforcer/daemon/hook_socket.h"
#include "netlink/dataplane.h"
#include "tests/support/fake_source.h"
#include "tests/support/netns_fixture.h"

namespace bulkhead::daemon {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using netlink::testing::sh;
using netlink::testing::TestNamespaces;

const char* kPolicy =
    "apiVersion: bulkhead/v1\nkind: Policy\nmetadata: {name: lock}\nspec:\n"
    "  groups: {web: {selector: app=web}, api: {selector: app=api}}\n  allow:\n"
    "    - {from: [web], to: [api], ports: [8080/tcp]}\n";

// The list answers for one container; namespaces are the kernel's.
class ListOnly final : public ContainerLookup {
 public:
  explicit ListOnly(ListedContainer c) : c_(std::move(c)), kernel_(make_engine_lookup({}, 1s)) {}
  Result<std::map<std::string, ListedContainer>> listed(
      const std::vector<std::string>& ids) override {
    std::map<std::string, ListedContainer> found;
    for (const auto& id : ids)
      if (id == c_.id) found[id] = c_;
    return found;
  }
  Result<NamespaceView> namespace_of(int64_t pid) override { return kernel_->namespace_of(pid); }
  uint64_t netns_inode(const std::string& path) override { return kernel_->netns_inode(path); }

 private:
  ListedContainer c_;
  std::unique_ptr<ContainerLookup> kernel_;
};

// Connects to `path`, sends `text`, returns what came back before the daemon closed.
std::string ask(const std::string& path, const std::string& text) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof(sa.sun_path) - 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0)
    return "connect failed";
  timeval tv{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (!text.empty()) (void)::send(fd.get(), text.data(), text.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd.get(), buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

class HookKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_FAIL() << "needs root";
    spdlog::set_level(spdlog::level::off);
    dir = fs::temp_directory_path() / ("bulkhead-hookk-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "policy.yaml") << kPolicy;
    opts.policies = {(dir / "policy.yaml").string()};
    opts.status_socket = (dir / "status.sock").string();
    opts.hook_socket = (dir / "run" / "hook.sock").string();
    ns = nets.add("web");
    peer = nets.add("peer");
    nets.link(ns, "198.18.7.2/24", peer, "198.18.7.1/24");
    // The "container's" init process: a sleeper inside the namespace.
    child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      execlp("ip", "ip", "netns", "exec", ns.c_str(), "sleep", "30", nullptr);
      _exit(127);
    }
    // Until the child is inside the namespace (ip netns exec enters it, then execs sleep).
    const auto inner = netlink::netns_inode(TestNamespaces::path(ns));
    ASSERT_TRUE(inner.ok());
    for (int i = 0; i < 200; ++i) {
      auto seen = netlink::netns_inode("/proc/" + std::to_string(child) + "/ns/net");
      if (seen.ok() && *seen == *inner) break;
      std::this_thread::sleep_for(10ms);
    }
    Snapshot snap;
    snap.ready = true;
    factory.add(snap);
    dataplane = netlink::make_kernel_dataplane();
    d = std::make_unique<Daemon>(opts, *dataplane, factory, time);
    d->set_container_lookup(
        std::make_unique<ListOnly>(ListedContainer{"idweb", "web", {{"app", "web"}}, {}}));
    ASSERT_EQ(d->build_sources(), std::nullopt);
    ASSERT_EQ(d->load_policies(), std::nullopt);
    ASSERT_EQ(d->start_sources(), std::nullopt);
    d->start_watchers();
    d->start_hook_socket();
    d->enforce();
  }
  void TearDown() override {
    d.reset();
    if (child > 0) {
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
    }
    fs::remove_all(dir);
    spdlog::set_level(spdlog::level::info);
  }
  // The loop's share for the hook socket, until `done` or the bound.
  void pump_until(const std::function<bool()>& done, std::chrono::milliseconds bound) {
    const auto end = std::chrono::steady_clock::now() + bound;
    while (!done() && std::chrono::steady_clock::now() < end) {
      d->pump_hook(10);
    }
  }
  uint64_t count(const std::string& result) {
    auto it = d->hook_results().find(result);
    return it == d->hook_results().end() ? 0 : it->second;
  }

  fs::path dir;
  Options opts;
  SystemTime time;
  testing::FakeSourceFactory factory;
  std::unique_ptr<netlink::Dataplane> dataplane;
  std::unique_ptr<Daemon> d;
  TestNamespaces nets;
  std::string ns;
  std::string peer;
  pid_t child = -1;
};

TEST_F(HookKernelTest, RequestGetsEnforcedAndTheTableIsInTheKernel) {
  std::string answer;
  std::thread hook([&] {
    answer = ask(opts.hook_socket, R"({"version":1,"id":"idweb","pid":)" + std::to_string(child) +
                                       R"(,"engine":"docker"})"
                                       "\n");
  });
  pump_until([&] { return count("enforced") > 0; }, 3s);
  hook.join();
  EXPECT_EQ(answer, R"({"reason":"","verdict":"enforced","version":1})"
                    "\n");
  std::string out;
  ASSERT_EQ(sh("ip netns exec " + ns + " nft list table inet bulkhead", &out), 0) << out;
  EXPECT_NE(out.find("chain ingress"), std::string::npos) << out;
  EXPECT_NE(out.find("chain egress"), std::string::npos) << out;
  auto doc = nlohmann::json::parse(d->status_document());
  ASSERT_EQ(doc["endpoints"].size(), 1u);
  EXPECT_EQ(doc["endpoints"][0]["name"], "web");
  EXPECT_EQ(doc["endpoints"][0]["enforced_at"], "start");
  EXPECT_EQ(doc["endpoints"][0]["addresses"][0], "198.18.7.2");
  EXPECT_EQ(doc["hook"]["requests"]["enforced"], 1);
}

TEST_F(HookKernelTest, NonRootPeerIsRefusedAndCounted) {
  // The file modes (directory 0700, socket 0600) already keep others out; open them up so that the
  // peer check, the last line, is what is tested.
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
  ASSERT_EQ(::chmod((dir / "run").c_str(), 0755), 0);
  ASSERT_EQ(::chmod(opts.hook_socket.c_str(), 0666), 0);
  pid_t client = ::fork();
  ASSERT_GE(client, 0);
  if (client == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) _exit(3);
    const std::string got =
        ask(opts.hook_socket, R"({"version":1,"id":"idweb","pid":1,"engine":"docker"})"
                              "\n");
    _exit(got.empty() ? 0 : 1);  // closed without a word
  }
  pump_until([&] { return count("denied_peer") > 0; }, 3s);
  int status = 0;
  ASSERT_EQ(::waitpid(client, &status, 0), client);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(count("denied_peer"), 1u);
  EXPECT_EQ(count("enforced"), 0u);
  std::string out;
  EXPECT_NE(sh("ip netns exec " + ns + " nft list table inet bulkhead", &out), 0) << out;
}

TEST_F(HookKernelTest, OversizeAndSlowRequestsAreRefusedWithinTheirBounds) {
  std::string big_answer;
  std::thread big([&] { big_answer = ask(opts.hook_socket, std::string(8192, ' ')); });
  pump_until([&] { return count("malformed") > 0; }, 2s);
  big.join();
  EXPECT_EQ(big_answer, R"({"reason":"request too long","verdict":"refused","version":1})"
                        "\n");

  std::string slow_answer;
  const auto t0 = std::chrono::steady_clock::now();
  std::thread slow([&] { slow_answer = ask(opts.hook_socket, R"({"version":1,)"); });
  pump_until([&] { return count("malformed") > 1; }, 3s);
  const auto took = std::chrono::steady_clock::now() - t0;
  slow.join();
  EXPECT_EQ(slow_answer, R"({"reason":"request too slow","verdict":"refused","version":1})"
                         "\n");
  EXPECT_GE(took, 1000ms);
  EXPECT_LT(took, 1500ms);
}

}  // namespace
}  // namespace bulkhead::daemon
