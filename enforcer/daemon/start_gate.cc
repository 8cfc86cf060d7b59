#include "enforcer/daemon/start_gate.h"

#include <sys/stat.h>

#include <algorithm>

#include "enforcer/daemon/created_watch.h"
#include "enforcer/sources/docker/client.h"
#include "enforcer/sources/docker/endpoints.h"
#include "enforcer/sources/docker/json.h"
#include "netlink/ns/netns.h"
#include "netlink/tc/link_addresses.h"

namespace bulkhead::daemon {
namespace {

std::string proc_netns(int64_t pid) { return "/proc/" + std::to_string(pid) + "/ns/net"; }

std::string join_ids(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ", ") + id;
  return out;
}

std::optional<std::string> first_common(const std::set<std::string>& a,
                                        const std::set<std::string>& b) {
  for (const auto& k : a)
    if (b.count(k) > 0) return k;
  return std::nullopt;
}

class EngineLookup final : public ContainerLookup {
 public:
  EngineLookup(std::vector<std::string> sockets, std::chrono::milliseconds timeout)
      : event_wait_(timeout) {
    for (auto& s : sockets) {
      clients_.push_back(std::make_unique<docker::DockerClient>(s, timeout));
      created_.push_back(std::make_unique<CreatedWatch>(s, timeout));
    }
  }

