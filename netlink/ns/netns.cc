#include "netlink/ns/netns.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace bulkhead::netlink {

Result<NetnsHandle> NetnsHandle::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    // `ip netns add` and `ip netns del` keep an empty mode-0 file at the path while they mount or
    // unmount the namespace on it; without CAP_DAC_OVERRIDE (dropped by bulkheadd) opening that
    // fails with EACCES. It is no namespace: say so, as absent, so that a release counts the
    // namespace gone and an apply is retried, instead of reporting "Permission denied".
    struct statfs fs {};
    if (err == EACCES && ::statfs(path.c_str(), &fs) == 0 && fs.f_type != NSFS_MAGIC) {
      return make_error("open netns " + path, "not a network namespace (being created or deleted)",
                        ENOENT);
    }
    return make_error("open netns " + path, "cannot open", err);
  }
  UniqueFd owned(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    return make_error("open netns " + path, "fstat", err);
  }
  return NetnsHandle(std::move(owned), st.st_ino, st.st_dev, path);
}

Result<NetnsHandle> NetnsHandle::current() {
  // /proc/thread-self, not /proc/self: only this thread's namespace matters.
  return open("/proc/thread-self/ns/net");
}

namespace {

struct NsIdentity {
  dev_t dev = 0;
  ino_t ino = 0;
  int error = 0;
};

NsIdentity identity_of(const char* path) {
  struct stat st {};
  if (::stat(path, &st) != 0) return {0, 0, errno};
  return {st.st_dev, st.st_ino, 0};
}

// Static initialisation runs on the main thread before main(), before any thread exists.
const NsIdentity kStartNamespace = identity_of("/proc/thread-self/ns/net");

}  // namespace

Result<bool> is_start_netns(const std::string& path) {
  if (kStartNamespace.error != 0) {
    return make_error("stat /proc/thread-self/ns/net", "cannot stat at start",
                      kStartNamespace.error);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return make_error("stat netns " + path, "cannot stat", errno);
  return st.st_dev == kStartNamespace.dev && st.st_ino == kStartNamespace.ino;
}

bool is_start_netns(const NetnsHandle& ns) {
  return kStartNamespace.error == 0 && ns.dev() == kStartNamespace.dev &&
         ns.inode() == kStartNamespace.ino;
}

Result<ino_t> netns_inode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return make_error("stat netns " + path, "cannot stat", errno);
  return st.st_ino;
}

Status run_in_netns(const NetnsHandle& ns, const std::function<Status()>& fn) {
  // The thread's own namespace, kept open so that the way back never depends on a path.
  thread_local int home = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) return make_error("open /proc/thread-self/ns/net", "cannot open", errno);
  if (::setns(ns.fd(), CLONE_NEWNET) != 0) {
    return make_error("setns " + ns.path(), "cannot enter namespace", errno);
  }
  Status result = fn();
  // Going on in a foreign namespace would program the wrong host: better to stop here.
  if (::setns(home, CLONE_NEWNET) != 0) std::abort();
  return result;
}

Result<UniqueFd> socket_in(const NetnsHandle& ns, int domain, int type, int protocol) {
  UniqueFd fd;
  Status st = run_in_netns(ns, [&]() -> Status {
    fd = UniqueFd(::socket(domain, type, protocol));
    if (fd.get() < 0) {
      const int err = errno;
      return make_error("socket in " + ns.path(), "cannot create", err);
    }
    return {};
  });
  if (!st.ok()) return st.error();
  return fd;
}

}  // namespace bulkhead::netlink
