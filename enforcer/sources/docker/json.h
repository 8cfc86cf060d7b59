// The Engine API's JSON (Docker and Podman's Docker-compatible API) as plain values. Pure
// functions: no sockets, no clocks. Any input, however malformed or hostile, yields a value or an
// error, never an exception.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "policy/model/address.h"
#include "policy/model/selector.h"

namespace bulkhead::daemon::docker {

// One entry of `GET /containers/json`. Only what reconciliation needs: which containers to
// inspect.
struct ContainerRef {
  std::string id;
  std::string name;   // the first of Names, without the leading '/'
  std::string state;  // "running", "created", "paused", ... ("" when the engine omits it)
  // The list carries these too: the start gate reads them while an inspect would block.
  policy::Labels labels;
  std::string network_mode;  // HostConfig.NetworkMode, "" when absent
};

// `GET /containers/{id}/json`, reduced to what an endpoint needs.
struct ContainerInfo {
  std::string id;
  std::string name;  // without the leading '/'
  policy::Labels labels;
  bool running = false;
  int64_t pid = 0;           // 0 when the container has no process (created, exited)
  std::string network_mode;  // "host", "none", "container:<id or name>", a network name, "default"
  std::vector<policy::IpAddr> addresses;  // every network's IPv4 and global IPv6, sorted, unique
  bool privileged = false;
  bool net_admin = false;  // NET_ADMIN, SYS_ADMIN or ALL among the added capabilities
};

struct Event {
  std::string type;    // "container", "network", ...
  std::string action;  // "start", "die", "connect", "exec_start: sh", ...
  // The container; for network events, Docker's network but Podman's container.
  std::string actor_id;
  // For network events: the container that was connected or disconnected ("" otherwise).
  std::string container_id;
  int64_t time_nano = 0;  // 0 when absent
  // Actor.Attributes: the container's labels mixed with the engine's own keys (name, image...).
  policy::Labels attributes;
};

// Names in errors are "docker list", "docker inspect" and "docker event".
Result<std::vector<ContainerRef>> parse_container_list(std::string_view json);
Result<ContainerInfo> parse_container_inspect(std::string_view json);
Result<Event> parse_event(std::string_view json);
// Whether a `GET /version` answer is Podman's (a component named "Podman Engine"); false for
// Docker's and for anything unreadable.
bool version_is_podman(std::string_view json);
// The `message` of an error body ({"message": "..."}), else the body itself, shortened.
std::string parse_error_message(std::string_view body);

// The events this source reacts to; others (exec_*, health_status, attach...) change nothing an
// endpoint holds.
bool event_matters(const Event& e);

}  // namespace bulkhead::daemon::docker
