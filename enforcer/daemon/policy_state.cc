#include "enforcer/daemon/policy_state.h"

#include "enforcer/daemon/diagnostics.h"
#include "enforcer/log/log.h"
#include "enforcer/sources/cluster/record.h"
#include "policy/inspect/membership.h"
#include "policy/load/load.h"

namespace bulkhead::daemon {

PolicyState::Attempt PolicyState::load(const std::vector<std::string>& paths) {
  auto load = policy::load_policies(paths);
  log_diagnostics(load.diagnostics);
  Attempt out;
  out.problem = first_error(load.diagnostics);
  // No policy at all would release every endpoint. A deleted file or a directory emptied by a
  // half-done deploy is far likelier than a wish to drop all enforcement: refuse it like a
  // broken file (docs/security.md, Faults).
  if (out.problem.empty() && load.set.policies.empty()) {
    out.problem =
        "no policy in the policy paths (deleted or empty?); refusing to release every endpoint";
    log::error(out.problem);
  }
  if (!out.problem.empty()) return out;
  // What other nodes compare with theirs (docs/cluster.md): the texts this load read, so the
  // digest always describes the set it goes with.
  out.candidate = Candidate{std::move(load.set), cluster::policy_digest(load.texts)};
  return out;
}

void PolicyState::accept(Candidate c) {
  set_ = std::move(c.set);
  read_keys_ = policy::selector_keys(*set_);
  digest_ = std::move(c.digest);
  error_.clear();
}

void PolicyState::refuse(const std::string& problem, WallClock::time_point now) {
  if (error_.empty()) error_since_ = now;
  error_ = problem;
}

}  // namespace bulkhead::daemon
