// Private to the loaders: what is gathered while documents are read, before native groups
// (global across all native policies) can be resolved.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "policy/load/load.h"
#include "policy/load/yaml_source.h"
#include "policy/model/model.h"

namespace bulkhead::policy {

struct NativeGroup {
  std::string name;
  LabelSelector selector;
  SourcePos pos;
};

// One entry of a native rule's `from` or `to`.
struct NativeRef {
  struct Group {
    std::string name;
  };
  struct Any {};
  std::variant<Group, CidrPeer, Any> what;
  SourcePos pos;
};

struct NativeRule {
  std::vector<NativeRef> from;
  std::vector<NativeRef> to;
  bool any_port = true;
  std::vector<PortSpec> ports;
  Origin origin;
};

struct LoadState {
  PolicySet set;
  Diagnostics diagnostics;
  std::vector<std::string> files;
  std::vector<SkippedDocument> skipped;
  SourcePos doc_end;  // where the document being loaded ends (PolicyInfo::end)
  std::map<std::string, NativeGroup> groups;      // every native group, by name
  std::set<std::string> broken_groups;            // defined with errors: references stay quiet
  std::vector<NativeRule> native_rules;           // resolved against `groups` at the end
  std::map<std::string, SourcePos> policy_names;  // duplicate-policy detection
  std::map<std::string, SourcePos> namespace_names;
  size_t written_rules = 0;  // native allow entries and NetworkPolicy ingress/egress entries
  bool too_many_reported = false;
};

// Selector fields: a string in the selector syntax (native only) or a map with matchLabels and
// matchExpressions. `kubernetes` applies Kubernetes' label value rules to matchLabels values and
// accepts null as the empty selector.
std::optional<LabelSelector> load_selector(yaml::Source& src, const yaml::Field& f,
                                           bool kubernetes);

// "198.18.0.0/16" with `except` CIDRs inside it. The native format also takes a bare address (a
// /32 or /128); Kubernetes requires the prefix length and allows leading zeros, as the API
// server's ParseCIDRSloppy does.
std::optional<Cidr> load_cidr(yaml::Source& src, const YAML::Node& n, const SourcePos& at,
                              bool kubernetes);
std::optional<CidrPeer> load_cidr_peer(yaml::Source& src, const yaml::Map& m, bool kubernetes);

// Document bodies; `doc` is the whole document map, already known to be of the kind.
void load_native_policy(yaml::Source& src, const YAML::Node& doc, LoadState& st);
void load_network_policy(yaml::Source& src, const YAML::Node& doc, LoadState& st);
void load_namespace(yaml::Source& src, const YAML::Node& doc, LoadState& st);
// Turns native rules into AllowRules once every document is loaded.
void resolve_native(LoadState& st);

// Adds `n` written rules (a policy's allow, ingress or egress list at `at`); past
// limits::kMaxRules reports too-large once and returns false, and the rules are not loaded.
bool count_rules(yaml::Source& src, LoadState& st, size_t n, const SourcePos& at);

// Rule ids in `bulkhead/lint-ignore: a,b` or a native `metadata.lintIgnore` list: each must be a
// rule that can be silenced, else an unknown-rule warning (the rest still apply).
std::vector<std::string> check_ignored_rules(yaml::Source& src, const std::vector<std::string>& ids,
                                             const std::vector<SourcePos>& at);

// Records a policy name; reports duplicate-policy (and returns false) when it was seen before.
// Past limits::kMaxPolicies, reports too-large and returns false.
bool register_policy(yaml::Source& src, LoadState& st, const std::string& name, const SourcePos& at,
                     const std::string& kind);

}  // namespace bulkhead::policy
