// The daemon's one way to a Docker source: it names no Docker type, so the daemon's headers stay
// free of the Engine API client.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "enforcer/sources/source.h"

namespace bulkhead::daemon {

// Makes a source for --source docker[:SOCKET]; returns nullptr when it is not available.
std::unique_ptr<Source> make_docker_source(const std::string& socket_path,
                                           std::chrono::seconds resync_interval);

}  // namespace bulkhead::daemon
