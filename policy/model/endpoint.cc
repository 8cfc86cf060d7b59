#include "policy/model/endpoint.h"

namespace bulkhead::policy {

std::string Endpoint::k8s_namespace() const {
  auto it = labels.find(kNamespaceLabel);
  return it == labels.end() ? "default" : it->second;
}

}  // namespace bulkhead::policy
