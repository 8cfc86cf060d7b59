// The cluster source (--cluster etcd:URL,...; docs/cluster.md): shares endpoint membership
// between hosts through etcd. It publishes this node's endpoints under one lease that it keeps
// alive, and watches every other node's, which it offers to the daemon as its snapshot: remote
// endpoints, named NAME@NODE, that rules see as peers and that are never programmed here.
//
// Three threads: the watcher (list, then watch from the listed revision + 1; relist after a
// break or a compaction), the keeper (lease, publishing, keepalive) and the notifier (coalesces
// changes into at most one `changed` per window). While etcd is unreachable the last known
// membership is kept, never flushed.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "enforcer/sources/cluster/etcd_client.h"
#include "enforcer/sources/cluster/record.h"
#include "enforcer/sources/source.h"

namespace bulkhead::daemon {

class ClusterSource final : public Source {
 public:
  struct Options {
    std::vector<std::string> urls;
    http::TlsFiles tls;
    std::string prefix = cluster::kDefaultPrefix;
    std::string node;
    int lease_ttl_s = 10;
    // false (--once): read only. Nothing would keep a lease alive after the process exits.
    bool publish = true;
    // At start with etcd unreachable, the source turns ready (with its error and no remote
    // endpoint) after this long, so local endpoints are enforced meanwhile.
    std::chrono::milliseconds ready_wait{5000};
    // `changed` is signalled at most once per window; events within it are collected.
    std::chrono::milliseconds coalesce{100};
    std::chrono::milliseconds request_timeout{5000};
    std::chrono::milliseconds backoff_min{200};
    std::chrono::milliseconds backoff_max{2000};
    // A watch silent this long is reopened from the last revision seen (a dead connection
    // without a reset is noticed this way).
    std::chrono::milliseconds watch_idle{30000};
  };

  struct NodeInfo {
    std::string node;
    std::string policy_digest;
    int64_t endpoints = 0;
  };

  struct ClusterStatus {
    bool connected = false;
    std::string error;
    int64_t revision = 0;
    size_t remote_endpoints = 0;
    std::vector<NodeInfo> nodes;  // every node record seen, this node's included; by name
  };

  explicit ClusterSource(Options options);
  ~ClusterSource() override;

  std::string name() const override;  // "etcd:" + the URLs joined by ","
  Status start(std::function<void()> changed) override;
  void stop() override;
  Snapshot snapshot() override;  // the remote endpoints

  // This node's endpoints (local sources only, addresses filled) and policy digest. Only what
  // differs from what etcd holds is written. Thread-safe and cheap: the keeper does the writing.
  void publish(const policy::Endpoints& local, const std::string& policy_digest);
  ClusterStatus status();

  // Tests: the lease currently held (0 = none).
  int64_t lease_id() const { return lease_id_.load(); }
  // Tests: publications completed (a full or incremental sync that reached etcd).
  uint64_t syncs() const { return syncs_.load(); }

 private:
  void run_watcher();
  void run_keeper();
  void run_notifier();
  // One list-then-watch; returns why it ended. `compacted`: relist at once.
  Status watch_session(bool& compacted);
  // Applies one put or delete of a key under the prefix to the remote view (mu_ held).
  void apply_locked(const etcd::KeyValue& kv, bool deleted);
  void set_error(const char* part, const std::string& error);
  void poke();  // something changed: signal within the coalescing window
  bool sleep_unless_stopped(std::chrono::milliseconds d);

  Options options_;
  std::function<void()> changed_;
  std::unique_ptr<etcd::Client> watch_client_;
  std::unique_ptr<etcd::Client> keep_client_;
  std::thread watcher_, keeper_, notifier_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> lease_id_{0};
  std::atomic<uint64_t> syncs_{0};

  std::mutex wait_mu_;  // sleeps and the keeper's wake-ups
  std::condition_variable wait_cv_;
  uint64_t desired_gen_ = 0;                                   // guarded by wait_mu_
  std::optional<std::map<std::string, std::string>> desired_;  // key -> value; wait_mu_

  std::mutex notify_mu_;
  std::condition_variable notify_cv_;
  bool poked_ = false;  // notify_mu_

  std::mutex mu_;                                   // the remote view and the status below
  std::map<std::string, policy::Endpoint> remote_;  // by key
  std::map<std::string, NodeInfo> nodes_;           // by node
  bool ready_ = false;
  bool listed_ = false;       // the watcher has a fresh list and a running watch
  std::string watch_error_;   // "" when the watcher is healthy
  std::string keeper_error_;  // "" when publishing is healthy
  int64_t revision_ = 0;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace bulkhead::daemon
