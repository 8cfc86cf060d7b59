// `bulkhead-hook config docker|podman [--install [PATH]] [--hook-arg=ARG]...`: the engine
// configuration that puts bulkhead-hook into every container's start (docs/docker.md,
// docs/podman.md).
#pragma once

#include <string>
#include <vector>

namespace bulkhead::hook {

// Docker: daemon.json's `runtimes.bulkhead` (bulkhead-runtime) and `default-runtime`.
// `hook_args` (e.g. "--on-failure=refuse") go to bulkhead-hook: through runtimeArgs of the wrapper
// for Docker, in the hook's args for Podman.
std::string docker_config(const std::string& runtime_path,
                          const std::vector<std::string>& hook_args);
// Podman: an OCI hooks.d entry running bulkhead-hook at createRuntime for every container.
std::string podman_hook_json(const std::string& hook_path,
                             const std::vector<std::string>& hook_args);

// args[0] == "config". Prints, or with --install merges into daemon.json (default
// /etc/docker/daemon.json) / writes DIR/bulkhead.json (default /usr/share/containers/oci/hooks.d).
int run_config(const std::vector<std::string>& args);

}  // namespace bulkhead::hook
