// Datapath cost of a big policy between two namespaces: iperf3 throughput and the rate of short
// TCP connections with bulkhead's tables for a 10,000-peer policy (one set lookup per new
// connection) against no tables at all. Targets: throughput at least 0.95 and connection rate at
// least 0.90 of the no-policy figures.
//
// Method (the machine is shared, so single wall-clock runs are at the mercy of its load):
// - four configurations, measured in every round, the order rotated from round to round:
//     none            no table: netfilter has no hooks in either namespace
//     conntrack-only  a table whose two chains hold only `ct state established,related accept`:
//                     what turning conntrack on costs, before any policy rule
//     policy-1        bulkhead's compiled tables, a 1-peer set
//     policy-10k      bulkhead's compiled tables, a 10,000-peer set
// - each measurement: iperf3 for a fixed time, then a fixed number of connections (same count in
//   every measurement, so every policy round leaves the same conntrack backlog);
// - besides wall-clock figures, the CPU they cost: for iperf3 its own cpu_utilization (client
//   and server processes), for the connections the thread CPU time of the client and server
//   threads. On veth the receive path runs as softirq on the sending thread, so this captures
//   the netfilter work of both namespaces, and other engineers' load barely moves it;
// - medians over the rounds, and the conntrack entry count of each namespace before and after
//   each connection run (nf_conntrack_max is 262,144; entries of reset connections linger in
//   CLOSE for nf_conntrack_tcp_timeout_close).
//
// Usage: datapath_bench [ROUNDS [CONNECTIONS]] (defaults 5 and 20000), or
// datapath_bench --only CONFIG [CONNECTIONS]: that configuration alone, measured once, for a
// profiler (docs/dataplane.md, "Datapath cost"). Needs root; creates
// namespaces bdp<pid>-c and bdp<pid>-s and removes them, also when it fails.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "netlink/dataplane.h"
#include "policy/load/load.h"
#include "policy/plan/compile.h"

