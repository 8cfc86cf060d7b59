// Until the Docker source lands, --source docker is refused with a clear message.
#include "enforcer/daemon.h"

namespace bulkhead::daemon {

std::unique_ptr<Source> make_docker_source(const std::string&) { return nullptr; }

}  // namespace bulkhead::daemon
