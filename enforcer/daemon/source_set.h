// The daemon's endpoint sources: made from the options by a SourceFactory (tests hand in fakes),
// started together, waking the loop through one eventfd, and read together once every one of
// them has its first full list.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "enforcer/daemon/options.h"
#include "enforcer/sources/cluster/source.h"
#include "enforcer/sources/inventory.h"
#include "enforcer/sources/source.h"

namespace bulkhead::daemon {

struct Sources {
  std::vector<std::unique_ptr<Source>> all;   // in --source order, the cluster last
  std::vector<InventorySource*> inventories;  // of `all`: files reloaded with the policies
  ClusterSource* cluster = nullptr;           // of `all`, with --cluster
};

class SourceFactory {
 public:
  virtual ~SourceFactory() = default;
  // The sources `opts` name, or why they cannot be made (bulkheadd exits 2).
  virtual Result<Sources> make(const Options& opts) = 0;
};

// --source inventory:FILE, docker[:SOCKET] and --cluster, for real.
class ProductionSources final : public SourceFactory {
 public:
  Result<Sources> make(const Options& opts) override;
};

// What every source knows, taken together.
struct Gathered {
  policy::Endpoints local;   // of this host's sources, as they listed them
  policy::Endpoints remote;  // the cluster's: other hosts' endpoints, peers only
  std::vector<Unenforceable> unenforceable;
};

struct SourceHealth {
  std::string name;
  bool ready = false;
  std::string error;
};

class SourceSet {
 public:
  SourceSet();
  ~SourceSet();  // stops every source
  SourceSet(const SourceSet&) = delete;
  SourceSet& operator=(const SourceSet&) = delete;

  void adopt(Sources sources) { sources_ = std::move(sources); }
  Status start();  // each source, in order; the first failure is returned
  bool ready();    // every source has read its first full list
  int wake_fd() const { return wake_.get(); }  // readable after a source changed
  void drain_wake();

  // Every snapshot, or nullopt until all sources are ready: a partial view would remove the
  // tables of endpoints that were simply not listed yet.
  std::optional<Gathered> gather();
  std::vector<SourceHealth> health();
  size_t size() const { return sources_.all.size(); }
  const std::vector<InventorySource*>& inventories() const { return sources_.inventories; }
  ClusterSource* cluster() const { return sources_.cluster; }

 private:
  Sources sources_;
  UniqueFd wake_;  // eventfd
};

}  // namespace bulkhead::daemon
