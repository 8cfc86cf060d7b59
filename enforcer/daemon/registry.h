// The endpoints as the daemon last compiled them, by name, for status, the flow log's names and
// a reload checked while a source is not ready; the endpoints no source can enforce; and why
// the last plan was refused.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "enforcer/daemon/source_set.h"
#include "policy/model/address.h"
#include "policy/model/endpoint.h"

namespace bulkhead::daemon {

// Inventory entries may leave addresses out: they are read from the namespace itself.
void fill_addresses(policy::Endpoints& endpoints);

// Local and remote endpoints in one list sorted by name, or (`duplicate`) the name of an
// endpoint that two sources define.
struct Merged {
  policy::Endpoints all;
  std::string duplicate;
};
Merged merge_endpoints(const Gathered& gathered);

class Registry {
 public:
  void commit(const policy::Endpoints& all, std::vector<Unenforceable> unenforceable);

  const policy::Endpoint* find(const std::string& name) const;
  // The endpoint holding `addr`, "" when none does.
  std::string endpoint_at(const policy::IpAddr& addr) const;
  policy::Endpoints endpoints() const;
  const std::vector<Unenforceable>& unenforceable() const { return unenforceable_; }

  // Why the last compiled plan was refused, "" when it was handed to the reconciler.
  const std::string& plan_refused() const { return plan_refused_; }
  void set_plan_refused(std::string why) { plan_refused_ = std::move(why); }

 private:
  std::map<std::string, policy::Endpoint> known_;
  std::vector<Unenforceable> unenforceable_;
  std::string plan_refused_;
};

}  // namespace bulkhead::daemon
