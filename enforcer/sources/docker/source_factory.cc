// --source docker[:SOCKET]: Docker's or Podman's Engine API (docs/docker.md).
#include "enforcer/sources/docker/source_factory.h"

#include "enforcer/sources/docker/source.h"

namespace bulkhead::daemon {

std::unique_ptr<Source> make_docker_source(const std::string& socket_path,
                                           std::chrono::seconds resync_interval) {
  DockerSource::Options o;
  o.socket_path = socket_path;
  // The event stream is not trusted alone: re-list on the daemon's resync schedule too.
  o.resync_interval = resync_interval;
  return std::make_unique<DockerSource>(o);
}

}  // namespace bulkhead::daemon
