// Reading runc's command line as containerd's shim writes it (global options, a command, its
// options): which command it is and, for create/run, the bundle. Pure.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace bulkhead::hook {

struct RuncCommand {
  std::string command;                // "" when there is none (e.g. `--version`)
  std::optional<std::string> bundle;  // create/run: --bundle/-b, else none (the cwd)
};

// `args` excludes argv[0].
RuncCommand parse_runc_args(const std::vector<std::string>& args);

}  // namespace bulkhead::hook