  Result<std::map<std::string, ListedContainer>> listed(
      const std::vector<std::string>& ids) override {
    std::map<std::string, ListedContainer> found;
    std::vector<std::string> missing;
    // Podman's late create events get the list's bound, then the list its own: together the
    // daemon's hook deadline, within the hook's own timeout.
    const auto deadline = std::chrono::steady_clock::now() + event_wait_;
    for (const auto& id : ids) {
      if (auto c = prefetched(id, deadline))
        found[id] = std::move(*c);
      else
        missing.push_back(id);
    }
    if (missing.empty()) return found;
    // Not found is an answer only when every engine answered; else the last failure says why.
    std::string failure = clients_.empty() ? "no engine source (--source docker) to ask" : "";
    for (auto& client : clients_) {
      auto listed = list_by_id(*client, missing);
      if (!listed.ok()) {
        failure = listed.error().to_string();
        continue;
      }
      found.merge(*listed);
    }
    if (!failure.empty() && found.size() < ids.size())
      return make_error("list containers " + join_ids(missing), failure);
    return found;
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

  uint64_t netns_inode(const std::string& path) override {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return 0;
    return st.st_ino;
  }

 private:
  std::optional<ListedContainer> prefetched(const std::string& id,
                                            std::chrono::steady_clock::time_point deadline) const {
    for (const auto& w : created_)
      if (auto c = w->find(id)) return c;
    for (const auto& w : created_)
      if (auto c = w->find(id, deadline)) return c;
    return std::nullopt;
  }

  std::chrono::milliseconds event_wait_;
  std::vector<std::unique_ptr<docker::DockerClient>> clients_;
  std::vector<std::unique_ptr<CreatedWatch>> created_;
};

}  // namespace

std::string list_target(const std::vector<std::string>& ids) {
  // {"id":["<id>",...]}, percent-encoded; ids are [A-Za-z0-9_.-] (checked by the protocol). The
  // engine ORs the values of one filter key.
  std::string quoted;
  for (const auto& id : ids) quoted += (quoted.empty() ? "%22" : "%2C%22") + id + "%22";
  return std::string(docker::kApiPrefix) + "/containers/json?all=1&filters=%7B%22id%22%3A%5B" +
         quoted + "%5D%7D";
}

std::unique_ptr<ContainerLookup> make_engine_lookup(std::vector<std::string> sockets,
                                                    std::chrono::milliseconds timeout) {
  return std::make_unique<EngineLookup>(std::move(sockets), timeout);
}

std::vector<StartGate::Resolved> StartGate::resolve(const std::vector<hook::HookRequest>& requests,
                                                    const policy::Endpoints& known,
                                                    const std::set<std::string>& read_keys) {
  using hook::HookAnswer;
  using hook::Verdict;
  std::vector<Resolved> out(requests.size());
  // Namespaces first: they are local and fast, and a host-network container needs no list.
  std::vector<std::optional<NamespaceView>> views(requests.size());
  std::vector<std::string> to_list;
  for (size_t i = 0; i < requests.size(); ++i) {
    const auto& r = requests[i];
    auto ns = lookup_.namespace_of(r.pid);
    if (!ns.ok()) {
      out[i] = HookAnswer{Verdict::kRefused, "namespace of pid " + std::to_string(r.pid) +
                                                 " not readable: " + ns.error().to_string()};
    } else if (ns->host) {
      out[i] = HookAnswer{Verdict::kUnselected,
                          "shares the host's network namespace: cannot be segmented there"};
    } else {
      views[i] = std::move(*ns);
      to_list.push_back(r.id);
    }
  }
  if (to_list.empty()) return out;
  auto listed = lookup_.listed(to_list);
  for (size_t i = 0; i < requests.size(); ++i) {
    if (!views[i]) continue;
    const auto& r = requests[i];
    if (!listed.ok()) {
      out[i] = HookAnswer{Verdict::kRefused, listed.error().to_string()};
      continue;
    }
    auto it = listed->find(r.id);
    if (it == listed->end()) {
      out[i] = HookAnswer{Verdict::kRefused, "container " + r.id + " is not in the engine's list"};
      continue;
    }
    if (auto key = first_common(it->second.hidden, read_keys)) {
      out[i] = HookAnswer{Verdict::kRefused, "the engine's create event hides label " + *key +
                                                 ", which a selector reads"};
      continue;
    }
    Held h;
    h.endpoint.name = it->second.name.empty() ? r.id : it->second.name;
    h.endpoint.labels = it->second.labels;
    h.pid = r.pid;
    h.inode = views[i]->inode;
    // (The container's own endpoint, when its hook asks again, is no owner of it.)
    const policy::Endpoint* owner = owner_of(h.inode, known);
    if (owner != nullptr && owner->name != h.endpoint.name) {
      h.joined = owner->name;
      out[i] = owner->name;
    } else {
      h.endpoint.netns = proc_netns(r.pid);
      h.endpoint.addresses = std::move(views[i]->addresses);
      out[i] = h.endpoint.name;
    }
    admit(std::move(h));
  }
  return out;
}

const policy::Endpoint* StartGate::owner_of(uint64_t inode, const policy::Endpoints& known) {
  // Remote endpoints' paths name another host's namespaces.
  for (const auto& ep : known)
    if (ep.node.empty() && !ep.netns.empty() && lookup_.netns_inode(ep.netns) == inode) return &ep;
  return nullptr;
}

bool StartGate::gone(const Held& h) { return lookup_.netns_inode(proc_netns(h.pid)) != h.inode; }

void StartGate::admit(Held held) {
  const std::string name = held.endpoint.name;
  held_[name] = std::move(held);
}

void StartGate::merge_into(policy::Endpoints& local) {
  auto is_listed = [&](const std::string& name) {
    return std::any_of(local.begin(), local.end(),
                       [&](const policy::Endpoint& e) { return e.name == name; });
  };
  bool added = false;
  for (auto it = held_.begin(); it != held_.end();) {
    if (!it->second.joined.empty()) {
      ++it;
      continue;
    }
    // Listed by a source: the source's view takes over (the same endpoint when nothing changed).
    // Gone, or a new namespace behind the pid: the container we admitted is no more.
    if (is_listed(it->first) || gone(it->second)) {
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
  merge_members(local);
}

void StartGate::merge_members(policy::Endpoints& local) {
  for (auto it = held_.begin(); it != held_.end();) {
    const Held& h = it->second;
    auto owner = std::find_if(local.begin(), local.end(),
                              [&](const policy::Endpoint& e) { return e.name == h.joined; });
    if (h.joined.empty()) {
      ++it;
      continue;
    }
    // The endpoint is gone (the member then owns the namespace, as the sources will say), or
    // the member is: nothing to merge.
    if (owner == local.end() || gone(h)) {
      it = held_.erase(it);
      continue;
    }
    std::set<std::string> members;
    if (auto m = owner->labels.find(docker::kMembersLabel); m != owner->labels.end())
      for (size_t from = 0; from <= m->second.size();) {
        const size_t comma = std::min(m->second.find(',', from), m->second.size());
        members.insert(m->second.substr(from, comma - from));
        from = comma + 1;
      }
    // A source lists the member in its endpoint already: its view takes over.
    if (members.count(h.endpoint.name)) {
      it = held_.erase(it);
      continue;
    }
    // As the sources merge members: the endpoint's own labels win, then a member's.
    for (const auto& [k, v] : h.endpoint.labels) owner->labels.emplace(k, v);
    members.erase("");
    members.insert(h.endpoint.name);
    std::string joined;
    for (const auto& m : members) joined += (joined.empty() ? "" : ",") + m;
    owner->labels[docker::kMembersLabel] = joined;
    ++it;
  }
}

void StartGate::keep_only(const std::set<std::string>& names) {
  for (auto it = at_start_.begin(); it != at_start_.end();)
    it = names.count(*it) ? std::next(it) : at_start_.erase(it);
}

}  // namespace bulkhead::daemon
