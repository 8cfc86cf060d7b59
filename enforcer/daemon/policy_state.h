// The policies the daemon enforces and how loading them went: the last set that loaded (still
// enforced while the files do not load), the digest of its files, and the current problem with
// the time it began. A reloaded set is a Candidate until the daemon has compiled it within the
// limits (docs/daemon.md, What it does).
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "enforcer/daemon/time_source.h"
#include "policy/model/model.h"

namespace bulkhead::daemon {

class PolicyState {
 public:
  // A set that loaded without errors, not yet enforced.
  struct Candidate {
    policy::PolicySet set;
    std::string digest;  // cluster::policy_digest of the texts it was loaded from
  };
  struct Attempt {
    std::optional<Candidate> candidate;
    std::string problem;  // why there is no candidate: "file:line:col: message [rule]"
  };

  // Loads `paths` once (the digest comes from the texts read). No policy at all is a problem
  // too: it would release every endpoint. Diagnostics go to the log.
  static Attempt load(const std::vector<std::string>& paths);

  void accept(Candidate c);
  // The paths do not load (or their plan was refused): the enforced set stays.
  void refuse(const std::string& problem, WallClock::time_point now);

  bool has_set() const { return set_.has_value(); }
  const policy::PolicySet& set() const { return *set_; }
  // The label keys the set's selectors read (policy::selector_keys), kept with the set.
  const std::set<std::string>& read_keys() const { return read_keys_; }
  const std::string& digest() const { return digest_; }
  const std::string& error() const { return error_; }  // "" while the paths load
  WallClock::time_point error_since() const { return error_since_; }

 private:
  std::optional<policy::PolicySet> set_;
  std::set<std::string> read_keys_;
  std::string digest_;
  std::string error_;
  WallClock::time_point error_since_{};
};

}  // namespace bulkhead::daemon
