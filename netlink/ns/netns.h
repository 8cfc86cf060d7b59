// Network namespaces: an owned fd (which keeps the namespace alive) and a way to run work inside
// one without ever leaving a shared thread in the wrong namespace.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace bulkhead::netlink {

class NetnsHandle {
 public:
  // A bind mount such as /run/netns/NAME or a process's /proc/PID/ns/net.
  static Result<NetnsHandle> open(const std::string& path);
  // The namespace of the calling thread.
  static Result<NetnsHandle> current();

  NetnsHandle(NetnsHandle&& o) noexcept = default;
  NetnsHandle& operator=(NetnsHandle&& o) noexcept = default;

  int fd() const { return fd_.get(); }
  // Identity: two handles name the same namespace when dev and inode match. A restarted container
  // gets a new inode behind the same /proc path.
  ino_t inode() const { return ino_; }
  dev_t dev() const { return dev_; }
  const std::string& path() const { return path_; }
  bool same_namespace(const NetnsHandle& o) const { return ino_ == o.ino_ && dev_ == o.dev_; }

 private:
  NetnsHandle(UniqueFd fd, ino_t ino, dev_t dev, std::string path)
      : fd_(std::move(fd)), ino_(ino), dev_(dev), path_(std::move(path)) {}
  UniqueFd fd_;
  ino_t ino_ = 0;
  dev_t dev_ = 0;
  std::string path_;
};

// The inode of the namespace a path names, without keeping it open (cheap cache validation).
Result<ino_t> netns_inode(const std::string& path);

// Whether `path` names the namespace this process started in: the host's, for bulkheadd. Read
// once before main(), so a thread visiting another namespace (run_in_netns) cannot change the
// answer, as it would for /proc/self/ns/net, which follows the main thread.
Result<bool> is_start_netns(const std::string& path);
bool is_start_netns(const NetnsHandle& ns);

// Runs `fn` on the calling thread after entering `ns`, then returns the thread to its own
// namespace before anything else runs on it (the process aborts if it cannot: carrying on in a
// foreign namespace would program the wrong host). Other threads never change namespace.
// Sockets created inside `fn` stay bound to `ns` and may be used afterwards from any thread.
// `fn` must only open sockets or talk to the kernel: no callbacks into other code.
Status run_in_netns(const NetnsHandle& ns, const std::function<Status()>& fn);

// socket(2) inside `ns`, through run_in_netns: the socket stays bound to `ns` (its routes,
// addresses and rules) while the caller goes on using it from its own namespace. This is how
// code outside netlink/ (verify's probes) reaches into a namespace without calling setns itself.
Result<UniqueFd> socket_in(const NetnsHandle& ns, int domain, int type, int protocol);

}  // namespace bulkhead::netlink
