// The daemon's status socket: a unix stream socket (mode 0600) answering each connection with
// one JSON document and closing it. Only root (uid 0) may ask; the peer's credentials are
// checked with SO_PEERCRED. With a status group the socket is mode 0660 with that group, and a
// peer whose primary or supplementary groups (SO_PEERGROUPS) include it may ask too. There is no
// command channel: status is read-only.
#pragma once

#include <functional>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace bulkhead::daemon {

class StatusSocket {
 public:
  // `gid` < 0: root only. The process must be a member of `gid` (see join_group()).
  static Result<StatusSocket> listen(const std::string& path, long gid = -1);
  StatusSocket(StatusSocket&& o) noexcept = default;
  StatusSocket& operator=(StatusSocket&&) = delete;
  StatusSocket(const StatusSocket&) = delete;
  ~StatusSocket();

  int fd() const { return fd_.get(); }
  // Accepts one pending connection and answers it with `document()` (called only for an
  // authorised peer). Never blocks for long: the answer is written with a short send timeout.
  void serve_one(const std::function<std::string()>& document);

 private:
  StatusSocket(UniqueFd fd, std::string path, long gid)
      : fd_(std::move(fd)), path_(std::move(path)), gid_(gid) {}
  bool authorised(int conn) const;
  UniqueFd fd_;
  std::string path_;
  long gid_ = -1;
};

// Client side, for `bulkhead status`: connects, reads the whole document.
Result<std::string> fetch_status(const std::string& path);

}  // namespace bulkhead::daemon
