// Watches files for changes through inotify on their directories, so that editors that replace
// a file by renaming a new one over it are seen too.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace bulkhead::daemon {

class FileWatch {
 public:
  // `paths` are files or directories; a file is watched through its directory.
  explicit FileWatch(const std::vector<std::string>& paths);
  FileWatch(const FileWatch&) = delete;
  FileWatch& operator=(const FileWatch&) = delete;

  int fd() const { return fd_.get(); }  // readable when something changed
  // Drains pending events; true when one concerns a watched path.
  bool drain();

 private:
  UniqueFd fd_;
  std::set<std::string> files_;                    // watched files, by absolute path
  std::vector<std::pair<int, std::string>> dirs_;  // watch descriptor -> directory
  std::set<std::string> whole_dirs_;  // directories given as paths: any *.yaml/*.yml change counts
};

}  // namespace bulkhead::daemon
