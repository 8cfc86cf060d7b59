#include "enforcer/daemon/hook_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>

#include "enforcer/status/unix_listener.h"

namespace bulkhead::daemon {
namespace {

std::string ms_text(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

}  // namespace

std::optional<uid_t> peer_uid(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return std::nullopt;
  return cred.uid;
}

Result<std::unique_ptr<HookSocket>> HookSocket::listen(const std::string& path, TimeSource& time,
                                                       Limits limits) {
  // Root only (mode 0600 in a 0700 directory); the peer's uid is checked on every connection.
  auto fd = listen_unix(path, 128, 0700, "hook socket " + path);
  if (!fd) return fd.error();
  return std::make_unique<HookSocket>(std::move(*fd), path, time, limits);
}

HookSocket::HookSocket(UniqueFd listener, std::string path, TimeSource& time, Limits limits)
    : listener_(std::move(listener)), path_(std::move(path)), time_(time), limits_(limits) {
  struct stat st {};
  if (!path_.empty() && ::lstat(path_.c_str(), &st) == 0) ino_ = st.st_ino;
}

HookSocket::~HookSocket() {
  if (polls_ != nullptr) {
    for (const auto& [fd, c] : conns_) polls_->remove(fd);
    polls_->remove(listener_.get());
  }
  struct stat st {};
  if (!path_.empty() && ::lstat(path_.c_str(), &st) == 0 && st.st_ino == ino_)
    ::unlink(path_.c_str());
}

void HookSocket::attach(PollSet& polls, Answerer answer, Counter count) {
  polls_ = &polls;
  answer_ = std::move(answer);
  count_ = std::move(count);
  polls.add(listener_.get(), [this] { accept_pending(); });
}

void HookSocket::accept_pending() {
  for (;;) {
    UniqueFd c(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (c.get() < 0) return;  // EAGAIN: none left; anything else: the peer is already gone
    auto uid = peer_uid(c.get());
    if (!uid || *uid != limits_.served_uid) {
      if (count_)
        count_(kHookDeniedPeer,
               uid ? "peer uid " + std::to_string(*uid) + " is not served" : "no peer credentials");
      continue;  // closed without an answer: a non-root peer learns nothing
    }
    if (conns_.size() >= limits_.max_connections) refuse_oldest_reading();
    const int fd = c.get();
    conns_[fd] = Conn{std::move(c), time_.now() + limits_.read_time, {}};
    if (polls_ != nullptr) polls_->add(fd, [this, fd] { read_from(fd); });
    // A hook writes its request right after connecting: read it now, not a round later.
    read_from(fd);
  }
}

void HookSocket::refuse_oldest_reading() {
  auto oldest = conns_.end();
  for (auto it = conns_.begin(); it != conns_.end(); ++it)
    if (!it->second.queued &&
        (oldest == conns_.end() || it->second.deadline < oldest->second.deadline))
      oldest = it;
  // Every slot holds a request about to be answered: those connections end this round.
  if (oldest != conns_.end())
    finish(oldest->first, kHookMalformed, "too many pending connections", std::nullopt);
}

void HookSocket::read_from(int fd) {
  auto it = conns_.find(fd);
  if (it == conns_.end() || it->second.queued) return;
  Conn& c = it->second;
  char chunk[1024];
  for (;;) {
    const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // the rest comes later
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      finish(fd, kHookMalformed,
             c.buf.empty() ? "closed before a request" : "closed before the request's end",
             std::nullopt);
      return;
    }
    c.buf.append(chunk, static_cast<size_t>(n));
    const size_t nl = c.buf.find('\n');
    if (nl == std::string::npos) {
      if (c.buf.size() >= limits_.max_request) {
        finish(fd, kHookMalformed,
               "request longer than " + std::to_string(limits_.max_request) + " bytes",
               hook::HookAnswer{hook::Verdict::kRefused, "request too long"});
        return;
      }
      continue;
    }
    if (nl + 1 > limits_.max_request) {
      finish(fd, kHookMalformed,
             "request longer than " + std::to_string(limits_.max_request) + " bytes",
             hook::HookAnswer{hook::Verdict::kRefused, "request too long"});
      return;
    }
    std::string why;
    auto request = hook::parse_request(std::string_view(c.buf).substr(0, nl + 1), &why);
    if (!request) {
      finish(fd, kHookMalformed, "malformed request: " + why,
             hook::HookAnswer{hook::Verdict::kRefused, "malformed request: " + why});
      return;
    }
    c.queued = true;
    if (polls_ != nullptr) polls_->remove(fd);  // nothing more to read; the answer comes next
    queued_.push_back({fd, std::move(*request)});
    return;
  }
}

void HookSocket::answer_queued() {
  if (queued_.empty()) return;
  std::vector<Queued> batch;
  batch.swap(queued_);
  std::vector<hook::HookRequest> requests;
  for (const auto& q : batch) requests.push_back(q.request);

  std::vector<hook::HookAnswer> answers;
  if (answer_) answers = answer_(requests);
  for (size_t i = 0; i < batch.size(); ++i) {
    const hook::HookAnswer a = i < answers.size()
                                   ? answers[i]
                                   : hook::HookAnswer{hook::Verdict::kRefused, "no start gate"};
    const std::string result(hook::verdict_name(a.verdict));
    finish(batch[i].fd, result, a.verdict == hook::Verdict::kRefused ? a.reason : "", a);
  }
}

void HookSocket::expire() {
  const auto now = time_.now();
  std::vector<int> late;
  for (const auto& [fd, c] : conns_)
    if (!c.queued && c.deadline <= now) late.push_back(fd);
  for (int fd : late)
    finish(fd, kHookMalformed, "no complete request within " + ms_text(limits_.read_time),
           hook::HookAnswer{hook::Verdict::kRefused, "request too slow"});
}

std::optional<Clock::time_point> HookSocket::next_deadline() const {
  std::optional<Clock::time_point> next;
  for (const auto& [fd, c] : conns_)
    if (!c.queued && (!next || c.deadline < *next)) next = c.deadline;
  return next;
}

void HookSocket::finish(int fd, const std::string& result, const std::string& why,
                        const std::optional<hook::HookAnswer>& answer) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  if (answer) {
    // One short line into an empty socket buffer: never blocks; a peer that went away loses it.
    const std::string line = hook::render_answer(*answer);
    (void)::send(fd, line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  if (polls_ != nullptr) polls_->remove(fd);
  conns_.erase(it);  // closes
  if (count_) count_(result, why);
}

}  // namespace bulkhead::daemon
