// A listening unix stream socket that only its owner can reach from the moment it exists: the
// status socket and the hook socket are both made this way.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace bulkhead::daemon {

// Binds `path` with mode 0600 (the umask is narrowed around bind, so the file never has wider
// permissions) and listens, non-blocking and close-on-exec. Missing parent directories are
// created with `dir_mode`. A socket left at the path by an earlier run is replaced; any other
// kind of file there is refused, never deleted. `what` names the socket in errors.
Result<UniqueFd> listen_unix(const std::string& path, int backlog, mode_t dir_mode,
                             const std::string& what);

}  // namespace bulkhead::daemon
