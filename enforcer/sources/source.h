// Endpoint sources: where bulkheadd learns which endpoints exist (an inventory file, the Docker
// or Podman Engine API). A source keeps its own snapshot and only signals that it changed; the
// daemon's loop takes the snapshot and reconciles (events mark work dirty, one loop applies).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/result.h"
#include "policy/model/endpoint.h"

namespace bulkhead::daemon {

struct Unenforceable {
  std::string name;    // container or endpoint name
  std::string reason;  // e.g. "network_mode host: shares the host's namespace"
};

struct Snapshot {
  bool ready = false;  // false until the first full list has been read: no writes before that
  policy::Endpoints endpoints;               // sorted by name
  std::vector<Unenforceable> unenforceable;  // seen but never programmed
  std::string error;                         // the source's current problem, "" when healthy
};

class Source {
 public:
  virtual ~Source() = default;
  virtual std::string name() const = 0;  // e.g. "docker:/var/run/docker.sock"
  // Starts watching. `changed` may be called from any thread, many times; it must be cheap.
  virtual Status start(std::function<void()> changed) = 0;
  virtual void stop() = 0;
  // A consistent copy of what the source knows now. Thread-safe.
  virtual Snapshot snapshot() = 0;
};

}  // namespace bulkhead::daemon
