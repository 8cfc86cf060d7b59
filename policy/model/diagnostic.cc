#include "policy/model/diagnostic.h"

namespace bulkhead::policy {

std::string SourcePos::to_string() const {
  // An unknown position (e.g. a whole-file problem found without a parser) names just the file.
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(col > 0 ? col : 1);
}

}  // namespace bulkhead::policy
