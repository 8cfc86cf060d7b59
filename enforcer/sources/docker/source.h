// The Docker (or Podman, through its Docker-compatible API) endpoint source: lists running
// containers, then follows the engine's events, on a thread of its own. docs/docker.md.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "enforcer/sources/docker/client.h"
#include "enforcer/sources/docker/endpoints.h"
#include "enforcer/sources/docker/json.h"
#include "enforcer/sources/source.h"

namespace bulkhead::daemon {

inline constexpr const char* kDefaultDockerSocket = "/var/run/docker.sock";

class DockerSource final : public Source {
 public:
  struct Options {
    std::string socket_path = kDefaultDockerSocket;
    std::chrono::milliseconds request_timeout{10000};
    // A starting engine accepts connections well before it answers them: waiting briefly for the
    // events stream's header, then retrying, reconnects sooner than one long wait.
    std::chrono::milliseconds stream_open_timeout{2000};
    // Reconnect delays after a failure: doubling from `backoff_min` up to `backoff_max`.
    std::chrono::milliseconds backoff_min{100};
    std::chrono::milliseconds backoff_max{3000};
    // Even with a healthy stream, list and reconcile this often: the engine drops events for slow
    // consumers without saying so.
    std::chrono::milliseconds resync_interval{std::chrono::minutes(5)};
  };

  explicit DockerSource(std::string socket_path = kDefaultDockerSocket);
  explicit DockerSource(Options options);
  ~DockerSource() override;

  std::string name() const override;  // "docker:" + socket path
  Status start(std::function<void()> changed) override;
  void stop() override;
  Snapshot snapshot() override;

  // How many times the whole container list has been read and reconciled (for tests and metrics).
  uint64_t relists() const { return relists_.load(); }

 private:
  void run();
  // One connection's life: subscribe to events, list and reconcile, follow events. Returns why it
  // ended; `listed` tells whether it got as far as a full list.
  Status session(docker::DockerClient& client, bool& listed);
  Status reconcile(docker::DockerClient& client);
  // Re-reads one container: its state now, whatever the event said. A 404 means it is gone.
  Status refresh(docker::DockerClient& client, const std::string& id);
  // After a full list or an event: the view from `containers_`, ready and healthy.
  void publish();
  // At debug level: what an event left in `containers_`, to trace a container's life.
  void log_event(const docker::Event& event, const std::string& id) const;
  bool sleep_unless_stopped(std::chrono::milliseconds d);

  Options options_;
  std::function<void()> changed_;
  std::thread thread_;
  std::unique_ptr<docker::DockerClient> client_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> relists_{0};
  std::mutex wait_mu_;
  std::condition_variable wait_cv_;

  // Owned by the thread.
  std::map<std::string, docker::ContainerInfo> containers_;  // by id
  std::map<std::string, Unenforceable> unusable_;            // by id: inspect data we cannot use

  std::mutex mu_;
  Snapshot snapshot_;  // guarded by mu_
};

}  // namespace bulkhead::daemon
