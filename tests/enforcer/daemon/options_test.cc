// bulkheadd's command line (docs/daemon.md): every flag, the defaults, each refusal with its
// message, and exit code 2 for bad usage (0 for --help) from the program itself.
#include "enforcer/daemon/options.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace bulkhead::daemon {
namespace {

namespace fs = std::filesystem;

struct Parsed {
  std::optional<Options> opts;
  bool help = false;
  std::string out, err;
};

Parsed parse(std::vector<std::string> args) {
  args.insert(args.begin(), "bulkheadd");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  Parsed p;
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  p.opts = parse_options(static_cast<int>(args.size()), argv.data(), &p.help);
  p.err = ::testing::internal::GetCapturedStderr();
  p.out = ::testing::internal::GetCapturedStdout();
  return p;
}

// The first line of what was printed to stderr: the problem, before the usage.
std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

TEST(Options, DefaultsWithThePolicyAndASource) {
  auto p = parse({"--policy", "p.yaml", "--source", "inventory:inv.yaml"});
  ASSERT_TRUE(p.opts) << p.err;
  const Options& o = *p.opts;
  EXPECT_EQ(o.policies, std::vector<std::string>{"p.yaml"});
  ASSERT_EQ(o.sources.size(), 1u);
  EXPECT_EQ(o.sources[0].kind, SourceSpec::Kind::inventory);
  EXPECT_EQ(o.sources[0].path, "inv.yaml");
  EXPECT_FALSE(o.once);
  EXPECT_EQ(o.status_socket, "/run/bulkhead/status.sock");
  EXPECT_EQ(o.status_group, "");
  EXPECT_EQ(o.metrics_listen, "");
  EXPECT_EQ(o.log_level, "info");
  EXPECT_EQ(o.log_format, "text");
  EXPECT_EQ(o.resync_interval_s, 30);
  EXPECT_TRUE(o.cluster.urls.empty());
  EXPECT_EQ(o.cluster.prefix, "/bulkhead/v1");
  EXPECT_EQ(o.cluster.lease_ttl_s, 10);
  EXPECT_FALSE(o.host_layer);
  EXPECT_EQ(o.host_netns, "/proc/self/ns/net");
  EXPECT_EQ(p.err, "");
}

TEST(Options, LayersTurnTheHostLayerOn) {
  for (const char* layers : {"netns,host", "host,netns"}) {
    auto p = parse({"--policy", "p", "--source", "docker", "--layers", layers, "--host-netns",
                    "/run/netns/sw"});
    ASSERT_TRUE(p.opts) << p.err;
    EXPECT_TRUE(p.opts->host_layer);
    EXPECT_EQ(p.opts->host_netns, "/run/netns/sw");
  }
  auto p = parse({"--policy", "p", "--source", "docker", "--layers", "netns"});
  ASSERT_TRUE(p.opts) << p.err;
  EXPECT_FALSE(p.opts->host_layer);
}

TEST(Options, EveryFlag) {
  auto p = parse({"--policy",
                  "a",
                  "--policy",
                  "dir/",
                  "--source",
                  "docker",
                  "--source",
                  "docker:/run/podman.sock",
                  "--source",
                  "inventory:/etc/inv.yaml",
                  "--once",
                  "--status-socket",
                  "/tmp/s.sock",
                  "--status-group",
                  "bulkhead",
                  "--metrics-listen",
                  "0.0.0.0:9469",
                  "--log-level",
                  "debug",
                  "--log-format",
                  "json",
                  "--resync-interval",
                  "5",
                  "--cluster",
                  "etcd:http://127.0.0.1:2379,http://127.0.0.2:2380",
                  "--node",
                  "host-1.example",
                  "--cluster-prefix",
                  "/x/y",
                  "--cluster-lease-ttl",
                  "2"});
  ASSERT_TRUE(p.opts) << p.err;
  const Options& o = *p.opts;
  EXPECT_EQ(o.policies, (std::vector<std::string>{"a", "dir/"}));
  ASSERT_EQ(o.sources.size(), 3u);
  EXPECT_EQ(o.sources[0].kind, SourceSpec::Kind::docker);
  EXPECT_EQ(o.sources[0].path, "/var/run/docker.sock");
  EXPECT_EQ(o.sources[1].kind, SourceSpec::Kind::docker);
  EXPECT_EQ(o.sources[1].path, "/run/podman.sock");
  EXPECT_EQ(o.sources[2].kind, SourceSpec::Kind::inventory);
  EXPECT_EQ(o.sources[2].path, "/etc/inv.yaml");
  EXPECT_TRUE(o.once);
  EXPECT_EQ(o.status_socket, "/tmp/s.sock");
  EXPECT_EQ(o.status_group, "bulkhead");
  EXPECT_EQ(o.metrics_listen, "0.0.0.0:9469");
  EXPECT_EQ(o.log_level, "debug");
  EXPECT_EQ(o.log_format, "json");
  EXPECT_EQ(o.resync_interval_s, 5);
  EXPECT_EQ(o.cluster.urls,
            (std::vector<std::string>{"http://127.0.0.1:2379", "http://127.0.0.2:2380"}));
  EXPECT_EQ(o.cluster.node, "host-1.example");
  EXPECT_EQ(o.cluster.prefix, "/x/y");
  EXPECT_EQ(o.cluster.lease_ttl_s, 2);
}

TEST(Options, ClusterNodeDefaultsToTheHostName) {
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof(host) - 1), 0);
  auto p = parse({"--policy", "p", "--source", "docker", "--cluster", "etcd:http://127.0.0.1:1"});
  ASSERT_TRUE(p.opts) << p.err;
  EXPECT_EQ(p.opts->cluster.node, host);
}

