// Applying tables in-process (one netlink transaction per namespace) against the nft tool
// (`ip netns exec NS nft -f FILE`), and element-only updates across many namespaces.
// Creates and removes its own namespaces (prefix bhb<pid>-); needs root.
//   apply_bench [namespaces=100,500] [update_namespaces=200] [peers=10000]
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

#include "netlink/dataplane.h"
#include "netlink/nft/apply.h"
#include "netlink/nft/mnl_socket.h"
#include "netlink/nft/read.h"
#include "netlink/ns/netns.h"
#include "policy/plan/render.h"

namespace bh = bulkhead;
namespace pol = bulkhead::policy;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

int sh(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// Namespaces this run made; removed on every exit path of main.
class Namespaces {
 public:
  explicit Namespaces(std::string prefix) : prefix_(std::move(prefix)) {}
  ~Namespaces() {
    for (const auto& n : names_) sh("ip netns del " + n + " 2>/dev/null");
  }
  bool add(const std::string& name) {
    std::string full = prefix_ + name;
    if (sh("ip netns add " + full) != 0) return false;
    names_.push_back(full);
    return true;
  }
  const std::vector<std::string>& names() const { return names_; }
  static std::string path(const std::string& n) { return "/run/netns/" + n; }

 private:
  std::string prefix_;
  std::vector<std::string> names_;
};

pol::IpAddr v4(uint32_t host_index) {
  pol::IpAddr a;
  a.family = 4;
  a.bytes[0] = 198;
  a.bytes[1] = 18 + ((host_index >> 16) & 1);
  a.bytes[2] = (host_index >> 8) & 0xff;
  a.bytes[3] = host_index & 0xff;
  return a;
}

pol::NftRule base(pol::RuleKind k) {
  pol::NftRule r;
  r.kind = k;
  r.counter = false;
  return r;
}

// Four base rules, 15 allow rules over three sets, the final drop: 20 rules.
pol::NftTable twenty_rule_table(size_t peers) {
  pol::NftTable t;
  for (int s = 0; s < 3; ++s) {
    pol::NftSet set{"peers" + std::to_string(s), 4, false, {}};
    size_t n = s == 0 ? peers : 8;
    std::vector<pol::AddrRange> elements;
    for (size_t i = 0; i < n; ++i) {
      auto a = v4(static_cast<uint32_t>(s * 20000 + i + 1));
      elements.push_back({a, a});
    }
    std::sort(elements.begin(), elements.end());
    set.elements = std::move(elements);
    t.sets.push_back(std::move(set));
  }
  pol::NftChain in{"ingress", pol::Hook::input, 0, {}};
  in.rules = {base(pol::RuleKind::ct_established_accept), base(pol::RuleKind::ct_invalid_drop),
              base(pol::RuleKind::loopback_accept), base(pol::RuleKind::icmpv6_nd_accept)};
  for (int i = 0; i < 15; ++i) {
    pol::NftRule r;
    r.family = 4;
    r.peer_set = "peers" + std::to_string(i % 3);
    r.proto = i % 2 ? pol::L4::udp : pol::L4::tcp;
    r.port_first = static_cast<uint16_t>(8000 + i);
    r.port_last = static_cast<uint16_t>(8000 + i + (i % 4 == 0 ? 10 : 0));
    r.comment = "bench rule " + std::to_string(i);
    in.rules.push_back(r);
  }
  pol::NftRule drop;
  drop.kind = pol::RuleKind::final_drop;
  in.rules.push_back(drop);
  t.chains.push_back(in);
  return t;
}

// What an nft user writes for the same atomic replace.
std::string nft_file(const pol::NftTable& t, const std::string& path) {
  std::ofstream f(path);
  f << "table inet bulkhead\ndelete table inet bulkhead\n" << pol::render_nft(t);
  return path;
}

bool check(const std::string& ns, const pol::NftTable& want) {
  auto h = bh::netlink::NetnsHandle::open(Namespaces::path(ns));
  if (!h.ok()) return false;
  auto s = bh::netlink::MnlSocket::open_in(*h, NETLINK_NETFILTER);
  if (!s.ok()) return false;
  auto t = bh::netlink::read_table(*s);
  return t.ok() && t->has_value() && **t == bh::netlink::kernel_form(want);
}

}  // namespace

