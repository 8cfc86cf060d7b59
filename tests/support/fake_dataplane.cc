#include "tests/support/fake_dataplane.h"

#include <cerrno>

#include "netlink/nft/read.h"
#include "netlink/tc/shaping.h"

namespace bulkhead::netlink {
namespace {

std::string limit_text(const std::optional<policy::TcLimit>& l) {
  if (!l) return "-";
  return std::to_string(l->rate_bits) + "bit/" + std::to_string(l->burst_bytes) + "B";
}

}  // namespace

std::optional<Error> FakeDataplane::take_failure(const std::string& path, const std::string& what) {
  auto it = failures_.find(path);
  if (it == failures_.end()) return std::nullopt;
  Error e = std::move(it->second);
  failures_.erase(it);
  lines_.push_back("error " + what + ": " + e.to_string());
  return e;
}

Status FakeDataplane::apply(const policy::EndpointPlan& plan, ApplyOutcome* outcome) {
  const std::string what = "apply " + plan.endpoint + " (" + plan.netns + ")";
  if (auto e = take_failure(plan.netns, what)) return *e;
  if (missing_[plan.netns]) {
    lines_.push_back("error " + what + ": namespace missing");
    return make_error("open netns " + plan.netns, "cannot open", ENOENT);
  }
  Observed& cur = state_[plan.netns];
  NftDelta delta = plan_nft_delta(cur.table, plan.table);
  std::string line = what + ":";
  bool changed = false;
  switch (delta.change) {
    case NftChange::none:
    case NftChange::objects:  // plan_nft_delta never plans it
      break;
    case NftChange::elements:
      line += " nft elements";
      for (const auto& e : delta.elements) {
        line += " " + e.set.name + " +" + std::to_string(e.add.size()) + " -" +
                std::to_string(e.remove.size());
      }
      changed = true;
      break;
    case NftChange::replaced:
    case NftChange::deleted:
      line += std::string(" nft ") + to_string(delta.change);
      changed = true;
      break;
  }
  if (plan.table) {
    cur.table = kernel_form(*plan.table);
  } else {
    cur.table.reset();
  }
  bool tc_changed = !tc_equivalent(cur.tc, plan.tc);
  if (tc_changed) {
    line += changed ? "," : "";
    line += plan.tc.empty() ? " tc removed"
                            : " tc egress=" + limit_text(plan.tc.egress) +
                                  " ingress=" + limit_text(plan.tc.ingress);
    cur.tc = plan.tc;
  }
  if (changed || tc_changed) lines_.push_back(line);
  if (outcome) *outcome = ApplyOutcome{delta.change, tc_changed};
  return {};
}

Status FakeDataplane::remove(const std::string& path) {
  if (auto e = take_failure(path, "remove " + path)) return *e;
  lines_.push_back("remove " + path);
  state_.erase(path);
  return {};
}

Status FakeDataplane::apply_host(const std::string& host_netns, const policy::HostPlan& plan) {
  if (auto e = take_failure(host_netns, "apply host " + host_netns)) return *e;
  std::string names;
  for (const auto& n : plan.endpoints) names += (names.empty() ? "" : ",") + n;
  const size_t chains = plan.policy ? plan.policy->chains.size() : 0;
  const size_t ports = plan.antispoof ? plan.antispoof->chains.front().rules.size() : 0;
  lines_.push_back("apply host " + host_netns + ": endpoints " + (names.empty() ? "-" : names) +
                   "; policy " + std::to_string(chains) + " chains; antispoof " +
                   std::to_string(ports) + " ports");
  host_plan_ = plan;
  return {};
}

Result<HostPortScan> FakeDataplane::host_ports(const std::string& netns, const std::string&) {
  auto it = host_ports_.find(netns);
  return it == host_ports_.end() ? HostPortScan{} : it->second;
}

Result<bool> FakeDataplane::host_sees_bridged_traffic(const std::string&) { return bridged_seen_; }

Result<std::map<std::string, ChainDrops>> FakeDataplane::host_drops(const std::string&) {
  ++observations_;
  return host_drops_;
}

void FakeDataplane::set_host_ports(const std::string& netns_path, HostPortScan scan) {
  host_ports_[netns_path] = std::move(scan);
}

Result<Observed> FakeDataplane::observe(const std::string& path) {
  ++observations_;
  if (missing_[path]) return make_error("open netns " + path, "cannot open", ENOENT);
  auto it = state_.find(path);
  if (it == state_.end()) return Observed{};
  return it->second;
}

void FakeDataplane::forget(const std::string& path) { lines_.push_back("forget " + path); }

std::string FakeDataplane::text() const {
  std::string out;
  for (const auto& l : lines_) out += l + "\n";
  return out;
}

void FakeDataplane::fail_next(const std::string& path, Error error) {
  failures_[path] = std::move(error);
}

void FakeDataplane::set_observed(const std::string& path, Observed observed) {
  state_[path] = std::move(observed);
}

void FakeDataplane::set_missing(const std::string& path, bool missing) { missing_[path] = missing; }

}  // namespace bulkhead::netlink
