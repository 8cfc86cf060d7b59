// Loading policy documents and inventories from YAML, with source positions on every value.
// Never throws: every problem becomes a Diagnostic naming file, line and column.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/model/diagnostic.h"
#include "policy/model/endpoint.h"
#include "policy/model/model.h"

namespace bulkhead::policy {

// A document of another Kubernetes kind (a Deployment, a Service, a CRD...): not read, so that an
// application's whole install manifest can sit on a policy path.
struct SkippedDocument {
  SourcePos pos;  // its kind
  std::string api_version;
  std::string kind;
  std::string name;  // namespace/name or name, when the document has one
};

struct PolicyLoad {
  PolicySet set;
  Diagnostics diagnostics;         // errors and warnings found while loading
  std::vector<std::string> files;  // every file read, in load order
  std::vector<SkippedDocument> skipped;
  // What was read of each of `files`, as read ("" for one that could not be read): what the
  // daemon's policy digest hashes, so the files are not read a second time for it.
  std::vector<std::string> texts = {};
};

// PATHs are files or directories (every *.yaml / *.yml inside, sorted, not recursive).
// Documents: bulkhead/v1 Policy, networking.k8s.io/v1 NetworkPolicy, v1 Namespace, `kind: List`
// and the *List kinds; other Kubernetes objects are skipped, unknown kinds are errors.
PolicyLoad load_policies(const std::vector<std::string>& paths);
// The same for text already in memory (tests, fuzzing); `file` names it in diagnostics.
PolicyLoad load_policy_text(std::string_view text, const std::string& file);

struct InventoryLoad {
  Endpoints endpoints;  // sorted by name
  Diagnostics diagnostics;
};

InventoryLoad load_inventory(const std::string& path);
InventoryLoad load_inventory_text(std::string_view text, const std::string& file);

}  // namespace bulkhead::policy
