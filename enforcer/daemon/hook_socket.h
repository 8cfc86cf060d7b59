// The hook socket (--hook-socket): where bulkhead-hook asks, during a container's start, whether
// its rules are in place (enforcer/hook/protocol.h, docs/daemon.md#the-hook-socket). It lives on
// the daemon's loop and never blocks it: the listening socket and every connection are
// non-blocking and polled; a connection gets one request line of at most 4096 bytes within its
// read bound, else it is refused and closed. Only uid 0 is served (SO_PEERCRED). Every
// connection ends in exactly one counted result.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"
#include "enforcer/daemon/poll_set.h"
#include "enforcer/daemon/time_source.h"
#include "enforcer/hook/protocol.h"

namespace bulkhead::daemon {

inline constexpr const char* kDefaultHookSocket = "/run/bulkhead/hook.sock";

// The results a connection ends with: the metric bulkhead_hook_requests_total{result}.
inline constexpr const char* kHookMalformed = "malformed";
inline constexpr const char* kHookDeniedPeer = "denied_peer";

class HookSocket {
 public:
  struct Limits {
    std::chrono::milliseconds read_time{1000};  // from accept to the request's '\n'
    size_t max_request = hook::kMaxRequestBytes;
    size_t max_connections = 256;  // beyond it, the oldest pending connection is refused
    uid_t served_uid = 0;          // root; tests without root serve their own uid
  };
  // Answers well-formed requests from root peers (the start gate): one answer per request, in
  // order.
  using Answerer =
      std::function<std::vector<hook::HookAnswer>(const std::vector<hook::HookRequest>&)>;
  // Each connection's result ("enforced", ..., "malformed", "denied_peer") and, when refused,
  // why: for metrics and the log.
  using Counter = std::function<void(const std::string& result, const std::string& why)>;

  // Creates the parent directory (0700), replaces a stale socket file, binds it 0600.
  static Result<std::unique_ptr<HookSocket>> listen(const std::string& path, TimeSource& time,
                                                    Limits limits);
  // Adopts a listening socket (tests: a socketpair-free abstract path or a temporary file).
  HookSocket(UniqueFd listener, std::string path, TimeSource& time, Limits limits);
  ~HookSocket();  // closes every connection; removes the socket file it created
  HookSocket(const HookSocket&) = delete;
  HookSocket& operator=(const HookSocket&) = delete;

  // Registers the listener and, as they come, every connection in `polls`; results go to
  // `answer` and `count`.
  void attach(PollSet& polls, Answerer answer, Counter count);
  // Answers every request read since the last call, in one call of the answerer; the loop calls
  // it each round.
  void answer_queued();
  bool has_queued() const { return !queued_.empty(); }
  // Refuses every connection whose read bound has passed; the loop calls it each round.
  void expire();
  // The earliest read deadline of an open connection, for the loop's poll timeout.
  std::optional<Clock::time_point> next_deadline() const;
  size_t open_connections() const { return conns_.size(); }
  int fd() const { return listener_.get(); }

  // Exposed for tests: what the loop's handlers do.
  void accept_pending();
  void read_from(int fd);

 private:
  struct Conn {
    UniqueFd fd;
    Clock::time_point deadline;
    std::string buf;
    bool queued = false;  // its request is read and waits for answer_queued: no deadline
  };
  struct Queued {
    int fd;
    hook::HookRequest request;
  };
  // A flood of idle connections must not grow without bound: the oldest still reading goes.
  void refuse_oldest_reading();
  void finish(int fd, const std::string& result, const std::string& why,
              const std::optional<hook::HookAnswer>& answer);

  UniqueFd listener_;
  std::string path_;  // "" when not ours to remove
  ino_t ino_ = 0;     // the socket file we bound: another daemon's replacement is left alone
  TimeSource& time_;
  Limits limits_;
  PollSet* polls_ = nullptr;
  Answerer answer_;
  Counter count_;
  std::map<int, Conn> conns_;
  std::vector<Queued> queued_;
};

// The peer's uid through SO_PEERCRED, or nullopt when the kernel cannot say.
std::optional<uid_t> peer_uid(int fd);

}  // namespace bulkhead::daemon
