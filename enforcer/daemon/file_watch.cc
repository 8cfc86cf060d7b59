#include "enforcer/daemon/file_watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <filesystem>

namespace bulkhead::daemon {

namespace fs = std::filesystem;

FileWatch::FileWatch(const std::vector<std::string>& paths) {
  fd_ = UniqueFd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  std::set<std::string> dirs;
  for (const auto& p : paths) {
    std::error_code ec;
    fs::path abs = fs::absolute(p, ec);
    if (fs::is_directory(abs, ec)) {
      whole_dirs_.insert(abs.lexically_normal().string());
      dirs.insert(abs.lexically_normal().string());
    } else {
      files_.insert(abs.lexically_normal().string());
      dirs.insert(abs.parent_path().lexically_normal().string());
    }
  }
  if (fd_.get() < 0) return;
  for (const auto& d : dirs) {
    int wd = ::inotify_add_watch(
        fd_.get(), d.c_str(),
        IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_ATTRIB);
    if (wd >= 0) dirs_.emplace_back(wd, d);
  }
}

bool FileWatch::drain() {
  if (fd_.get() < 0) return false;
  bool hit = false;
  alignas(inotify_event) char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd_.get(), buf, sizeof(buf));
    if (n <= 0) break;
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<inotify_event*>(p);
      p += sizeof(inotify_event) + ev->len;
      if (ev->len == 0) continue;
      for (const auto& [wd, dir] : dirs_) {
        if (wd != ev->wd) continue;
        std::string name = ev->name;
        std::string full = dir + "/" + name;
        bool yaml = name.ends_with(".yaml") || name.ends_with(".yml");
        if (files_.count(full) || (whole_dirs_.count(dir) && yaml)) hit = true;
      }
    }
  }
  return hit;
}

}  // namespace bulkhead::daemon
