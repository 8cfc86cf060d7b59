#include "enforcer/sources/inventory.h"

#include "common/scratch_heap.h"
#include "policy/load/load.h"

namespace bulkhead::daemon {

Status InventorySource::start(std::function<void()> changed) {
  changed_ = std::move(changed);
  auto diags = reload();
  for (const auto& d : diags) {
    if (d.severity != policy::Severity::error) continue;
    return make_error(name(), "the inventory did not load: " + d.pos.to_string() + ": " +
                                  d.message + " [" + d.rule + "]");
  }
  return {};
}

Snapshot InventorySource::snapshot() {
  std::lock_guard lock(mu_);
  return snap_;
}

policy::Diagnostics InventorySource::reload() {
  // Parsed on the scratch heap: the YAML nodes are thousands of small allocations at 1,000
  // endpoints; what is kept is copied into the snapshot below.
  auto inv = on_scratch_heap([&] { return policy::load_inventory(path_); });
  {
    std::lock_guard lock(mu_);
    if (policy::has_errors(inv.diagnostics)) {
      snap_.error = "the inventory did not load; keeping the last good one";
      for (const auto& d : inv.diagnostics) {
        if (d.severity != policy::Severity::error) continue;
        snap_.error += " (" + d.pos.to_string() + ": " + d.message + " [" + d.rule + "])";
        break;
      }
    } else {
      snap_.ready = true;
      snap_.error.clear();
      snap_.unenforceable.clear();
      // A host-network endpoint's namespace is the host's: never program it as if it were its own.
      for (const auto& ep : inv.endpoints)
        if (ep.host_network)
          snap_.unenforceable.push_back({ep.name, "host network: shares the host's namespace"});
      std::erase_if(inv.endpoints, [](const policy::Endpoint& ep) { return ep.host_network; });
      // Copied, not moved: the parsed endpoints live on the scratch heap, while a copy assignment
      // rewrites the kept ones in their own buffers, so churn leaves no holes behind.
      snap_.endpoints = inv.endpoints;
    }
  }
  if (changed_) changed_();
  return inv.diagnostics;
}

}  // namespace bulkhead::daemon
