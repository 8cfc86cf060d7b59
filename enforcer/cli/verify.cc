// bulkhead verify PATH... --inventory FILE [--ports LIST]: probes every pair of endpoints for real
// and compares what got through with what the policy says.
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

#include "enforcer/cli/common.h"
#include "enforcer/cli/probe.h"
#include "policy/inspect/evaluate.h"
#include "policy/inspect/lint.h"

namespace bulkhead::cli {
namespace {

struct PortProto {
  policy::Protocol proto;
  uint16_t port;
  auto operator<=>(const PortProto&) const = default;
  std::string to_string() const {
    if (proto == policy::Protocol::icmp) return "icmp";
    return std::to_string(port) + (proto == policy::Protocol::udp ? "/udp" : "/tcp");
  }
};

std::optional<std::vector<PortProto>> parse_ports(const std::string& list) {
  std::vector<PortProto> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item == "icmp") {
      out.push_back({policy::Protocol::icmp, 0});
      continue;
    }
    auto slash = item.find('/');
    std::string num = item.substr(0, slash);
    std::string proto = slash == std::string::npos ? "tcp" : item.substr(slash + 1);
    if (num.empty() || num.size() > 5 || !std::all_of(num.begin(), num.end(), ::isdigit))
      return std::nullopt;
    unsigned long n = std::stoul(num);
    if (n == 0 || n > 65535 || (proto != "tcp" && proto != "udp")) return std::nullopt;
    out.push_back(
        {proto == "udp" ? policy::Protocol::udp : policy::Protocol::tcp, static_cast<uint16_t>(n)});
  }
  if (out.empty()) return std::nullopt;
  return out;
}

// Without --ports: every TCP/UDP port the policies name (the first port of a range, named ports
// as the endpoints define them), so each rule is exercised; 80/tcp when they name none.
std::vector<PortProto> ports_from_policy(const policy::PolicySet& set,
                                         const policy::Endpoints& endpoints) {
  std::set<PortProto> out;
  for (const auto& r : set.rules) {
    for (const auto& p : r.ports) {
      if (p.proto != policy::Protocol::tcp && p.proto != policy::Protocol::udp) continue;
      if (!p.named.empty()) {
        for (const auto& ep : endpoints)
          for (const auto& np : ep.ports)
            if (np.name == p.named && np.proto == p.proto) out.insert({p.proto, np.port});
      } else if (p.first != 0) {
        out.insert({p.proto, p.first});
      }
    }
  }
  if (out.empty()) out.insert({policy::Protocol::tcp, 80});
  return {out.begin(), out.end()};
}

// The pair of addresses a probe uses: the first of each end in the family asked for.
std::optional<std::pair<policy::IpAddr, policy::IpAddr>> pick_addresses(
    const policy::Endpoint& from, const policy::Endpoint& to, int family) {
  {
    auto f = std::find_if(from.addresses.begin(), from.addresses.end(),
                          [&](const auto& a) { return a.family == family; });
    auto t = std::find_if(to.addresses.begin(), to.addresses.end(),
                          [&](const auto& a) { return a.family == family; });
    if (f != from.addresses.end() && t != to.addresses.end()) return std::make_pair(*f, *t);
  }
  return std::nullopt;
}

struct Cell {
  bool expected = false;
  bool paired = false;  // both ends have an address of the family
  probe::Result observed;
  bool probed = false;
};

enum class Show { observed, comparison, expected };

void print_matrix(const std::vector<const policy::Endpoint*>& eps,
                  const std::vector<std::vector<Cell>>& cells, Show show) {
  size_t w = 4;
  for (auto* e : eps) w = std::max(w, e->name.size());
  std::cout << std::setw(static_cast<int>(w)) << std::left << ""
            << " ";
  for (auto* e : eps) std::cout << " " << e->name;
  std::cout << "\n";
  for (size_t i = 0; i < eps.size(); ++i) {
    std::cout << std::setw(static_cast<int>(w)) << std::left << eps[i]->name << " ";
    for (size_t j = 0; j < eps.size(); ++j) {
      const Cell& c = cells[i][j];
      char ch = '?';
      if (show == Show::expected)
        ch = !c.paired ? '-' : c.expected ? '.' : 'X';
      else if (!c.probed)
        ch = '-';
      else if (c.observed.outcome == probe::Outcome::error)
        ch = 'E';
      else if (show == Show::comparison)
        ch = (c.observed.outcome == probe::Outcome::reached) == c.expected ? '.' : 'X';
      else
        ch = c.observed.outcome == probe::Outcome::reached ? '.' : 'X';
      std::cout << " " << std::setw(static_cast<int>(eps[j]->name.size())) << std::left << ch;
    }
    std::cout << "\n";
  }
}

}  // namespace

po::options_description verify_options() {
  po::options_description opts("options");
  opts.add_options()("inventory", po::value<std::string>()->required()->value_name("FILE"),
                     "inventory file")(
      "ports", po::value<std::string>()->default_value("")->value_name("LIST"),
      "what to probe, e.g. 80/tcp,53/udp,icmp (default: the ports the policies name)")(
      "family", po::value<int>()->default_value(4)->value_name("4|6"),
      "address family to probe with: 4, or 6 (endpoints without one are left out)")(
      "timeout-ms", po::value<int>()->default_value(500)->value_name("MS"),
      "how long one probe waits")("parallel", po::value<int>()->default_value(32)->value_name("N"),
                                  "probes in flight at once")(
      "brief", po::bool_switch(), "print only what the probes saw and the verdict")(
      "expected-only", po::bool_switch(),
      "print what the policy allows, in the same matrix format, without probing");
  return opts;
}

