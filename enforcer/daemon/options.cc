#include "enforcer/daemon/options.h"

#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstring>
#include <iostream>

#include "enforcer/http/client.h"
#include "enforcer/sources/cluster/record.h"

namespace bulkhead::daemon {

namespace po = boost::program_options;

namespace {

bool cluster_error(const std::string& text) {
  std::cerr << "bulkheadd: " << text << "\n";
  return false;
}

// --cluster and the options that only make sense with it.
bool parse_cluster(const std::string& spec, const po::variables_map& vm, ClusterOptions& c) {
  if (spec.empty()) {
    for (const char* name : {"node", "cluster-cacert", "cluster-cert", "cluster-key"})
      if (vm.count(name)) return cluster_error(std::string("--") + name + " needs --cluster");
    return true;
  }
  if (spec.rfind("etcd:", 0) != 0 || spec.size() == 5)
    return cluster_error("--cluster must be etcd:URL[,URL...], not '" + spec + "'");
  bool https = false;
  std::string rest = spec.substr(5);
  for (size_t start = 0; start <= rest.size();) {
    size_t comma = rest.find(',', start);
    std::string url = rest.substr(start, comma == std::string::npos ? comma : comma - start);
    auto server = http::Server::from_url(url);
    if (!server) return cluster_error("--cluster: " + server.error().to_string());
    https = https || server->kind == http::Server::Kind::tls;
    c.urls.push_back(url);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (c.node.empty()) {
    char host[256] = {};
    if (::gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
      return cluster_error("--node is needed: the host name cannot be read");
    c.node = host;
  }
  if (!cluster::valid_node_name(c.node))
    return cluster_error("--node '" + c.node +
                         "': only letters, digits, '.', '_' and '-', at most 253 of them");
  if (c.prefix.size() < 2 || c.prefix[0] != '/' || c.prefix.back() == '/')
    return cluster_error(
        "--cluster-prefix must start with '/' and not end with one, e.g. "
        "/bulkhead/v1");
  if (c.lease_ttl_s < 2) return cluster_error("--cluster-lease-ttl must be at least 2 seconds");
  if (c.cert.empty() != c.key.empty())
    return cluster_error("--cluster-cert and --cluster-key go together");
  if (!https && (!c.cacert.empty() || !c.cert.empty()))
    return cluster_error("--cluster-cacert, --cluster-cert and --cluster-key need https:// URLs");
  // A typo is refused at start rather than found later as the cluster source's error.
  for (const auto& [flag, file] :
       {std::pair<const char*, const std::string&>{"cluster-cacert", c.cacert},
        {"cluster-cert", c.cert},
        {"cluster-key", c.key}})
    if (!file.empty() && ::access(file.c_str(), R_OK) != 0)
      return cluster_error(std::string("--") + flag + " " + file + ": " + std::strerror(errno));
  return true;
}

}  // namespace

std::optional<Options> parse_options(int argc, char** argv, bool* help) {
  Options o;
  std::vector<std::string> sources;
  std::string cluster;
  std::string layers = "netns";
  po::options_description desc(
      "usage: bulkheadd --policy PATH [--policy PATH ...] --source docker[:SOCKET] | "
      "--source inventory:FILE [options]");
  desc.add_options()("help,h", "this text")("policy", po::value(&o.policies)->required(),
                                            "policy file or directory (repeatable)")(
      "source", po::value(&sources)->required(),
      "endpoint source: docker[:SOCKET] or inventory:FILE (repeatable)")(
      "once", po::bool_switch(&o.once), "enforce every endpoint once, then exit")(
      "status-socket", po::value(&o.status_socket)->default_value(o.status_socket),
      "unix socket for `bulkhead status`")(
      "status-group", po::value(&o.status_group),
      "group whose members may also read the status socket (default: root only)")(
      "metrics-listen", po::value(&o.metrics_listen), "ADDR:PORT for Prometheus metrics")(
      "log-level", po::value(&o.log_level)->default_value(o.log_level),
      "trace, debug, info, warn, error")(
      "log-format", po::value(&o.log_format)->default_value(o.log_format), "text or json")(
      "resync-interval", po::value(&o.resync_interval_s)->default_value(o.resync_interval_s),
      "seconds between full drift checks")(
      "hook-socket", po::value(&o.hook_socket)->default_value(o.hook_socket),
      "unix socket bulkhead-hook asks during a container's start, or none")(
      "hook-deadline", po::value(&o.hook_deadline_ms)->default_value(o.hook_deadline_ms),
      "milliseconds within which the hook is answered (100..60000)")(
      "cluster", po::value(&cluster),
      "etcd:URL[,URL...]: share endpoint membership with other hosts through etcd "
      "(http:// or https://HOST:PORT; docs/cluster.md)")(
      "node", po::value(&o.cluster.node), "this host's name in the cluster (default: host name)")(
      "cluster-prefix", po::value(&o.cluster.prefix)->default_value(o.cluster.prefix),
      "etcd key prefix")("cluster-lease-ttl",
                         po::value(&o.cluster.lease_ttl_s)->default_value(o.cluster.lease_ttl_s),
                         "seconds a dead host's endpoints stay in etcd (at least 2)")(
      "cluster-cacert", po::value(&o.cluster.cacert),
      "https: CA certificate (PEM) that signed etcd's (default: the system's trust store)")(
      "cluster-cert", po::value(&o.cluster.cert), "https: client certificate (PEM)")(
      "cluster-key", po::value(&o.cluster.key), "https: the client certificate's key (PEM)")(
      "layers", po::value(&layers)->default_value(layers),
      "netns, or netns,host: also enforce on the host side of each endpoint's veth "
      "(docs/host-layer.md)")(
      "host-netns", po::value(&o.host_netns)->default_value(o.host_netns),
      "the namespace holding the host ends of the endpoints' veths (for --layers netns,host)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    if (vm.count("help")) {
      *help = true;
      std::cout << desc;
      return std::nullopt;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "bulkheadd: " << e.what() << "\n\n" << desc;
    return std::nullopt;
  }
  for (const auto& s : sources) {
    if (s == "docker") {
      o.sources.push_back({SourceSpec::Kind::docker, "/var/run/docker.sock"});
    } else if (s.rfind("docker:", 0) == 0) {
      o.sources.push_back({SourceSpec::Kind::docker, s.substr(7)});
    } else if (s.rfind("inventory:", 0) == 0 && s.size() > 10) {
      o.sources.push_back({SourceSpec::Kind::inventory, s.substr(10)});
    } else {
      std::cerr << "bulkheadd: --source must be docker[:SOCKET] or inventory:FILE, not '" << s
                << "'\n";
      return std::nullopt;
    }
  }
  if (!parse_cluster(cluster, vm, o.cluster)) return std::nullopt;
  if (layers == "netns,host" || layers == "host,netns") {
    o.host_layer = true;
  } else if (layers != "netns") {
    std::cerr << "bulkheadd: --layers must be netns or netns,host, not '" << layers << "'\n";
    return std::nullopt;
  }
  if (o.hook_socket == "none") o.hook_socket.clear();
  if (o.hook_deadline_ms < 100 || o.hook_deadline_ms > 60000) {
    std::cerr << "bulkheadd: --hook-deadline must be 100..60000 milliseconds\n";
    return std::nullopt;
  }
  if (o.resync_interval_s < 1) {
    std::cerr << "bulkheadd: --resync-interval must be at least 1 second\n";
    return std::nullopt;
  }
  return o;
}

}  // namespace bulkhead::daemon
