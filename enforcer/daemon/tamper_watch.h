// The repair loop for endpoints that can change their own namespace (CAP_NET_ADMIN, privileged):
// one ChangeMonitor per enforced namespace; a foreign change to bulkhead's table, qdiscs or ifb
// marks the endpoint dirty, so the daemon's loop re-applies it in the same iteration, and is
// logged ("tampering detected; restoring"), counted (bulkhead_tamper_repairs_total{endpoint})
// and kept for status. Changes the daemon makes itself are recognised and ignored.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "enforcer/daemon/endpoint_watcher.h"
#include "enforcer/daemon/metrics.h"
#include "enforcer/daemon/poll_set.h"
#include "enforcer/daemon/reconciler.h"
#include "netlink/session.h"
#include "netlink/watch/change_monitor.h"

namespace bulkhead::daemon {

struct TamperRecord {
  uint64_t repairs = 0;
  std::chrono::system_clock::time_point last{};
  std::string last_change;     // the first foreign change of the last event
  double last_restore_ms = 0;  // from reading the notification to the committed repair
  bool pending = false;        // detected, not yet re-applied
  Clock::time_point detected{};
};

class TamperWatch final : public EndpointWatcher {
 public:
  // `metrics` may be null (no --metrics-listen).
  // `sessions` may be null: each namespace is then opened here.
  TamperWatch(PollSet& poll, Reconciler& reconciler, Metrics* metrics,
              netlink::Sessions* sessions = nullptr)
      : poll_(poll), reconciler_(reconciler), metrics_(metrics), sessions_(sessions) {}
  ~TamperWatch() override;

  void enforced(const policy::EndpointPlan& plan) override;
  void released(const std::string& endpoint, const std::string& netns) override;

  const std::map<std::string, TamperRecord>& records() const { return records_; }
  bool watching(const std::string& endpoint) const { return monitors_.count(endpoint) > 0; }

 private:
  struct Watched {
    std::string netns;
    netlink::ChangeMonitor monitor;
  };
  void close(const std::string& endpoint);
  void on_readable(const std::string& endpoint, bool nft);

  PollSet& poll_;
  Reconciler& reconciler_;
  Metrics* metrics_;
  netlink::Sessions* sessions_;
  std::map<std::string, std::unique_ptr<Watched>> monitors_;
  std::map<std::string, TamperRecord> records_;
};

}  // namespace bulkhead::daemon
