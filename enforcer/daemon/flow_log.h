// The denied-flow log: one nfnetlink_log socket per enforced namespace (the log rules of its
// chains send the first packet of each denied or would-be-denied new connection there), records
// named after the endpoints and the deciding policies, identical flows aggregated over a short
// window into one structured log line, and a bounded ring of recent records for status.
// docs/daemon.md describes the log lines; docs/dataplane.md the kernel rules.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "enforcer/daemon/endpoint_watcher.h"
#include "enforcer/daemon/poll_set.h"
#include "netlink/session.h"
#include "netlink/watch/nflog.h"
#include "policy/model/address.h"

namespace bulkhead::daemon {

struct FlowRecord {
  std::string endpoint;   // where the packet was logged
  std::string direction;  // "ingress" or "egress" (of `endpoint`)
  std::string verdict;    // "denied" or "would-deny"
  policy::IpAddr src, dst;
  std::string src_endpoint, dst_endpoint;  // "" for an address outside every endpoint
  uint8_t proto = 0;                       // IPPROTO_*
  uint16_t port = 0;                       // destination port; ICMP / ICMPv6: the type
  std::vector<std::string> policies;       // the deciding policies
  uint64_t count = 0;                      // logged packets of this flow in the window
  std::chrono::system_clock::time_point first, last;
  bool open = false;  // its window has not closed yet (status only)
};

// "tcp", "udp", "sctp", "icmp", "icmpv6", or the protocol number.
std::string proto_name(uint8_t proto);
// The fields of a log line or a status entry.
std::vector<std::pair<std::string, std::string>> flow_fields(const FlowRecord& r);

// Pure aggregation: identical flows (endpoint, direction, verdict, addresses, protocol, port) seen
// within `window` of the first become one record. Memory is bounded: at most `max_keys` open
// windows (further distinct flows are only counted as overflow) and `recent` closed records.
class FlowAggregator {
 public:
  using Clock = std::chrono::steady_clock;
  struct Limits {
    std::chrono::milliseconds window{5000};
    size_t max_keys = 4096;
    size_t recent = 100;
  };
  explicit FlowAggregator(Limits limits) : limits_(limits) {}

  // `r` is one logged packet (count 1, first == last). False when it opened no window because
  // max_keys are open; such packets are counted in overflow().
  bool add(const FlowRecord& r, Clock::time_point now);
  // Closes the windows that ended by `now`, oldest first; they also enter recent().
  std::vector<FlowRecord> expire(Clock::time_point now);
  std::optional<Clock::time_point> next_deadline() const;
  // Closed records, oldest first, then the open windows (marked open).
  std::vector<FlowRecord> snapshot() const;
  size_t open_windows() const { return open_.size(); }
  // Packets not aggregated because of the cap; reset by take_overflow().
  uint64_t take_overflow() { return std::exchange(overflow_, 0); }

 private:
  struct Key {
    std::string endpoint, direction, verdict;
    policy::IpAddr src, dst;
    uint8_t proto;
    uint16_t port;
    auto operator<=>(const Key&) const = default;
  };
  struct Open {
    FlowRecord record;
    Clock::time_point deadline;
  };
  Limits limits_;
  std::map<Key, Open> open_;
  std::deque<std::pair<Clock::time_point, Key>> order_;  // windows by deadline (FIFO)
  std::deque<FlowRecord> recent_;
  uint64_t overflow_ = 0;
};

class FlowLog : public EndpointWatcher {
 public:
  struct Context {
    // The endpoint holding `addr`, "" when none does.
    std::function<std::string(const policy::IpAddr& addr)> endpoint_at;
    // The policies isolating that side of the endpoint: enforcing ones, or audit ones.
    std::function<std::vector<std::string>(const std::string& endpoint, bool egress, bool audit)>
        deciding;
    // Called once per logged packet (metrics); may be empty.
    std::function<void(const FlowRecord&)> counted;
  };

  // `sessions` may be null: each namespace is then opened here.
  FlowLog(PollSet& polls, Context ctx, FlowAggregator::Limits limits = {},
          netlink::Sessions* sessions = nullptr);
  ~FlowLog() override;
  FlowLog(const FlowLog&) = delete;
  FlowLog& operator=(const FlowLog&) = delete;

  void enforced(const policy::EndpointPlan& plan) override;
  void released(const std::string& endpoint, const std::string& netns) override;

  std::vector<FlowRecord> recent() const { return agg_.snapshot(); }
  size_t listeners() const { return listeners_.size(); }

 private:
  struct Listener {
    std::string netns;
    ino_t inode = 0;
    netlink::NflogSocket sock;
  };
  void close(const std::string& endpoint);
  void drain(const std::string& endpoint);
  void take(const std::string& endpoint, const netlink::NflogRecord& rec);
  void flush();
  void arm_timer();

  PollSet& polls_;
  Context ctx_;
  netlink::Sessions* sessions_;
  FlowAggregator agg_;
  std::map<std::string, std::unique_ptr<Listener>> listeners_;  // by endpoint
  UniqueFd timer_;
  uint64_t unknown_prefix_ = 0;
};

}  // namespace bulkhead::daemon