int run_verify(const Args& args) {
  int rc = kExitUsage;
  auto vm = parse_args("verify", args, &rc);
  if (!vm) return rc;
  auto loaded = load_clean_inputs("verify", *vm);
  if (!loaded) return kExitUsage;
  const auto& set = loaded->policies.set;
  const auto& endpoints = loaded->inventory->endpoints;

  std::vector<PortProto> ports;
  if (const auto& list = (*vm)["ports"].as<std::string>(); !list.empty()) {
    auto parsed = parse_ports(list);
    if (!parsed) {
      std::cerr << "bulkhead verify: --ports: expected a list like 80/tcp,53/udp, got '" << list
                << "'\n";
      return kExitUsage;
    }
    ports = *parsed;
  } else {
    ports = ports_from_policy(set, endpoints);
  }

  const int family = (*vm)["family"].as<int>();
  if (family != 4 && family != 6) {
    std::cerr << "bulkhead verify: --family must be 4 or 6\n";
    return kExitUsage;
  }
  std::vector<const policy::Endpoint*> eps;
  for (const auto& e : endpoints) {
    bool has = std::any_of(e.addresses.begin(), e.addresses.end(),
                           [&](const auto& a) { return a.family == family; });
    if (has)
      eps.push_back(&e);
    else
      std::cerr << "bulkhead verify: " << e.name << ": no IPv" << family
                << " address in the inventory; left out\n";
  }

  // One flat batch so every probe of every port runs in parallel.
  std::vector<probe::Probe> probes;
  std::vector<std::tuple<size_t, size_t, size_t>> where;  // port, from, to
  std::vector<std::vector<std::vector<Cell>>> cells(
      ports.size(), std::vector<std::vector<Cell>>(eps.size(), std::vector<Cell>(eps.size())));
  for (size_t k = 0; k < ports.size(); ++k) {
    for (size_t i = 0; i < eps.size(); ++i) {
      for (size_t j = 0; j < eps.size(); ++j) {
        auto addrs = pick_addresses(*eps[i], *eps[j], family);
        if (!addrs) continue;
        policy::Flow flow{eps[i],        eps[j],         addrs->first,
                          addrs->second, ports[k].proto, ports[k].port};
        cells[k][i][j].expected = policy::reference_allows(set, endpoints, flow).allowed;
        cells[k][i][j].paired = true;
        probes.push_back({eps[i]->netns, addrs->second, ports[k].proto, ports[k].port});
        where.emplace_back(k, i, j);
      }
    }
  }
  if ((*vm)["expected-only"].as<bool>()) {
    // The policy's truth table alone: for review, and as the hand-checked reference that the
    // conformance suite compares live probes with (docs/kubernetes.md).
    for (size_t k = 0; k < ports.size(); ++k) {
      std::cout << ports[k].to_string() << " expected (rows: from, columns: to; \".\" allowed, "
                << "\"X\" denied):\n";
      print_matrix(eps, cells[k], Show::expected);
      std::cout << "\n";
    }
    return kExitOk;
  }
  auto results = probe::run(probes, std::chrono::milliseconds((*vm)["timeout-ms"].as<int>()),
                            (*vm)["parallel"].as<int>());
  for (size_t n = 0; n < results.size(); ++n) {
    auto [k, i, j] = where[n];
    cells[k][i][j].observed = results[n];
    cells[k][i][j].probed = true;
  }

  size_t mismatches = 0, errors = 0;
  std::ostringstream details;
  for (size_t k = 0; k < ports.size(); ++k) {
    bool any_bad = false;
    for (size_t i = 0; i < eps.size(); ++i) {
      for (size_t j = 0; j < eps.size(); ++j) {
        const Cell& c = cells[k][i][j];
        if (!c.probed) continue;
        if (c.observed.outcome == probe::Outcome::error) {
          ++errors;
          any_bad = true;
          details << "  " << eps[i]->name << " -> " << eps[j]->name << " " << ports[k].to_string()
                  << ": probe failed: " << c.observed.detail << "\n";
        } else if ((c.observed.outcome == probe::Outcome::reached) != c.expected) {
          ++mismatches;
          any_bad = true;
          details << "  " << eps[i]->name << " -> " << eps[j]->name << " " << ports[k].to_string()
                  << ": policy " << (c.expected ? "allows" : "denies") << ", probe "
                  << (c.observed.outcome == probe::Outcome::reached ? "reached" : "was blocked")
                  << " (" << c.observed.detail << ")\n";
        }
      }
    }
    std::cout << ports[k].to_string() << " observed (rows: from, columns: to; \".\" reached, "
              << "\"X\" blocked):\n";
    print_matrix(eps, cells[k], Show::observed);
    if (any_bad && !(*vm)["brief"].as<bool>()) {
      std::cout << ports[k].to_string()
                << " compared with the policy (\".\" as expected, \"X\" mismatch, \"E\" error):\n";
      print_matrix(eps, cells[k], Show::comparison);
    }
    std::cout << "\n";
  }
  if (mismatches == 0 && errors == 0) {
    std::cout << "verify: all " << probes.size() << " probes match the policy\n";
    return kExitOk;
  }
  std::cout << "verify: " << mismatches << " mismatch(es), " << errors << " probe error(s) in "
            << probes.size() << " probes"
            << ((*vm)["brief"].as<bool>() ? "\n" : ":\n" + details.str());
  return kExitNo;
}

}  // namespace bulkhead::cli
