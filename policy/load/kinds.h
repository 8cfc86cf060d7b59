// Private to the loaders: which apiVersion/kind pairs bulkhead reads, which it skips as other
// Kubernetes objects, and which are mistakes (docs/kubernetes.md, "What bulkhead reads").
#pragma once

#include <string>

namespace bulkhead::policy {

enum class DocClass {
  native_policy,   // bulkhead/v1 Policy
  inventory,       // bulkhead/v1 Inventory: left to --inventory
  network_policy,  // networking.k8s.io/v1 NetworkPolicy
  namespace_doc,   // v1 Namespace
  list,            // v1 List and the *List kinds of known API groups
  skipped,         // another object of a known Kubernetes API group, or a custom resource
  error,           // a misspelled or unsupported kind or apiVersion
};

struct Classified {
  DocClass what = DocClass::error;
  // DocClass::error: what is wrong, and whether it is the apiVersion (else the kind) that is.
  std::string message = {};
  std::string rule = {};
  bool at_api = false;
};

// `in_list`: the document is an item of a list, where another list is not allowed.
Classified classify_document(const std::string& api, const std::string& kind, bool in_list);

// The kind of the items of list kind `kind` ("NetworkPolicyList" -> "NetworkPolicy"; "" for List).
std::string list_item_kind(const std::string& kind);

}  // namespace bulkhead::policy
