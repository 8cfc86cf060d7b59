#include "enforcer/daemon_options.h"

#include <boost/program_options.hpp>
#include <iostream>

namespace bulkhead::daemon {

namespace po = boost::program_options;

std::optional<Options> parse_options(int argc, char** argv, bool* help) {
  Options o;
  std::vector<std::string> sources;
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
      "seconds between full drift checks");
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
  if (o.resync_interval_s < 1) {
    std::cerr << "bulkheadd: --resync-interval must be at least 1 second\n";
    return std::nullopt;
  }
  return o;
}

}  // namespace bulkhead::daemon
