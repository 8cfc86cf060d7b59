// Test namespaces: per-run names (bht<pid>-...), veth links in 198.18.0.0/15, removed in the
// destructor even when a test fails. Tests may use the ip binary to set up.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "netlink/ns/netns.h"

namespace bulkhead::netlink::testing {

// Runs a shell command, returns its exit status and stdout.
inline int sh(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  int rc = pclose(p);
  if (out) *out = text;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// Whether something in namespace `ns` listens on TCP `port`, polled every 20 ms for up to
// `limit`: a server started in the background binds its port a moment after it starts, and a
// client started in between is refused.
inline bool wait_tcp_listening(const std::string& ns, int port, std::chrono::milliseconds limit) {
  const std::string cmd =
      "ip netns exec " + ns + " ss -Hltn 'sport = :" + std::to_string(port) + "'";
  const auto end = std::chrono::steady_clock::now() + limit;
  for (;;) {
    std::string out;
    if (sh(cmd, &out) == 0 && !out.empty()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

inline std::string run_prefix() { return "bht" + std::to_string(getpid()) + "-"; }

class TestNamespaces {
 public:
  TestNamespaces() = default;
  TestNamespaces(const TestNamespaces&) = delete;
  TestNamespaces& operator=(const TestNamespaces&) = delete;
  ~TestNamespaces() {
    for (auto it = names_.rbegin(); it != names_.rend(); ++it) sh("ip netns del " + *it);
  }

  // Creates namespace `<prefix><suffix>` with lo up; returns its full name.
  std::string add(const std::string& suffix) {
    std::string name = run_prefix() + suffix;
    sh("ip netns del " + name);  // a leftover of a crashed run with the same pid
    std::string out;
    int rc = sh("ip netns add " + name, &out);
    EXPECT_EQ(rc, 0) << out;
    if (rc == 0) names_.push_back(name);
    sh("ip -n " + name + " link set lo up");
    return name;
  }

  static std::string path(const std::string& name) { return "/run/netns/" + name; }

  // veth between two namespaces, addresses given with prefix length (e.g. "198.18.0.1/24").
  void link(const std::string& a, const std::string& addr_a, const std::string& b,
            const std::string& addr_b, const std::string& dev_a = "eth0",
            const std::string& dev_b = "eth0") {
    std::string tmp = "bhv" + std::to_string(getpid() % 100000) + std::to_string(counter_++);
    std::string out;
    ASSERT_EQ(sh("ip link add " + tmp + "a type veth peer name " + tmp + "b", &out), 0) << out;
    ASSERT_EQ(sh("ip link set " + tmp + "a netns " + a + " name " + dev_a, &out), 0) << out;
    ASSERT_EQ(sh("ip link set " + tmp + "b netns " + b + " name " + dev_b, &out), 0) << out;
    ASSERT_EQ(sh("ip -n " + a + " addr add " + addr_a + " dev " + dev_a, &out), 0) << out;
    ASSERT_EQ(sh("ip -n " + b + " addr add " + addr_b + " dev " + dev_b, &out), 0) << out;
    ASSERT_EQ(sh("ip -n " + a + " link set " + dev_a + " up", &out), 0) << out;
    ASSERT_EQ(sh("ip -n " + b + " link set " + dev_b + " up", &out), 0) << out;
  }

 private:
  std::vector<std::string> names_;
  int counter_ = 0;
};

}  // namespace bulkhead::netlink::testing
