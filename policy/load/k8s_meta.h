// Private to the Kubernetes loaders: ObjectMeta as the API server validates it, and bulkhead's
// own annotations.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policy/load/state.h"

namespace bulkhead::policy {

inline constexpr const char* kModeAnnotation = "bulkhead/mode";
inline constexpr const char* kLintIgnoreAnnotation = "bulkhead/lint-ignore";

struct K8sMeta {
  std::string name;
  std::string ns = "default";
  SourcePos name_pos;
  Labels labels;
  bool audit = false;
  std::vector<std::string> lint_ignore;
  SourcePos lint_ignore_pos;
};

// `metadata` of `top` (name required; `namespaced`: a namespace field, and the name is a DNS
// subdomain rather than a DNS label). Reports every problem; nullopt when there was one.
std::optional<K8sMeta> load_k8s_meta(yaml::Source& src, const yaml::Map& top, bool namespaced);

// A map of labels (metadata.labels, matchLabels): null is no labels, a null value is "", keys and
// values as Kubernetes types and validates them. `rule` names the diagnostics.
std::optional<Labels> load_k8s_labels(yaml::Source& src, const yaml::Field& f,
                                      const std::string& rule);

}  // namespace bulkhead::policy
