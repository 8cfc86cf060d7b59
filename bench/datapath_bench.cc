// Datapath cost of a big policy: iperf3 throughput and the rate of short TCP connections between
// two namespaces, first with no rules, then with bulkhead's tables for a 10,000-peer policy (one
// set lookup per new connection). Prints both figures and their ratios; targets: throughput at
// least 0.95 and connection rate at least 0.90 of the no-policy figures.
// Needs root; creates namespaces bdp<pid>-c and bdp<pid>-s and removes them.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "netlink/dataplane.h"
#include "policy/compile.h"
#include "policy/load.h"

namespace {

const std::string kPrefix = "bdp" + std::to_string(getpid());
const std::string kClient = kPrefix + "-c";
const std::string kServer = kPrefix + "-s";
constexpr int kPeers = 10000;

int sh(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  int rc = pclose(p);
  if (out) *out = text;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

void enter(const std::string& ns) {
  int fd = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
    perror("setns");
    std::exit(1);
  }
  close(fd);
}

double iperf_bits_per_second() {
  std::string out;
  sh("ip netns exec " + kClient + " timeout 20 iperf3 -c 198.18.30.2 -p 5201 -t 3 -J", &out);
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.contains("end")) return 0;
  return j["end"]["sum_received"].value("bits_per_second", 0.0);
}

// New TCP connections per second, each opened and closed, over `seconds`.
double connection_rate(double seconds) {
  std::atomic<bool> stop{false};
  std::thread server([&] {
    enter(kServer);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(7000);
    inet_pton(AF_INET, "198.18.30.2", &sa.sin_addr);
    bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    listen(s, 1024);
    timeval tv{0, 200000};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    while (!stop) {
      int c = accept(s, nullptr, nullptr);
      if (c >= 0) close(c);
    }
    close(s);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  long count = 0;
  std::thread client([&] {
    enter(kClient);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(7000);
    inet_pton(AF_INET, "198.18.30.2", &sa.sin_addr);
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
      int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      linger lg{1, 0};  // reset on close: no TIME_WAIT pile-up skewing later connections
      setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
      if (connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) ++count;
      close(c);
    }
  });
  client.join();
  stop = true;
  server.join();
  return count / seconds;
}

std::string policy_yaml() {
  return "apiVersion: bulkhead/v1\nkind: Policy\nmetadata: {name: datapath}\nspec:\n"
         "  groups:\n    clients: {selector: role=client}\n    server: {selector: role=server}\n"
         "  allow:\n    - {from: [clients], to: [server], ports: [5201/tcp, 7000/tcp]}\n";
}

bulkhead::policy::Endpoints endpoints(int peers) {
  bulkhead::policy::Endpoints eps;
  auto add = [&](std::string name, std::string ns, std::string role, std::string addr) {
    bulkhead::policy::Endpoint e;
    e.name = std::move(name);
    e.netns = std::move(ns);
    e.labels = {{"role", std::move(role)}};
    e.addresses = {*bulkhead::policy::IpAddr::parse(addr)};
    eps.push_back(std::move(e));
  };
  add("client", "/run/netns/" + kClient, "client", "198.18.30.1");
  add("server", "/run/netns/" + kServer, "server", "198.18.30.2");
  // Peers that exist only as addresses (198.18.128.0 onwards): they fill the server's set.
  for (int i = 0; i < peers - 1; ++i) {
    char addr[32];
    std::snprintf(addr, sizeof addr, "198.18.%d.%d", 128 + i / 250, 1 + i % 250);
    add("peer-" + std::to_string(i), "/nonexistent", "client", addr);
  }
  std::sort(eps.begin(), eps.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return eps;
}

}  // namespace

int main() {
  if (geteuid() != 0) {
    std::cerr << "datapath_bench: needs root (network namespaces)\n";
    return 2;
  }
  sh("ip netns add " + kClient);
  sh("ip netns add " + kServer);
  sh("ip -n " + kClient + " link add eth0 type veth peer name eth0 netns " + kServer);
  sh("ip -n " + kClient + " addr add 198.18.30.1/16 dev eth0");
  sh("ip -n " + kServer + " addr add 198.18.30.2/16 dev eth0");
  for (const auto& ns : {kClient, kServer}) {
    sh("ip -n " + ns + " link set lo up");
    sh("ip -n " + ns + " link set eth0 up");
  }
  sh("ip netns exec " + kServer + " iperf3 -s -D -p 5201 --pidfile /run/" + kPrefix + ".pid");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  const double bw0 = iperf_bits_per_second();
  const double cr0 = connection_rate(2.0);

  auto load = bulkhead::policy::load_policy_text(policy_yaml(), "datapath.yaml");
  auto dp = bulkhead::netlink::make_kernel_dataplane();
  size_t elements = 0;
  auto enforce = [&](int peers) {
    elements = 0;
    for (const auto& ep : bulkhead::policy::compile(load.set, endpoints(peers)).endpoints) {
      if (ep.endpoint != "client" && ep.endpoint != "server") continue;
      auto st = dp->apply(ep);
      if (!st.ok()) {
        std::cerr << "apply " << ep.endpoint << ": " << st.error().to_string() << "\n";
        std::exit(1);
      }
      for (const auto& s : ep.table->sets) elements += s.elements.size();
    }
  };
  // The same rules with one peer: what conntrack and the base rules cost, apart from the set.
  enforce(1);
  const double bw_small = iperf_bits_per_second();
  const double cr_small = connection_rate(2.0);
  enforce(kPeers);
  const double bw1 = iperf_bits_per_second();
  const double cr1 = connection_rate(2.0);

  sh("kill $(cat /run/" + kPrefix + ".pid)");
  sh("rm -f /run/" + kPrefix + ".pid");
  sh("ip netns del " + kClient);
  sh("ip netns del " + kServer);

  std::printf("datapath with a %d-peer policy (%zu set elements in the two tables)\n", kPeers,
              elements);
  std::printf("  iperf3 throughput: no policy %.2f Gbit/s, with policy %.2f Gbit/s, ratio %.3f "
              "(target >= 0.95)\n",
              bw0 / 1e9, bw1 / 1e9, bw0 > 0 ? bw1 / bw0 : 0);
  std::printf("  new connections/s: no policy %.0f, with policy %.0f, ratio %.3f (target >= 0.90)\n",
              cr0, cr1, cr0 > 0 ? cr1 / cr0 : 0);
  std::printf("  against the same rules with a 1-peer set (conntrack and base rules included in both):\n"
              "    throughput %.2f Gbit/s, ratio %.3f; connections/s %.0f, ratio %.3f\n",
              bw_small / 1e9, bw_small > 0 ? bw1 / bw_small : 0, cr_small,
              cr_small > 0 ? cr1 / cr_small : 0);
  return 0;
}
