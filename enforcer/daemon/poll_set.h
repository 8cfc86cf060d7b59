// Descriptors the daemon's loop polls besides its own fixed ones: per-namespace sockets that
// come and go with endpoints (denied-flow logs, change notifications). Handlers run on the loop
// thread and may add or remove descriptors, including their own.
#pragma once

#include <poll.h>

#include <functional>
#include <map>
#include <vector>

namespace bulkhead::daemon {

class PollSet {
 public:
  using Handler = std::function<void()>;

  // Registers `fd` (replacing an earlier handler for it). The caller keeps owning the fd and
  // must remove() it before closing it.
  void add(int fd, Handler on_readable) { handlers_[fd] = std::move(on_readable); }
  void remove(int fd) { handlers_.erase(fd); }
  size_t size() const { return handlers_.size(); }

  // Appends one pollfd per registered descriptor.
  void fill(std::vector<pollfd>& fds) const {
    for (const auto& [fd, h] : handlers_) fds.push_back({fd, POLLIN, 0});
  }
  // Runs the handler of every descriptor in fds[first..] that is readable or in error. A handler
  // removed by an earlier one in the same round is skipped.
  void dispatch(const std::vector<pollfd>& fds, size_t first) {
    for (size_t i = first; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLERR | POLLHUP))) continue;
      auto it = handlers_.find(fds[i].fd);
      if (it == handlers_.end()) continue;
      Handler h = it->second;  // a copy: the handler may remove itself
      h();
    }
  }

 private:
  std::map<int, Handler> handlers_;
};

}  // namespace bulkhead::daemon
