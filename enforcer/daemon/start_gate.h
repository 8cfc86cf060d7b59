// The start gate: how bulkheadd answers bulkhead-hook while a container's start waits for it
// (issue "born enforced", docs/daemon.md#the-hook-socket). It works out the container's endpoint
// WITHOUT inspecting it (the engine holds an inspect of a starting container until its hooks
// return): labels from the engine's container list filtered by id, addresses from inside
// /proc/<pid>/ns/net. The daemon then adds it to what it compiles and applies it at once.
//
// The gate holds such an endpoint only until a source lists the same container; by then it has
// the same name, namespace and addresses, so the plan is unchanged and nothing is re-applied.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "common/result.h"
#include "enforcer/daemon/time_source.h"
#include "enforcer/hook/protocol.h"
#include "policy/model/endpoint.h"

namespace bulkhead::daemon {

// One container as the engine's list shows it.
struct ListedContainer {
  std::string id;
  std::string name;
  policy::Labels labels;
  // Label keys whose presence this entry cannot tell: Podman's create event, which the gate
  // reads instead of a list that blocks during the start, overwrites labels named like its own
  // attributes. A selector that reads one of them cannot be decided from this entry.
  std::set<std::string> hidden;
};

// A namespace seen from inside.
struct NamespaceView {
  uint64_t inode = 0;
  bool host = false;  // the host's own namespace (network_mode host): never programmed
  std::vector<policy::IpAddr> addresses;
};

// The two questions the gate asks the outside world; the engine and the kernel for real, fakes in
// tests.
class ContainerLookup {
 public:
  virtual ~ContainerLookup() = default;
  // The containers with these ids from the engine's list, by id, in one query: a burst of starts
  // costs one list, not one per container. An id the list lacks is absent from the map.
  virtual Result<std::map<std::string, ListedContainer>> listed(
      const std::vector<std::string>& ids) = 0;
  // The namespace of `pid`. An error when the process or its namespace is gone.
  virtual Result<NamespaceView> namespace_of(int64_t pid) = 0;
  // The inode of a network namespace path (/proc/<pid>/ns/net, /run/netns/NAME) now, 0 when it
  // is gone (cheap: a stat).
  virtual uint64_t netns_inode(const std::string& path) = 0;
};

// The Engine API's list (`GET /containers/json?all=1&filters={"id":[ID]}`) over each given
// socket in turn (Docker, or Podman's compatible service), and the kernel for namespaces.
std::unique_ptr<ContainerLookup> make_engine_lookup(std::vector<std::string> sockets,
                                                    std::chrono::milliseconds timeout);

// The list's query for these ids (exposed for tests).
std::string list_target(const std::vector<std::string>& ids);

class StartGate {
 public:
  explicit StartGate(ContainerLookup& lookup) : lookup_(lookup) {}

  // For each request, in order, the name of the endpoint to apply or the answer when there is
  // none: refused when the list or the namespace cannot be read, unselected for the host's
  // namespace. One list query serves them all. A container whose namespace is already one of
  // `known`'s (it joined it: `--network container:X`, a pod) is a member of that endpoint, as
  // the sources see it: its labels are merged into it and the name is that endpoint's.
  // `read_keys` are the label keys the policies' selectors read: an entry that hides one of them
  // is refused (fail closed; the events path enforces it once the engine can be asked).
  using Resolved = std::variant<std::string, hook::HookAnswer>;
  std::vector<Resolved> resolve(const std::vector<hook::HookRequest>& requests,
                                const policy::Endpoints& known,
                                const std::set<std::string>& read_keys);
  // Called on every compile: adds the held endpoints that no source lists yet and merges the
  // held members into their endpoints; forgets those a source lists now (the same name, or the
  // member in its endpoint's members label) and those whose process has gone or whose namespace
  // changed.
  void merge_into(policy::Endpoints& local);
  size_t held() const { return held_.size(); }

  // Endpoints whose rules were in place when the hook asked (status "enforced_at": "start").
  void enforced_at_start(const std::string& name) { at_start_.insert(name); }
  bool was_enforced_at_start(const std::string& name) const { return at_start_.count(name) > 0; }
  // Keeps only the names still known, so the set does not grow with every container ever seen.
  void keep_only(const std::set<std::string>& names);

 private:
  struct Held {
    policy::Endpoint endpoint;  // a member's: its name and labels only
    int64_t pid = 0;
    uint64_t inode = 0;
    std::string joined;  // the endpoint whose namespace a member joined; "" for an endpoint
  };
  void admit(Held held);
  bool gone(const Held& h);  // its process has gone, or a new namespace is behind its pid
  // The local endpoint of `known` whose namespace has this inode, if any.
  const policy::Endpoint* owner_of(uint64_t inode, const policy::Endpoints& known);
  void merge_members(policy::Endpoints& local);

  ContainerLookup& lookup_;
  std::map<std::string, Held> held_;  // by container name (an endpoint's, or a member's)
  std::set<std::string> at_start_;
};

}  // namespace bulkhead::daemon
