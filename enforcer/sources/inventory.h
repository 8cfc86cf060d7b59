// The static source: endpoints listed in an inventory file (docs/policy.md, Inventory). The
// daemon's file watch calls reload() when the file changes; a file that fails to load keeps the
// last good endpoints.
#pragma once

#include <mutex>

#include "enforcer/sources/source.h"

namespace bulkhead::daemon {

class InventorySource : public Source {
 public:
  explicit InventorySource(std::string path) : path_(std::move(path)) {}
  std::string name() const override { return "inventory:" + path_; }
  Status start(std::function<void()> changed) override;
  void stop() override {}
  Snapshot snapshot() override;
  // Re-reads the file. Returns its diagnostics (errors keep the previous endpoints).
  policy::Diagnostics reload();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::function<void()> changed_;
  std::mutex mu_;
  Snapshot snap_;
};

}  // namespace bulkhead::daemon