int main(int argc, char** argv) {
  // Each count gets namespaces of its own, so every apply meets a namespace that never had rules.
  std::vector<size_t> counts;
  {
    std::string list = argc > 1 ? argv[1] : "100,500";
    for (size_t pos = 0; pos < list.size();) {
      size_t comma = list.find(',', pos);
      if (comma == std::string::npos) comma = list.size();
      counts.push_back(std::stoul(list.substr(pos, comma - pos)));
      pos = comma + 1;
    }
  }
  size_t n_apply = 0;
  for (size_t c : counts) n_apply += c;
  size_t n_update = argc > 2 ? std::stoul(argv[2]) : 200;
  size_t n_peers = argc > 3 ? std::stoul(argv[3]) : 10000;
  const std::string prefix = "bhb" + std::to_string(getpid()) + "-";
  char tmpl[] = "/tmp/bhbenchXXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 2;
  const std::string dir = tmpl;
  int failures = 0;

  {
    Namespaces nets(prefix);
    for (size_t i = 0; i < std::max(n_apply, n_update); ++i) {
      if (!nets.add("o" + std::to_string(i))) return 2;
    }
    for (size_t i = 0; i < n_apply; ++i) {
      if (!nets.add("n" + std::to_string(i))) return 2;
    }
    std::vector<std::string> ours(nets.names().begin(),
                                  nets.names().begin() + std::max(n_apply, n_update));
    std::vector<std::string> theirs(nets.names().begin() + std::max(n_apply, n_update),
                                    nets.names().end());

    // 1. A 20-rule table into fresh namespaces. The two ways alternate, so both see the same
    // machine load; medians keep a busy moment from deciding the ratio.
    pol::NftTable small = twenty_rule_table(8);
    std::string file = nft_file(small, dir + "/small.nft");
    auto dp = bh::netlink::make_kernel_dataplane();
    size_t first = 0;
    for (size_t count : counts) {
      std::vector<double> ours_each, nft_each;
      for (size_t i = first; i < first + count; ++i) {
        pol::EndpointPlan p;
        p.endpoint = ours[i];
        p.netns = Namespaces::path(ours[i]);
        p.table = small;
        auto t0 = Clock::now();
        if (auto st = dp->apply(p); !st.ok()) {
          std::fprintf(stderr, "apply: %s\n", st.error().to_string().c_str());
          ++failures;
        }
        ours_each.push_back(ms_since(t0));
        t0 = Clock::now();
        if (sh("ip netns exec " + theirs[i] + " nft -f " + file) != 0) ++failures;
        nft_each.push_back(ms_since(t0));
      }
      if (!check(ours[first], small) || !check(theirs[first], small)) {
        std::fprintf(stderr, "read-back mismatch after the 20-rule apply\n");
        ++failures;
      }
      auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
      };
      auto sum = [](const std::vector<double>& v) {
        double t = 0;
        for (double x : v) t += x;
        return t;
      };
      double ours_med = median(ours_each), nft_med = median(nft_each);
      auto pct = [](std::vector<double> v, double q) {
        std::sort(v.begin(), v.end());
        return v[std::min(v.size() - 1, static_cast<size_t>(v.size() * q))];
      };
      std::printf(
          "20-rule table into %zu namespaces: in-process median %.3f ms/ns, nft -f median "
          "%.3f ms/ns, ratio %.1fx (target >= 40x); totals %.1f ms vs %.1f ms (%.1fx)\n",
          count, ours_med, nft_med, nft_med / ours_med, sum(ours_each), sum(nft_each),
          sum(nft_each) / sum(ours_each));
      std::printf(
          "  in-process p10 %.3f p90 %.3f max %.3f ms; nft -f p10 %.1f p90 %.1f max %.1f ms\n",
          pct(ours_each, 0.1), pct(ours_each, 0.9), pct(ours_each, 1.0), pct(nft_each, 0.1),
          pct(nft_each, 0.9), pct(nft_each, 1.0));
      first += count;
    }

    // 2. One namespace, a set of n_peers addresses; best of three replaces each way.
    pol::NftTable big = twenty_rule_table(n_peers);
    std::string big_file = nft_file(big, dir + "/big.nft");
    double best_ours = 1e9, best_nft = 1e9;
    for (int rep = 0; rep < 3; ++rep) {
      auto t0 = Clock::now();
      auto h = bh::netlink::NetnsHandle::open(Namespaces::path(ours[0]));
      auto s = h.ok() ? bh::netlink::MnlSocket::open_in(*h, NETLINK_NETFILTER)
                      : bh::Result<bh::netlink::MnlSocket>(h.error());
      bh::Status st = s.ok() ? bh::netlink::replace_table(*s, big) : bh::Status(s.error());
      best_ours = std::min(best_ours, ms_since(t0));
      if (!st.ok()) {
        std::fprintf(stderr, "big replace: %s\n", st.error().to_string().c_str());
        ++failures;
      }
      t0 = Clock::now();
      if (sh("ip netns exec " + theirs[0] + " nft -f " + big_file) != 0) ++failures;
      best_nft = std::min(best_nft, ms_since(t0));
    }
    if (!check(ours[0], big) || !check(theirs[0], big)) {
      std::fprintf(stderr, "read-back mismatch after the %zu-peer apply\n", n_peers);
      ++failures;
    }
    std::printf(
        "%zu-peer set, one namespace (best of 3): in-process %.2f ms, nft -f %.2f ms, "
        "ratio %.1fx (target >= 4x)\n",
        n_peers, best_ours, best_nft, best_nft / best_ours);

    // 3. Element-only updates through the cached dataplane.
    for (size_t i = 0; i < n_update; ++i) {
      pol::EndpointPlan p;
      p.endpoint = ours[i];
      p.netns = Namespaces::path(ours[i]);
      p.table = small;
      if (!dp->apply(p).ok()) ++failures;
    }
    pol::NftTable grown = small;
    auto extra = v4(60000);
    grown.sets[1].elements.push_back({extra, extra});
    std::vector<double> each;
    size_t element_only = 0;
    auto t_all = Clock::now();
    for (size_t i = 0; i < n_update; ++i) {
      pol::EndpointPlan p;
      p.endpoint = ours[i];
      p.netns = Namespaces::path(ours[i]);
      p.table = grown;
      auto t1 = Clock::now();
      bh::netlink::ApplyOutcome out;
      if (!dp->apply(p, &out).ok()) ++failures;
      each.push_back(ms_since(t1));
      if (out.nft == bh::netlink::NftChange::elements) ++element_only;
    }
    double total = ms_since(t_all);
    std::sort(each.begin(), each.end());
    if (element_only != n_update || !check(ours[n_update - 1], grown)) {
      std::fprintf(stderr, "element update was not element-only everywhere (%zu of %zu)\n",
                   element_only, n_update);
      ++failures;
    }
    std::printf(
        "element update in %zu namespaces: %.3f ms/ns average, median %.3f, p99 %.3f "
        "(target < 1 ms)\n",
        n_update, total / n_update, each[each.size() / 2],
        each[std::min(each.size() - 1, each.size() * 99 / 100)]);
  }
  sh("rm -rf " + dir);
  return failures == 0 ? 0 : 1;
}
