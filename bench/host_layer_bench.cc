// The host layer's apply (docs/host-layer.md) at the size of a busy host: 1,000 endpoints in 50
// groups, each group isolated both ways and admitting the next group on 8080/tcp, one bridge port
// each. Into one namespace of its own (prefix bhhb<pid>, removed at exit; needs root):
//   1. both host tables from nothing, in-process (one transaction) against `nft -f` of the same
//      text as rendered (the baseline, same process, alternating, median of 5 each);
//   2. one membership change (an endpoint gains an address): a set-element update, against the
//      full apply of 1.;
//   3. an endpoint arriving and leaving: its own chains, sets and map elements added or removed.
//   host_layer_bench [endpoints=1000]
#include <linux/netlink.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "netlink/nft/host_apply.h"
#include "netlink/nft/mnl_socket.h"
#include "netlink/ns/netns.h"
#include "policy/plan/compile.h"
#include "policy/plan/host.h"
#include "policy/plan/render.h"

namespace bh = bulkhead;
namespace pol = bulkhead::policy;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kGroups = 50;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

int sh(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

pol::LabelSelector app_is(const std::string& v) {
  pol::LabelSelector s;
  s.requirements.push_back({"app", pol::Requirement::Op::in, {v}});
  return s;
}

std::string group(int g) { return "g" + std::to_string(g); }

pol::PolicySet policies() {
  pol::PolicySet ps;
  ps.policies.push_back({"bench", "Policy", {"bench.yaml", 1, 1}, false});
  for (int g = 0; g < kGroups; ++g) {
    const pol::Subject s{app_is(group(g)), std::nullopt, group(g)};
    const pol::Origin o{"bench", "Policy", {"bench.yaml", 10 + g, 5}, false};
    ps.isolations.push_back({pol::Direction::ingress, s, o});
    ps.isolations.push_back({pol::Direction::egress, s, o});
    for (auto dir : {pol::Direction::ingress, pol::Direction::egress}) {
      pol::AllowRule a;
      a.dir = dir;
      a.subject = s;
      a.origin = o;
      const int peer = (g + 1) % kGroups;
      a.peers.push_back({pol::EndpointPeer{app_is(group(peer)), {}, group(peer)}, {}});
      pol::PortSpec p;
      p.proto = pol::Protocol::tcp;
      p.first = p.last = 8080;
      a.ports.push_back(p);
      ps.rules.push_back(a);
    }
  }
  return ps;
}

pol::IpAddr v4(uint32_t i) {
  pol::IpAddr a;
  a.bytes[0] = 198;
  a.bytes[1] = 18 + ((i >> 16) & 1);
  a.bytes[2] = (i >> 8) & 0xff;
  a.bytes[3] = i & 0xff;
  return a;
}

pol::Endpoints endpoints(int n) {
  pol::Endpoints eps;
  for (int i = 0; i < n; ++i) {
    pol::Endpoint e;
    char name[16];
    std::snprintf(name, sizeof name, "ep%05d", i);
    e.name = name;
    e.netns = "/run/netns/" + e.name;
    e.labels["app"] = group(i % kGroups);
    e.addresses.push_back(v4(static_cast<uint32_t>(i + 1)));
    eps.push_back(std::move(e));
  }
  return eps;
}

std::vector<pol::HostPort> ports(const pol::Endpoints& eps) {
  std::vector<pol::HostPort> out;
  for (size_t i = 0; i < eps.size(); ++i) out.push_back({eps[i].name, "bhv" + std::to_string(i)});
  return out;
}

pol::HostPlan host_plan(const pol::PolicySet& ps, const pol::Endpoints& eps) {
  return pol::compile_host(pol::compile(ps, eps), eps, ports(eps));
}

std::string nft_text(const pol::HostPlan& h) {
  return "table inet bulkhead-host\ndelete table inet bulkhead-host\n"
         "table bridge bulkhead-host\ndelete table bridge bulkhead-host\n" +
         pol::render_nft(*h.policy) + pol::render_nft(*h.antispoof);
}

size_t rules(const pol::HostPlan& h) {
  size_t n = 0;
  for (const auto* t : {&*h.policy, &*h.antispoof})
    for (const auto& c : t->chains) n += c.rules.size();
  return n;
}

// Five commits alternating between `a` and `b` (the first from `a`, which is in the kernel), each
// timed; one whose policy table change is not `expected` counts as a failure.
std::vector<double> back_and_forth(bh::netlink::MnlSocket& sock, const pol::HostPlan& a,
                                   const pol::HostPlan& b, bh::netlink::NftChange expected,
                                   int& failures) {
  std::vector<double> out;
  for (int rep = 0; rep < 5; ++rep) {
    const bool forward = rep % 2 == 0;
    const auto t0 = Clock::now();
    auto done = bh::netlink::commit_host_tables(sock, forward ? a : b, forward ? b : a);
    out.push_back(ms_since(t0));
    if (!done.ok() || done->policy != expected) {
      std::fprintf(stderr, "commit %d: not the expected kind of change\n", rep);
      ++failures;
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 1000;
  const std::string ns = "bhhb" + std::to_string(getpid());
  if (sh("ip netns add " + ns) != 0) return 2;
  char tmpl[] = "/tmp/bhhbXXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 2;
  const std::string file = std::string(tmpl) + "/host.nft";
  int failures = 0;
  {
    auto handle = bh::netlink::NetnsHandle::open("/run/netns/" + ns);
    auto sock = handle.ok() ? bh::netlink::MnlSocket::open_in(*handle, NETLINK_NETFILTER)
                            : bh::Result<bh::netlink::MnlSocket>(handle.error());
    if (!sock.ok()) {
      std::fprintf(stderr, "socket: %s\n", sock.error().to_string().c_str());
      sh("ip netns del " + ns);
      return 2;
    }
    const pol::PolicySet ps = policies();
    pol::Endpoints eps = endpoints(n);
    auto t0 = Clock::now();
    const pol::HostPlan host = host_plan(ps, eps);
    const double compile_ms = ms_since(t0);
    std::ofstream(file) << nft_text(host);

    // 1. From nothing, both ways alternating.
    std::vector<double> ours, nft;
    for (int rep = 0; rep < 5; ++rep) {
      if (!bh::netlink::delete_host_tables(*sock).ok()) ++failures;
      t0 = Clock::now();
      auto done = bh::netlink::commit_host_tables(*sock, std::nullopt, host);
      ours.push_back(ms_since(t0));
      if (!done.ok()) {
        std::fprintf(stderr, "apply: %s\n", done.error().to_string().c_str());
        ++failures;
      }
      if (!bh::netlink::delete_host_tables(*sock).ok()) ++failures;
      t0 = Clock::now();
      if (sh("ip netns exec " + ns + " nft -f " + file) != 0) ++failures;
      nft.push_back(ms_since(t0));
    }
    std::printf(
        "host layer, %d endpoints (%zu rules, %zu sets; compile %.1f ms): in-process median "
        "%.1f ms, nft -f median %.1f ms, ratio %.2fx\n",
        n, rules(host), host.policy->sets.size() + host.antispoof->sets.size(), compile_ms,
        median(ours), median(nft), median(nft) / median(ours));

    // 2. One membership change: ep00000 gains an address.
    if (!bh::netlink::delete_host_tables(*sock).ok()) ++failures;
    if (!bh::netlink::commit_host_tables(*sock, std::nullopt, host).ok()) ++failures;
    pol::Endpoints moved = eps;
    moved[0].addresses.push_back(v4(static_cast<uint32_t>(n + 100)));
    const pol::HostPlan next = host_plan(ps, moved);
    const auto change =
        back_and_forth(*sock, host, next, bh::netlink::NftChange::elements, failures);
    std::printf(
        "one membership change: median %.2f ms (element update), %.0fx faster than the full "
        "apply\n",
        median(change), median(ours) / median(change));

    // 3. An endpoint arriving.
    pol::Endpoints more = eps;
    pol::Endpoint extra = more.back();
    extra.name = "ep99999";
    extra.addresses = {v4(static_cast<uint32_t>(n + 200))};
    more.push_back(extra);
    const pol::HostPlan arrived = host_plan(ps, more);
    const auto arrive =
        back_and_forth(*sock, host, arrived, bh::netlink::NftChange::objects, failures);
    std::printf(
        "one endpoint arriving or leaving: median %.2f ms (its own objects only), %.3f of the "
        "full apply\n",
        median(arrive), median(arrive) / median(ours));
    if (!bh::netlink::delete_host_tables(*sock).ok()) ++failures;
  }
  sh("ip netns del " + ns);
  sh(std::string("rm -rf ") + tmpl);
  if (failures) std::fprintf(stderr, "%d failures\n", failures);
  return failures ? 1 : 0;
}