TEST(Options, ClusterTlsFiles) {
  const fs::path dir = fs::temp_directory_path() / ("bulkhead-opts-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (const char* f : {"ca.pem", "cert.pem", "key.pem"}) std::ofstream(dir / f) << "x\n";
  auto p = parse({"--policy", "p", "--source", "docker", "--cluster", "etcd:https://etcd:2379",
                  "--node", "n", "--cluster-cacert", (dir / "ca.pem").string(), "--cluster-cert",
                  (dir / "cert.pem").string(), "--cluster-key", (dir / "key.pem").string()});
  ASSERT_TRUE(p.opts) << p.err;
  EXPECT_EQ(p.opts->cluster.cacert, (dir / "ca.pem").string());
  EXPECT_EQ(p.opts->cluster.cert, (dir / "cert.pem").string());
  EXPECT_EQ(p.opts->cluster.key, (dir / "key.pem").string());
  // A file that is not there is refused at start, not found later as the source's error.
  auto missing =
      parse({"--policy", "p", "--source", "docker", "--cluster", "etcd:https://etcd:2379", "--node",
             "n", "--cluster-cacert", (dir / "nope.pem").string()});
  EXPECT_FALSE(missing.opts);
  EXPECT_EQ(missing.err, "bulkheadd: --cluster-cacert " + (dir / "nope.pem").string() +
                             ": No such file or directory\n");
  fs::remove_all(dir);
}

TEST(Options, HelpPrintsTheUsageToStdout) {
  auto p = parse({"--help"});
  EXPECT_FALSE(p.opts);
  EXPECT_TRUE(p.help);
  EXPECT_EQ(p.err, "");
  EXPECT_EQ(p.out.rfind("usage: bulkheadd --policy PATH", 0), 0u) << p.out;
  for (const char* flag : {"--policy", "--source", "--once", "--status-socket", "--status-group",
                           "--metrics-listen", "--log-level", "--log-format", "--resync-interval",
                           "--cluster", "--node", "--cluster-prefix", "--cluster-lease-ttl",
                           "--cluster-cacert", "--cluster-cert", "--cluster-key"})
    EXPECT_NE(p.out.find(flag), std::string::npos) << flag;
}

struct Refusal {
  std::vector<std::string> args;
  std::string message;  // the first line on stderr
};

TEST(Options, BadUsageIsRefusedWithItsReason) {
  const std::vector<std::string> base = {"--policy", "p", "--source", "docker"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const std::vector<Refusal> cases = {
      {{"--source", "docker"}, "bulkheadd: the option '--policy' is required but missing"},
      {{"--policy", "p"}, "bulkheadd: the option '--source' is required but missing"},
      {with({"--bogus"}), "bulkheadd: unrecognised option '--bogus'"},
      {with({"--resync-interval", "soon"}),
       "bulkheadd: the argument ('soon') for option '--resync-interval' is invalid"},
      {{"--policy", "p", "--source", "podman"},
       "bulkheadd: --source must be docker[:SOCKET] or inventory:FILE, not 'podman'"},
      {{"--policy", "p", "--source", "inventory:"},
       "bulkheadd: --source must be docker[:SOCKET] or inventory:FILE, not 'inventory:'"},
      {with({"--resync-interval", "0"}), "bulkheadd: --resync-interval must be at least 1 second"},
      {with({"--layers", "host"}), "bulkheadd: --layers must be netns or netns,host, not 'host'"},
      {with({"--node", "n"}), "bulkheadd: --node needs --cluster"},
      {with({"--cluster-cacert", "ca.pem"}), "bulkheadd: --cluster-cacert needs --cluster"},
      {with({"--cluster", "http://127.0.0.1:2379"}),
       "bulkheadd: --cluster must be etcd:URL[,URL...], not 'http://127.0.0.1:2379'"},
      {with({"--cluster", "etcd:"}), "bulkheadd: --cluster must be etcd:URL[,URL...], not 'etcd:'"},
      {with({"--cluster", "etcd:http://127.0.0.1:1", "--node", "bad name"}),
       "bulkheadd: --node 'bad name': only letters, digits, '.', '_' and '-', at most 253 of them"},
      {with({"--cluster", "etcd:http://127.0.0.1:1", "--node", "n", "--cluster-prefix", "x"}),
       "bulkheadd: --cluster-prefix must start with '/' and not end with one, e.g. /bulkhead/v1"},
      {with({"--cluster", "etcd:http://127.0.0.1:1", "--node", "n", "--cluster-prefix", "/x/"}),
       "bulkheadd: --cluster-prefix must start with '/' and not end with one, e.g. /bulkhead/v1"},
      {with({"--cluster", "etcd:http://127.0.0.1:1", "--node", "n", "--cluster-lease-ttl", "1"}),
       "bulkheadd: --cluster-lease-ttl must be at least 2 seconds"},
      {with({"--cluster", "etcd:https://e:1", "--node", "n", "--cluster-cert", "c.pem"}),
       "bulkheadd: --cluster-cert and --cluster-key go together"},
      {with({"--cluster", "etcd:http://e:1", "--node", "n", "--cluster-cacert", "ca.pem"}),
       "bulkheadd: --cluster-cacert, --cluster-cert and --cluster-key need https:// URLs"},
  };
  for (const auto& c : cases) {
    auto p = parse(c.args);
    EXPECT_FALSE(p.opts) << c.message;
    EXPECT_FALSE(p.help);
    EXPECT_EQ(first_line(p.err), c.message);
  }
  // A refusal by the parser also prints the usage.
  auto p = parse({"--policy", "p"});
  EXPECT_NE(p.err.find("usage: bulkheadd"), std::string::npos) << p.err;
}

int exit_code(const std::string& args) {
  const std::string cmd =
      std::string(BULKHEAD_BINARY_DIR) + "/bulkheadd " + args + " >/dev/null 2>&1";
  const int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(Options, TheProgramExitsTwoOnBadUsageAndZeroForHelp) {
  EXPECT_EQ(exit_code("--help"), 0);
  EXPECT_EQ(exit_code("--bogus"), 2);
  EXPECT_EQ(exit_code("--policy p"), 2);
  EXPECT_EQ(exit_code("--policy p --source nowhere"), 2);
  EXPECT_EQ(exit_code("--policy p --source docker --resync-interval 0"), 2);
}

}  // namespace
}  // namespace bulkhead::daemon
