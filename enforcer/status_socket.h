// The daemon's status socket: a unix stream socket (mode 0600) answering each connection with
// one JSON document and closing it. Only root (uid 0) may ask; the peer's credentials are
// checked with SO_PEERCRED. There is no command channel: status is read-only.
#pragma once

#include <functional>
#include <string>

#include "common/result.h"

namespace bulkhead::daemon {

class StatusSocket {
 public:
  static Result<StatusSocket> listen(const std::string& path);
  StatusSocket(StatusSocket&& o) noexcept;
  StatusSocket& operator=(StatusSocket&&) = delete;
  StatusSocket(const StatusSocket&) = delete;
  ~StatusSocket();

  int fd() const { return fd_; }
  // Accepts one pending connection and answers it with `document()` (called only for an
  // authorised peer). Never blocks for long: the answer is written with a short send timeout.
  void serve_one(const std::function<std::string()>& document);

 private:
  StatusSocket(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

// Client side, for `bulkhead status`: connects, reads the whole document.
Result<std::string> fetch_status(const std::string& path);

}  // namespace bulkhead::daemon
