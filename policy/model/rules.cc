#include "policy/model/rules.h"

#include <algorithm>

#include "policy/model/spelling.h"

namespace bulkhead::policy {

const std::vector<RuleInfo>& all_rules() {
  using S = Severity;
  static const std::vector<RuleInfo> rules = {
      // Reading files and documents.
      {"yaml-syntax", S::error, "The file is not valid YAML."},
      {"unreadable-file", S::error, "A file or directory that cannot be read."},
      {"file-too-large", S::error, "A file larger than bulkhead reads; it was not read."},
      {"empty-directory", S::warning, "A directory without policy files."},
      {"unknown-kind", S::error, "A misspelled or unknown apiVersion or kind."},
      {"unsupported-kind", S::error,
       "A network policy of another API or CNI, which bulkhead does not enforce."},
      {"skipped-kind", S::note, "A Kubernetes object of another kind, skipped."},
      {"too-complex", S::error, "A document too large to check."},
      {"too-large", S::error,
       "A value, list, document count or plan beyond one of bulkhead's limits."},
      // Fields and values.
      {"unknown-field", S::error, "A field that this document kind does not have."},
      {"duplicate-key", S::error, "A map gives the same key twice."},
      {"wrong-type", S::error, "A value of the wrong type (e.g. a map where a list belongs)."},
      {"missing-field", S::error, "A required field is missing."},
      {"invalid-name", S::error, "An invalid policy, group, namespace or endpoint name."},
      {"invalid-label", S::error, "An invalid label key or value in metadata.labels."},
      {"invalid-annotation", S::error, "An invalid annotation key, or annotations too large."},
      {"invalid-value", S::error, "A value outside the allowed set."},
      {"invalid-port", S::error, "An invalid port, port name, port range or protocol."},
      {"invalid-cidr", S::error, "An invalid CIDR or except block."},
      {"cidr-host-bits", S::warning, "A CIDR with host bits set."},
      {"nonstandard-cidr", S::warning,
       "A CIDR with leading zeros, which other software may read as octal."},
      {"invalid-selector", S::error, "An invalid label selector."},
      {"invalid-peer", S::error,
       "A NetworkPolicy peer that is empty or mixes ipBlock with selectors."},
      {"duplicate-policy-type", S::warning, "A NetworkPolicy lists the same policy type twice."},
      {"ignored-rules", S::warning, "NetworkPolicy rules that policyTypes makes ineffective."},
      {"invalid-rate", S::error, "An invalid bandwidth rate or burst."},
      {"burst-too-small", S::error, "A burst too small for the rate to be met."},
      {"invalid-address", S::error, "An invalid endpoint address."},
      {"unknown-rule", S::warning, "A lint-ignore entry that names no rule that can be silenced."},
      // Names across documents.
      {"undefined-group", S::error, "A rule names a group that no loaded policy defines."},
      {"duplicate-group", S::error, "Two groups with the same name."},
      {"duplicate-policy", S::error, "Two policies with the same name."},
      {"duplicate-namespace", S::error, "Two Namespace documents with the same name."},
      {"duplicate-endpoint", S::error, "Two inventory endpoints with the same name."},
      {"no-endpoint-side", S::error, "A native rule with no group on either side."},
      {"empty-peers", S::error, "A native rule with an empty from or to list."},
      // Semantic checks over the whole model (lint).
      {"shadowed-rule", S::warning, "A rule whose peers and ports another rule already allows."},
      {"duplicate-rule", S::warning, "A rule identical to another one."},
      {"allow-anything", S::warning, "A rule that allows every peer on every port."},
      {"wide-cidr", S::warning, "A CIDR wider than /8 (IPv4) or /32 (IPv6)."},
      {"cidr-contains-endpoints", S::warning, "A CIDR peer that contains endpoint addresses."},
      {"selects-nothing", S::warning, "A policy or group that selects no endpoint."},
      {"unresolved-named-port", S::warning, "A named port that no relevant endpoint defines."},
      {"conflicting-bandwidth", S::warning, "An endpoint that gets different bandwidth limits."},
      {"unsafe-endpoint", S::warning, "An endpoint that cannot be segmented safely."},
  };
  return rules;
}

std::optional<std::string> closest_silenceable_rule(std::string_view id) {
  std::vector<std::string> ids;
  for (const auto& r : all_rules())
    if (silenceable(r)) ids.emplace_back(r.id);
  return did_you_mean(id, ids);
}

const RuleInfo* find_rule(std::string_view id) {
  const auto& rules = all_rules();
  auto it = std::find_if(rules.begin(), rules.end(), [&](const RuleInfo& r) { return r.id == id; });
  return it == rules.end() ? nullptr : &*it;
}

}  // namespace bulkhead::policy
