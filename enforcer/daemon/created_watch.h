// The start gate's prefetch: the list entry (id, name, labels) of every container an engine
// creates, read when the engine announces the create, so that the container's hook, which asks
// at its start, usually waits for no engine call at all. Under a burst of starts the engine's
// list answers in tens to hundreds of milliseconds (docs/docker.md, "Born enforced"); the create
// event comes before the start, and the list issued then runs while the start proceeds.
//
// A thread of its own per engine socket follows `create` and `destroy` events only. From Docker
// it holds exactly the list's answer, so a prefetched entry and the gate's own list never
// disagree; a container not prefetched yet is simply listed by the gate. Podman's list waits for
// a starting container's lock, past the hook's bound, so from Podman it holds the create event's
// attributes instead: the labels, except those named like Podman's own attributes, which the
// entry marks hidden (docs/docker.md, "Born enforced").
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "enforcer/daemon/start_gate.h"
#include "enforcer/sources/docker/client.h"

namespace bulkhead::daemon {

// A Podman create event's entry: its attributes less Podman's own keys, which are hidden.
ListedContainer entry_of_podman_create(const std::string& id, const policy::Labels& attributes);

// The engine's list for these ids (one `GET /containers/json` with an id filter): the exact
// entries, by id.
Result<std::map<std::string, ListedContainer>> list_by_id(docker::DockerClient& client,
                                                          const std::vector<std::string>& ids);

class CreatedWatch {
 public:
  static constexpr size_t kMaxHeld = 4096;  // the oldest go first: a later hook lists them

  CreatedWatch(std::string socket, std::chrono::milliseconds timeout);
  ~CreatedWatch();  // interrupts the engine calls in flight and joins the thread
  CreatedWatch(const CreatedWatch&) = delete;
  CreatedWatch& operator=(const CreatedWatch&) = delete;

  // The prefetched entry of a container, if the create event and its list came already. From
  // Podman, whose create events reach the stream 50-250 ms after the create (measured; the
  // start is under way by then), it waits for the event until `deadline`.
  std::optional<ListedContainer> find(const std::string& id) const;
  std::optional<ListedContainer> find(const std::string& id,
                                      std::chrono::steady_clock::time_point deadline) const;
  size_t held() const;

 private:
  void run();
  void follow(docker::BodyStream& stream, bool podman);
  void prefetch(const std::string& id);
  void hold(ListedContainer c);
  void forget(const std::string& id);
  bool pause(std::chrono::milliseconds d);  // false when stopping

  std::unique_ptr<docker::DockerClient> events_;
  std::unique_ptr<docker::DockerClient> list_;
  std::atomic<bool> stopping_{false};
  std::mutex wait_mu_;
  std::condition_variable wait_cv_;
  std::atomic<bool> podman_{false};  // the engine behind the socket, as its /version says
  mutable std::mutex mu_;
  mutable std::condition_variable held_cv_;      // a create event's entry was held
  std::map<std::string, ListedContainer> held_;  // by id
  std::deque<std::string> order_;                // ids in the order prefetched, for the bound
  std::thread thread_;
};

}  // namespace bulkhead::daemon