namespace {

const std::string kPrefix = "bdp" + std::to_string(getpid());
const std::string kClient = kPrefix + "-c";
const std::string kServer = kPrefix + "-s";
constexpr int kPeers = 10000;
constexpr double kIperfSeconds = 2;
constexpr auto kConnectionTimeCap = std::chrono::seconds(30);  // per measurement

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

// Whether something in namespace `ns` listens on TCP `port` within 5 s (polled every 20 ms).
bool wait_tcp_listening(const std::string& ns, int port) {
  const std::string cmd =
      "ip netns exec " + ns + " ss -Hltn 'sport = :" + std::to_string(port) + "'";
  for (int i = 0; i < 250; ++i) {
    std::string out;
    if (sh(cmd, &out) == 0 && !out.empty()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

bool lab_up = false;
void cleanup() {
  if (!lab_up) return;
  lab_up = false;
  sh("kill $(cat /run/" + kPrefix + ".pid)");
  sh("rm -f /run/" + kPrefix + ".pid");
  sh("ip netns del " + kClient);
  sh("ip netns del " + kServer);
}

[[noreturn]] void fail(const std::string& what) {
  std::cerr << "datapath_bench: " << what << "\n";
  std::exit(1);  // runs cleanup()
}

void enter(const std::string& ns) {
  int fd = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) fail("setns " + ns);
  close(fd);
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

long conntrack_count(const std::string& ns) {
  std::string out;
  if (sh("ip netns exec " + ns + " cat /proc/sys/net/netfilter/nf_conntrack_count", &out) != 0)
    return -1;
  return std::atol(out.c_str());
}

struct Iperf {
  double bits_per_second = 0;
  double bits_per_cpu_second = 0;  // throughput per second of CPU of both iperf3 processes
};

Iperf iperf() {
  std::string out;
  sh("ip netns exec " + kClient + " timeout 20 iperf3 -c 198.18.30.2 -p 5201 -t " +
         std::to_string(static_cast<int>(kIperfSeconds)) + " -J",
     &out);
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.contains("end")) fail("iperf3 gave no result: " + out);
  Iperf r;
  r.bits_per_second = j["end"]["sum_received"].value("bits_per_second", 0.0);
  const auto& cpu = j["end"]["cpu_utilization_percent"];
  const double cpu_share = (cpu.value("host_total", 0.0) + cpu.value("remote_total", 0.0)) / 100;
  if (cpu_share > 0) r.bits_per_cpu_second = r.bits_per_second / cpu_share;
  return r;
}

struct Connections {
  double per_second = 0;
  double cpu_us_each = 0;  // client + server thread CPU per connection
  long made = 0;
};

// How a short connection is used before it is closed.
enum class Exchange {
  none,     // connect and reset: the handshake alone, the worst case for per-connection costs
  request,  // netperf's TCP_CRR: connect, a 64-byte request, a 64-byte answer, then reset
};
constexpr size_t kMessageBytes = 64;

// Opens and closes `count` TCP connections one after another (bounded by kConnectionTimeCap).
Connections connections(long count, Exchange exchange) {
  std::atomic<bool> listening{false};
  std::atomic<bool> stop{false};
  double server_cpu = 0;
  std::thread server([&] {
    pthread_setname_np(pthread_self(), "bdp-server");  // for datapath_profile.sh
    enter(kServer);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(7000);
    inet_pton(AF_INET, "198.18.30.2", &sa.sin_addr);
    if (bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || listen(s, 1024) != 0)
      fail("listen on 198.18.30.2:7000");
    timeval tv{0, 100000};  // accept wakes up to notice `stop`
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    const double cpu0 = thread_cpu_seconds();
    listening = true;
    char buf[kMessageBytes];
    while (!stop) {
      int c = accept(s, nullptr, nullptr);
      if (c < 0) continue;
      if (exchange == Exchange::request && recv(c, buf, sizeof buf, MSG_WAITALL) > 0)
        (void)!send(c, buf, sizeof buf, MSG_NOSIGNAL);
      close(c);
    }
    server_cpu = thread_cpu_seconds() - cpu0;
    close(s);
  });
  for (int i = 0; i < 500 && !listening; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  Connections r;
  double client_cpu = 0;
  double wall = 0;
  std::thread client([&] {
    pthread_setname_np(pthread_self(), "bdp-client");
    enter(kClient);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(7000);
    inet_pton(AF_INET, "198.18.30.2", &sa.sin_addr);
    const auto t0 = std::chrono::steady_clock::now();
    const double cpu0 = thread_cpu_seconds();
    for (long i = 0; i < count && std::chrono::steady_clock::now() - t0 < kConnectionTimeCap; ++i) {
      int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      linger lg{1, 0};  // reset on close: no TIME_WAIT pile-up skewing later connections
      setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
      char buf[kMessageBytes] = {};
      if (connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0 &&
          (exchange == Exchange::none ||
           (send(c, buf, sizeof buf, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof buf) &&
            recv(c, buf, sizeof buf, MSG_WAITALL) == static_cast<ssize_t>(sizeof buf)))) {
        ++r.made;
      }
      close(c);
    }
    client_cpu = thread_cpu_seconds() - cpu0;
    wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  });
  client.join();
  stop = true;
  server.join();
  if (r.made == 0 || wall <= 0) fail("no connection succeeded");
  r.per_second = static_cast<double>(r.made) / wall;
  r.cpu_us_each = (client_cpu + server_cpu) / static_cast<double>(r.made) * 1e6;
  return r;
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

// Both namespaces with a table holding only the first base rule: conntrack on, no policy rules.
std::vector<bulkhead::policy::EndpointPlan> conntrack_only_plans() {
  using namespace bulkhead::policy;
  NftRule ct;
  ct.kind = RuleKind::ct_established_accept;
  ct.counter = false;
  NftTable table;
  table.chains.push_back({"ingress", Hook::input, 0, {ct}});
  table.chains.push_back({"egress", Hook::output, 0, {ct}});
  std::vector<EndpointPlan> plans;
  for (const auto& ns : {kClient, kServer}) {
    EndpointPlan p;
    p.endpoint = ns;
    p.netns = "/run/netns/" + ns;
    p.table = table;
    plans.push_back(std::move(p));
  }
  return plans;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double ratio(double a, double b) { return b > 0 ? a / b : 0; }

}  // namespace

int main(int argc, char** argv) {
  if (geteuid() != 0) {
    std::cerr << "datapath_bench: needs root (network namespaces)\n";
    return 2;
  }
  // --only CONFIG: one configuration, connections then iperf3, once; for a profiler wrapped around
  // the whole run (docs/dataplane.md, "Datapath cost").
  const std::string only = argc > 2 && std::string(argv[1]) == "--only" ? argv[2] : "";
  int rounds = 1;
  long count = 20000;
  if (!only.empty()) {
    if (argc > 3) count = std::atol(argv[3]);
  } else {
    rounds = argc > 1 ? std::atoi(argv[1]) : 5;
    if (argc > 2) count = std::atol(argv[2]);
  }
  const std::array<const char*, 4> names{"none", "conntrack-only", "policy-1", "policy-10k"};
  const bool only_known =
      only.empty() || std::find(names.begin(), names.end(), only) != names.end();
  if (rounds < 1 || rounds > 100 || count < 100 || count > 1000000 || !only_known) {
    std::cerr << "usage: datapath_bench [ROUNDS (1-100) [CONNECTIONS (100-1000000)]]\n"
                 "       datapath_bench --only none|conntrack-only|policy-1|policy-10k "
                 "[CONNECTIONS]\n";
    return 2;
  }
  std::atexit(cleanup);
  lab_up = true;
  if (sh("ip netns add " + kClient) != 0 || sh("ip netns add " + kServer) != 0)
    fail("cannot create namespaces");
  sh("ip -n " + kClient + " link add eth0 type veth peer name eth0 netns " + kServer);
  sh("ip -n " + kClient + " addr add 198.18.30.1/16 dev eth0");
  sh("ip -n " + kServer + " addr add 198.18.30.2/16 dev eth0");
  for (const auto& ns : {kClient, kServer}) {
    sh("ip -n " + ns + " link set lo up");
    sh("ip -n " + ns + " link set eth0 up");
  }
  sh("ip netns exec " + kServer + " iperf3 -s -D -p 5201 --pidfile /run/" + kPrefix + ".pid");
  // iperf3 -D detaches before it binds its port.
  if (!wait_tcp_listening(kServer, 5201)) fail("iperf3 -s does not listen on 5201 in " + kServer);

  // Plans are compiled once; switching configuration is then an apply or a remove.
  auto load = bulkhead::policy::load_policy_text(policy_yaml(), "datapath.yaml");
  std::vector<bulkhead::policy::EndpointPlan> policy_plans[2];
  size_t elements = 0;
  for (int k = 0; k < 2; ++k) {
    for (auto& ep : bulkhead::policy::compile(load.set, endpoints(k ? kPeers : 1)).endpoints) {
      if (ep.endpoint != "client" && ep.endpoint != "server") continue;
      if (k) {
        for (const auto& s : ep.table->sets) elements += s.elements.size();
      }
      policy_plans[k].push_back(std::move(ep));
    }
  }
  const auto ct_plans = conntrack_only_plans();
  auto dp = bulkhead::netlink::make_kernel_dataplane();
  auto apply = [&](const std::vector<bulkhead::policy::EndpointPlan>& plans) {
    for (const auto& p : plans) {
      auto st = dp->apply(p);
      if (!st.ok()) fail("apply " + p.endpoint + ": " + st.error().to_string());
    }
  };
  auto remove = [&] {
    for (const auto& ns : {kClient, kServer}) {
      auto st = dp->remove("/run/netns/" + ns);
      if (!st.ok()) fail("remove " + ns + ": " + st.error().to_string());
    }
  };

  struct Config {
    const char* name;
    std::vector<double> bps, bits_per_cpu, rate, cpu_us, crr_rate, crr_cpu_us;
  };
  std::array<Config, 4> configs;
  for (size_t k = 0; k < configs.size(); ++k) configs[k].name = names[k];
  auto configure = [&](size_t k) {
    switch (k) {
      case 0:
        remove();
        break;
      case 1:
        apply(ct_plans);
        break;
      default:
        apply(policy_plans[k - 2]);
        break;
    }
  };
  if (!only.empty()) {
    const size_t k =
        static_cast<size_t>(std::find(names.begin(), names.end(), only) - names.begin());
    configure(k);
    // Connect-and-reset only: bench/datapath_profile.sh divides the samples by `count`.
    const Connections cn = connections(count, Exchange::none);
    std::printf(
        "%s: %ld connections, %.0f conn/s, %.2f us cpu/conn, conntrack entries "
        "client/server %ld/%ld\n",
        names[k], cn.made, cn.per_second, cn.cpu_us_each, conntrack_count(kClient),
        conntrack_count(kServer));
    const Iperf ip = iperf();
    std::printf("%s: iperf3 %.2f Gbit/s, %.0f bytes\n", names[k], ip.bits_per_second / 1e9,
                ip.bits_per_second * kIperfSeconds / 8);
    return 0;  // cleanup() runs at exit
  }
  std::printf(
      "%d rounds, %ld connections per measurement, iperf3 %.0f s; configurations in "
      "rotated order\n",
      rounds, count, kIperfSeconds);
  for (int r = 0; r < rounds; ++r) {
    for (size_t i = 0; i < configs.size(); ++i) {
      const size_t k = (i + static_cast<size_t>(r)) % configs.size();
      configure(k);
      Config& c = configs[k];
      const Iperf ip = iperf();
      const long ct_c = conntrack_count(kClient), ct_s = conntrack_count(kServer);
      const Connections cn = connections(count, Exchange::none);
      const Connections crr = connections(count, Exchange::request);
      c.bps.push_back(ip.bits_per_second);
      c.bits_per_cpu.push_back(ip.bits_per_cpu_second);
      c.rate.push_back(cn.per_second);
      c.cpu_us.push_back(cn.cpu_us_each);
      c.crr_rate.push_back(crr.per_second);
      c.crr_cpu_us.push_back(crr.cpu_us_each);
      std::printf(
          "  round %d %-14s %6.2f Gbit/s %6.2f Gbit/cpu-s | %6.0f conn/s %6.2f us cpu/conn "
          "| crr %6.0f conn/s %6.2f us cpu/conn | conntrack entries client/server %ld/%ld -> "
          "%ld/%ld\n",
          r + 1, c.name, ip.bits_per_second / 1e9, ip.bits_per_cpu_second / 1e9, cn.per_second,
          cn.cpu_us_each, crr.per_second, crr.cpu_us_each, ct_c, ct_s, conntrack_count(kClient),
          conntrack_count(kServer));
      std::fflush(stdout);
    }
  }
  cleanup();

  struct Med {
    double bps, bits_per_cpu, rate, cpu_us, crr_rate, crr_cpu_us;
  };
  auto med = [&](size_t k) {
    const Config& c = configs[k];
    return Med{median(c.bps),    median(c.bits_per_cpu), median(c.rate),
               median(c.cpu_us), median(c.crr_rate),     median(c.crr_cpu_us)};
  };
  const Med none = med(0), ct = med(1), small = med(2), big = med(3);
  std::printf("medians (ratios against none; for CPU, none's CPU per unit over this one's)\n");
  for (size_t k = 0; k < configs.size(); ++k) {
    const Med m = med(k);
    std::printf(
        "  %-14s %6.2f Gbit/s (%.3f) %6.2f Gbit/cpu-s (%.3f) | %6.0f conn/s (%.3f) %6.2f "
        "us cpu/conn (%.3f) | crr %6.0f conn/s (%.3f) %6.2f us cpu/conn (%.3f)\n",
        configs[k].name, m.bps / 1e9, ratio(m.bps, none.bps), m.bits_per_cpu / 1e9,
        ratio(m.bits_per_cpu, none.bits_per_cpu), m.rate, ratio(m.rate, none.rate), m.cpu_us,
        ratio(none.cpu_us, m.cpu_us), m.crr_rate, ratio(m.crr_rate, none.crr_rate), m.crr_cpu_us,
        ratio(none.crr_cpu_us, m.crr_cpu_us));
  }
  // Same-round ratios: each configuration against the none measured in the same round, so a
  // change of machine load between rounds cancels out.
  auto paired = [&](size_t k, const std::vector<double> Config::*field, bool inverse) {
    std::vector<double> v;
    for (int r = 0; r < rounds; ++r) {
      const double a = (configs[k].*field)[r], b = (configs[0].*field)[r];
      v.push_back(inverse ? ratio(b, a) : ratio(a, b));
    }
    return median(v);
  };
  std::printf("medians of same-round ratios against none\n");
  for (size_t k = 1; k < configs.size(); ++k) {
    std::printf(
        "  %-14s throughput %.3f, per CPU second %.3f | connections/s %.3f, CPU per "
        "connection %.3f | crr connections/s %.3f, CPU per connection %.3f\n",
        configs[k].name, paired(k, &Config::bps, false), paired(k, &Config::bits_per_cpu, false),
        paired(k, &Config::rate, false), paired(k, &Config::cpu_us, true),
        paired(k, &Config::crr_rate, false), paired(k, &Config::crr_cpu_us, true));
  }
  std::printf("datapath with a %d-peer policy (%zu set elements in the two tables)\n", kPeers,
              elements);
  std::printf(
      "  iperf3 throughput: no policy %.2f Gbit/s, with policy %.2f Gbit/s, ratio %.3f "
      "(target >= 0.95; same-round median %.3f); per CPU second ratio %.3f\n",
      none.bps / 1e9, big.bps / 1e9, ratio(big.bps, none.bps), paired(3, &Config::bps, false),
      ratio(big.bits_per_cpu, none.bits_per_cpu));
  std::printf(
      "  new connections/s, connect and reset: no policy %.0f, with policy %.0f, ratio %.3f "
      "(same-round median %.3f); CPU per connection %.2f vs %.2f us, ratio %.3f\n",
      none.rate, big.rate, ratio(big.rate, none.rate), paired(3, &Config::rate, false), none.cpu_us,
      big.cpu_us, ratio(none.cpu_us, big.cpu_us));
  std::printf(
      "  new connections/s, request and answer (TCP_CRR): no policy %.0f, with policy %.0f, "
      "ratio %.3f (target >= 0.90; same-round median %.3f); CPU per connection %.2f vs %.2f us, "
      "ratio %.3f\n",
      none.crr_rate, big.crr_rate, ratio(big.crr_rate, none.crr_rate),
      paired(3, &Config::crr_rate, false), none.crr_cpu_us, big.crr_cpu_us,
      ratio(none.crr_cpu_us, big.crr_cpu_us));
  std::printf(
      "  CPU per connection, differences of medians (noisy under load; bench/datapath_profile.sh "
      "splits it by function): conntrack on %+.2f us, bulkhead's rules with a 1-peer set "
      "%+.2f us, 10,000 peers instead of 1 %+.2f us\n",
      ct.cpu_us - none.cpu_us, small.cpu_us - ct.cpu_us, big.cpu_us - small.cpu_us);
  return 0;
}
