// bulkheadd's command line (docs/daemon.md).
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

// --cluster etcd:URL[,URL...] and its companions (docs/cluster.md).
struct ClusterOptions {
  std::vector<std::string> urls;  // empty: no cluster
  std::string node;               // default: the host name
  std::string prefix = "/bulkhead/v1";
  int lease_ttl_s = 10;
  std::string cacert;  // https: the CA that signed etcd's certificate ("" = system store)
  std::string cert;    // https: client certificate and key, for etcd's client-cert auth
  std::string key;
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
  // bulkhead-hook's socket (docs/daemon.md#the-hook-socket); "none" (stored as "") turns it off.
  std::string hook_socket = "/run/bulkhead/hook.sock";
  int hook_deadline_ms = 2000;  // the hook's answer comes within this
  ClusterOptions cluster;
  // --layers netns[,host]: the host layer (docs/host-layer.md) is off unless asked for.
  bool host_layer = false;
  // The namespace holding the host ends of the endpoints' veths: the daemon's own by default.
  std::string host_netns = "/proc/self/ns/net";
};

// Returns nullopt after printing the problem and the usage to stderr (or the usage to stdout for
// --help, with `*help` set).
std::optional<Options> parse_options(int argc, char** argv, bool* help);

}  // namespace bulkhead::daemon
