// --source docker[:SOCKET]: Docker's or Podman's Engine API (docs/docker.md).
#include "enforcer/daemon.h"
#include "enforcer/docker_source.h"

namespace bulkhead::daemon {

std::unique_ptr<Source> make_docker_source(const std::string& socket_path) {
  return std::make_unique<DockerSource>(socket_path);
}

}  // namespace bulkhead::daemon
