#include "enforcer/daemon/start_gate.h"

#include <sys/stat.h>

#include <algorithm>

#include "enforcer/sources/docker/client.h"
#include "enforcer/sources/docker/json.h"
#include "netlink/ns/netns.h"
#include "netlink/tc/link_addresses.h"

namespace bulkhead::daemon {
namespace {

std::string proc_netns(int64_t pid) { return "/proc/" + std::to_string(pid) + "/ns/net"; }

class EngineLookup final : public ContainerLookup {
 public:
  EngineLookup(std::vector<std::string> sockets, std::chrono::milliseconds timeout) {
    for (auto& s : sockets) clients_.push_back(std::make_unique<docker::DockerClient>(s, timeout));
  }

  Result<std::optional<ListedContainer>> listed(const std::string& id) override {
    // Not found is an answer only when every engine answered; else the last failure says why.
    std::string failure = clients_.empty() ? "no engine source (--source docker) to ask" : "";
    for (auto& client : clients_) {
      auto resp = client->get(list_target(id));
      if (!resp.ok()) {
        failure = resp.error().to_string();
        continue;
      }
      if (resp->status != 200) {
        failure = "engine list answered " + std::to_string(resp->status) + ": " +
                  docker::parse_error_message(resp->body);
        continue;
      }
      auto list = docker::parse_container_list(resp->body);
      if (!list.ok()) {
        failure = list.error().to_string();
        continue;
      }
      // The engine's id filter also matches prefixes: take the exact one.
      for (auto& c : *list)
        if (c.id == id) return std::optional<ListedContainer>({c.id, c.name, c.labels});
    }
    if (!failure.empty()) return make_error("list container " + id, failure);
    return std::optional<ListedContainer>();
  }

  Result<NamespaceView> namespace_of(int64_t pid) override {
    auto ns = netlink::NetnsHandle::open(proc_netns(pid));
    if (!ns.ok()) return ns.error();
    NamespaceView v;
    v.inode = ns->inode();
    v.host = netlink::is_start_netns(*ns);
    if (v.host) return v;
    auto addrs = netlink::read_addresses(*ns);
    if (!addrs.ok()) return addrs.error();
    v.addresses = std::move(*addrs);
    return v;
  }

  uint64_t inode_of(int64_t pid) override {
    struct stat st {};
    if (::stat(proc_netns(pid).c_str(), &st) != 0) return 0;
    return st.st_ino;
  }

 private:
  std::vector<std::unique_ptr<docker::DockerClient>> clients_;
};

}  // namespace

std::string list_target(const std::string& id) {
  // {"id":["<id>"]}, percent-encoded; the id is [A-Za-z0-9_.-] (checked by the protocol).
  return std::string(docker::kApiPrefix) + "/containers/json?all=1&filters=%7B%22id%22%3A%5B%22" +
         id + "%22%5D%7D";
}

std::unique_ptr<ContainerLookup> make_engine_lookup(std::vector<std::string> sockets,
                                                    std::chrono::milliseconds timeout) {
  return std::make_unique<EngineLookup>(std::move(sockets), timeout);
}

std::variant<policy::Endpoint, hook::HookAnswer> StartGate::resolve(const hook::HookRequest& r) {
  using hook::HookAnswer;
  using hook::Verdict;
  // The namespace first: it is local and fast, and a host-network container needs no list.
  auto ns = lookup_.namespace_of(r.pid);
  if (!ns.ok())
    return HookAnswer{Verdict::kRefused, "namespace of pid " + std::to_string(r.pid) +
                                             " not readable: " + ns.error().to_string()};
  if (ns->host)
    return HookAnswer{Verdict::kUnselected,
                      "shares the host's network namespace: cannot be segmented there"};
  auto listed = lookup_.listed(r.id);
  if (!listed.ok()) return HookAnswer{Verdict::kRefused, listed.error().to_string()};
  if (!*listed)
    return HookAnswer{Verdict::kRefused, "container " + r.id + " is not in the engine's list"};
  policy::Endpoint ep;
  ep.name = (*listed)->name.empty() ? r.id : (*listed)->name;
  ep.netns = proc_netns(r.pid);
  ep.labels = (*listed)->labels;
  ep.addresses = std::move(ns->addresses);
  admit(ep, r.pid, ns->inode);
  return ep;
}

void StartGate::admit(const policy::Endpoint& ep, int64_t pid, uint64_t inode) {
  held_[ep.name] = Held{ep, pid, inode};
}

void StartGate::merge_into(policy::Endpoints& local) {
  bool added = false;
  for (auto it = held_.begin(); it != held_.end();) {
    const bool listed = std::any_of(local.begin(), local.end(),
                                    [&](const policy::Endpoint& e) { return e.name == it->first; });
    // Listed by a source: the source's view takes over (the same endpoint when nothing changed).
    // Gone, or a new namespace behind the pid: the container we admitted is no more.
    if (listed || lookup_.inode_of(it->second.pid) != it->second.inode) {
      it = held_.erase(it);
      continue;
    }
    local.push_back(it->second.endpoint);
    added = true;
    ++it;
  }
  if (added)
    std::sort(local.begin(), local.end(),
              [](const policy::Endpoint& a, const policy::Endpoint& b) { return a.name < b.name; });
}

void StartGate::keep_only(const std::set<std::string>& names) {
  for (auto it = at_start_.begin(); it != at_start_.end();)
    it = names.count(*it) ? std::next(it) : at_start_.erase(it);
}

}  // namespace bulkhead::daemon
