// compile() at the size of a busy host: 1,000 endpoints, 200 allow rules over 50 groups (built in
// code, no YAML). Baseline in the same process: the same policy over 100 endpoints, so the printed
// ratio shows how compile time grows with the endpoint count (10x endpoints; linear growth would
// be a ratio near 10, and each table also grows with its peer sets' membership).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>

#include "policy/plan/compile.h"

namespace bulkhead::policy {
namespace {

constexpr int kGroups = 50;
constexpr int kRules = 200;

LabelSelector app_is(const std::string& v) {
  LabelSelector s;
  s.requirements.push_back({"app", Requirement::Op::in, {v}});
  return s;
}

std::string group_name(int g) { return "g" + std::to_string(g); }

PolicySet make_policies() {
  PolicySet ps;
  ps.policies.push_back({"bench", "Policy", {"bench.yaml", 1, 1}, false});
  for (int g = 0; g < kGroups; ++g) {
    const Subject s{app_is(group_name(g)), std::nullopt, group_name(g)};
    const Origin o{"bench", "Policy", {"bench.yaml", 10 + g, 5}, false};
    ps.isolations.push_back({Direction::ingress, s, o});
    ps.isolations.push_back({Direction::egress, s, o});
  }
  for (int r = 0; r < kRules; ++r) {
    AllowRule a;
    a.dir = r % 2 ? Direction::egress : Direction::ingress;
    const int g = r % kGroups;
    a.subject = Subject{app_is(group_name(g)), std::nullopt, group_name(g)};
    a.origin = {"bench", "Policy", {"bench.yaml", 100 + r, 7}, false};
    for (int k = 1; k <= 3; ++k) {
      const int peer = (g * 7 + r + k * 11) % kGroups;
      a.peers.push_back(
          {EndpointPeer{app_is(group_name(peer)), NamespaceScope{}, group_name(peer)}, {}});
    }
    if (r % 10 == 0) {
      CidrPeer c{*Cidr::parse("198.19.0.0/16"), {*Cidr::parse("198.19.4.0/24")}};
      a.peers.push_back({c, {}});
    }
    PortSpec p;
    p.proto = Protocol::tcp;
    p.first = p.last = static_cast<uint16_t>(8000 + r % 20);
    a.ports.push_back(p);
    if (r % 5 == 0) {
      PortSpec n;
      n.proto = Protocol::tcp;
      n.named = "http";
      a.ports.push_back(n);
    }
    ps.rules.push_back(std::move(a));
  }
  return ps;
}

Endpoints make_endpoints(int n) {
  Endpoints eps;
  for (int i = 0; i < n; ++i) {
    Endpoint e;
    char name[16];
    std::snprintf(name, sizeof name, "ep%04d", i);
    e.name = name;
    e.netns = "/run/netns/" + e.name;
    e.labels["app"] = group_name(i % kGroups);
    e.addresses.push_back(
        *IpAddr::parse("198.18." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1)));
    if (i % 4 == 0) e.addresses.push_back(*IpAddr::parse("2001:db8::" + std::to_string(i + 1)));
    e.ports.push_back({"http", static_cast<uint16_t>(i % 3 ? 8080 : 80), Protocol::tcp});
    eps.push_back(std::move(e));
  }
  return eps;
}

void compile_n(benchmark::State& state) {
  const PolicySet ps = make_policies();
  const Endpoints eps = make_endpoints(static_cast<int>(state.range(0)));
  size_t rules = 0, elements = 0, sets = 0;
  for (auto _ : state) {
    Plan plan = compile(ps, eps);
    benchmark::DoNotOptimize(plan);
    rules = elements = sets = 0;
    for (const auto& ep : plan.endpoints) {
      if (!ep.table) continue;
      sets += ep.table->sets.size();
      for (const auto& s : ep.table->sets) elements += s.elements.size();
      for (const auto& c : ep.table->chains) rules += c.rules.size();
    }
  }
  state.counters["endpoints"] = static_cast<double>(eps.size());
  state.counters["rules"] = static_cast<double>(rules);
  state.counters["sets"] = static_cast<double>(sets);
  state.counters["elements"] = static_cast<double>(elements);
}
BENCHMARK(compile_n)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

// Remembers each run's time per iteration so main() can print the ratio.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      if (r.iterations > 0) {
        ms_[r.benchmark_name()] = r.GetAdjustedRealTime();
        cpu_ms_[r.benchmark_name()] = r.GetAdjustedCPUTime();
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  double ms(const std::string& name) const { return get(ms_, name); }
  double cpu_ms(const std::string& name) const { return get(cpu_ms_, name); }

 private:
  static double get(const std::map<std::string, double>& m, const std::string& name) {
    auto it = m.find(name);
    return it == m.end() ? 0 : it->second;
  }
  std::map<std::string, double> ms_;
  std::map<std::string, double> cpu_ms_;
};

}  // namespace
}  // namespace bulkhead::policy

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  bulkhead::policy::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  const double big = reporter.ms("compile_n/1000");
  const double small = reporter.ms("compile_n/100");
  const double big_cpu = reporter.cpu_ms("compile_n/1000");
  const double small_cpu = reporter.cpu_ms("compile_n/100");
  if (big > 0 && small > 0 && small_cpu > 0) {
    // CPU time is the figure to compare on a shared machine; wall time includes waiting for a core.
    std::printf(
        "compile of 1000 endpoints x %d rules over %d groups: %.2f ms CPU, %.2f ms wall "
        "(target < 50 ms); 100 endpoints: %.2f ms CPU; ratio 1000/100 = %.1f "
        "(10 = linear in endpoints; the output itself grows ~100x: set elements scale with "
        "endpoints x group size)\n",
        bulkhead::policy::kRules, bulkhead::policy::kGroups, big_cpu, big, small_cpu,
        big_cpu / small_cpu);
  }
  benchmark::Shutdown();
  return 0;
}
