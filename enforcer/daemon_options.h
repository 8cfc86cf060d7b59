// bulkheadd's command line (DESIGN.md section 1).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace bulkhead::daemon {

struct SourceSpec {
  enum class Kind { docker, inventory };
  Kind kind = Kind::inventory;
  std::string path;  // the socket (docker) or the file (inventory)
};

struct Options {
  std::vector<std::string> policies;
  std::vector<SourceSpec> sources;
  bool once = false;
  std::string status_socket = "/run/bulkhead/status.sock";
  // Besides root, members of this group may read status (socket mode 0660). "" = root only.
  std::string status_group;
  long status_gid = -1;        // resolved by main() before privileges are dropped
  std::string metrics_listen;  // "" = off
  std::string log_level = "info";
  std::string log_format = "text";
  int resync_interval_s = 30;
};

// Returns nullopt after printing the problem and the usage to stderr (or the usage to stdout for
// --help, with `*help` set).
std::optional<Options> parse_options(int argc, char** argv, bool* help);

}  // namespace bulkhead::daemon
