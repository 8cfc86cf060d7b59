#include "enforcer/sources/docker/endpoints.h"

#include <algorithm>
#include <map>
#include <optional>

namespace bulkhead::daemon::docker {
namespace {

constexpr std::string_view kJoinPrefix = "container:";
// Docker refuses to join a container that itself joined another, but a hostile or confused
// engine could say otherwise: follow a few hops, never loop.
constexpr int kMaxHops = 8;

class Index {
 public:
  explicit Index(const std::vector<const ContainerInfo*>& running) {
    for (const ContainerInfo* c : running) {
      by_id_.emplace(c->id, c);
      by_name_.emplace(c->name, c);
    }
  }

  // By full id, name, or unique id prefix (what a user may type after `container:`).
  const ContainerInfo* find(const std::string& ref) const {
    if (ref.empty()) return nullptr;
    if (auto it = by_id_.find(ref); it != by_id_.end()) return it->second;
    if (auto it = by_name_.find(ref); it != by_name_.end()) return it->second;
    const ContainerInfo* found = nullptr;
    for (auto it = by_id_.lower_bound(ref); it != by_id_.end() && it->first.rfind(ref, 0) == 0;
         ++it) {
      if (found != nullptr) return nullptr;
      found = it->second;
    }
    return found;
  }

 private:
  std::map<std::string, const ContainerInfo*> by_id_;
  std::map<std::string, const ContainerInfo*> by_name_;
};

std::optional<std::string> joined_ref(const ContainerInfo& c) {
  if (c.network_mode.rfind(kJoinPrefix, 0) != 0) return std::nullopt;
  return c.network_mode.substr(kJoinPrefix.size());
}

// The container whose namespace `c` uses. A container that joined one that is not running (or
// not known) still has the namespace through its own process: it is its own owner then.
const ContainerInfo* owner_of(const ContainerInfo* c, const Index& index) {
  for (int hop = 0; hop < kMaxHops; ++hop) {
    auto ref = joined_ref(*c);
    if (!ref) return c;
    const ContainerInfo* next = index.find(*ref);
    if (next == nullptr || next == c) return c;
    c = next;
  }
  return c;
}

std::string join_names(const std::vector<const ContainerInfo*>& members) {
  std::string out;
  for (const ContainerInfo* m : members) {
    if (!out.empty()) out += ",";
    out += m->name;
  }
  return out;
}

bool same_endpoint(const policy::Endpoint& a, const policy::Endpoint& b) {
  if (a.name != b.name || a.netns != b.netns || a.labels != b.labels ||
      a.addresses != b.addresses || a.host_network != b.host_network ||
      a.privileged != b.privileged || a.net_admin != b.net_admin ||
      a.ports.size() != b.ports.size()) {
    return false;
  }
  for (size_t i = 0; i < a.ports.size(); ++i) {
    if (a.ports[i].name != b.ports[i].name || a.ports[i].port != b.ports[i].port ||
        a.ports[i].proto != b.ports[i].proto) {
      return false;
    }
  }
  return true;
}

}  // namespace

EndpointView build_endpoints(const std::vector<ContainerInfo>& containers) {
  std::vector<const ContainerInfo*> running;
  for (const ContainerInfo& c : containers) {
    if (c.pid > 0) running.push_back(&c);
  }
  std::sort(running.begin(), running.end(),
            [](const ContainerInfo* a, const ContainerInfo* b) { return a->name < b->name; });
  Index index(running);

  EndpointView view;
  // Owner -> the containers that joined its namespace, in name order.
  std::map<const ContainerInfo*, std::vector<const ContainerInfo*>> groups;
  for (const ContainerInfo* c : running) {
    const ContainerInfo* owner = owner_of(c, index);
    if (owner->network_mode == "host") {
      view.unenforceable.push_back(
          {c->name, owner == c ? "network_mode host: shares the host's network namespace"
                               : "network_mode container:" + owner->name +
                                     ", which shares the host's network namespace"});
      continue;
    }
    auto& members = groups[owner];
    if (owner != c) members.push_back(c);
  }

  for (const auto& [owner, members] : groups) {
    policy::Endpoint ep;
    ep.name = owner->name;
    ep.netns = "/proc/" + std::to_string(owner->pid) + "/ns/net";
    ep.labels = owner->labels;
    ep.addresses = owner->addresses;
    ep.privileged = owner->privileged;
    ep.net_admin = owner->net_admin;
    // Any member's privilege reaches the shared namespace's firewall, so it counts for the
    // endpoint. On a label conflict the owner wins, then the member first in name order.
    for (const ContainerInfo* m : members) {
      for (const auto& [k, v] : m->labels) ep.labels.emplace(k, v);
      ep.addresses.insert(ep.addresses.end(), m->addresses.begin(), m->addresses.end());
      ep.privileged = ep.privileged || m->privileged;
      ep.net_admin = ep.net_admin || m->net_admin;
    }
    if (!members.empty()) ep.labels[kMembersLabel] = join_names(members);
    std::sort(ep.addresses.begin(), ep.addresses.end());
    ep.addresses.erase(std::unique(ep.addresses.begin(), ep.addresses.end()), ep.addresses.end());
    view.endpoints.push_back(std::move(ep));
  }
  std::sort(view.endpoints.begin(), view.endpoints.end(),
            [](const policy::Endpoint& a, const policy::Endpoint& b) { return a.name < b.name; });
  std::sort(view.unenforceable.begin(), view.unenforceable.end(),
            [](const Unenforceable& a, const Unenforceable& b) { return a.name < b.name; });
  return view;
}

bool same_view(const EndpointView& a, const EndpointView& b) {
  if (a.endpoints.size() != b.endpoints.size() ||
      a.unenforceable.size() != b.unenforceable.size()) {
    return false;
  }
  for (size_t i = 0; i < a.endpoints.size(); ++i) {
    if (!same_endpoint(a.endpoints[i], b.endpoints[i])) return false;
  }
  for (size_t i = 0; i < a.unenforceable.size(); ++i) {
    if (a.unenforceable[i].name != b.unenforceable[i].name ||
        a.unenforceable[i].reason != b.unenforceable[i].reason) {
      return false;
    }
  }
  return true;
}

}  // namespace bulkhead::daemon::docker
