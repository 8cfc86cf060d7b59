// Turning inspected containers into enforcement points: one per network namespace. Pure; the
// rules are written down in docs/docker.md.
#pragma once

#include <string>
#include <vector>

#include "enforcer/sources/docker/json.h"
#include "enforcer/sources/source.h"
#include "policy/model/endpoint.h"

namespace bulkhead::daemon::docker {

// On the endpoint of a namespace that other containers joined (`--network container:X`): their
// names, sorted, comma-separated. Absent when nobody joined.
inline constexpr const char* kMembersLabel = "bulkhead.io/members";

struct EndpointView {
  policy::Endpoints endpoints;               // sorted by name
  std::vector<Unenforceable> unenforceable;  // sorted by name
};

// Containers without a process (pid 0) are skipped. `host` network mode is unenforceable; every
// group of containers sharing one namespace becomes the owner's endpoint.
EndpointView build_endpoints(const std::vector<ContainerInfo>& containers);

// Field-by-field equality (policy::Endpoint has no operator==), to signal only real changes.
bool same_view(const EndpointView& a, const EndpointView& b);

}  // namespace bulkhead::daemon::docker
