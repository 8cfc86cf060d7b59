// Reading a file, and replacing one atomically (temporary file in the same directory, fsync,
// rename), so a reader such as runc never sees half a config.json.
#pragma once

#include <string>

#include "common/result.h"

namespace bulkhead::hook {

Result<std::string> read_file(const std::string& path, size_t max_bytes);
// Keeps the mode of an existing file (else `mode`).
Status write_file_atomic(const std::string& path, const std::string& text, unsigned mode = 0644);
// The directory of this program's binary (/proc/self/exe), for the default paths of its siblings.
std::string self_dir();

}  // namespace bulkhead::hook
