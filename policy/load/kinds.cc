#include "policy/load/kinds.h"

#include <algorithm>
#include <string_view>
#include <vector>

#include "policy/load/yaml_source.h"
#include "policy/model/selector.h"

namespace bulkhead::policy {
namespace {

constexpr std::string_view kNative = "bulkhead/v1";
constexpr std::string_view kNetworking = "networking.k8s.io/v1";
constexpr std::string_view kCore = "v1";

// The built-in API groups of Kubernetes and their versions ("" is the core group).
struct Group {
  std::string_view name;
  std::vector<std::string_view> versions;
};

const std::vector<Group>& builtin_groups() {
  static const std::vector<Group> g = {
      {"", {"v1"}},
      {"admissionregistration.k8s.io", {"v1", "v1beta1", "v1alpha1"}},
      {"apiextensions.k8s.io", {"v1", "v1beta1"}},
      {"apiregistration.k8s.io", {"v1", "v1beta1"}},
      {"apps", {"v1", "v1beta1", "v1beta2"}},
      {"authentication.k8s.io", {"v1", "v1beta1", "v1alpha1"}},
      {"authorization.k8s.io", {"v1", "v1beta1"}},
      {"autoscaling", {"v1", "v2", "v2beta1", "v2beta2"}},
      {"batch", {"v1", "v1beta1"}},
      {"certificates.k8s.io", {"v1", "v1beta1", "v1alpha1"}},
      {"coordination.k8s.io", {"v1", "v1beta1", "v1alpha2"}},
      {"discovery.k8s.io", {"v1", "v1beta1"}},
      {"events.k8s.io", {"v1", "v1beta1"}},
      {"extensions", {"v1beta1"}},
      {"flowcontrol.apiserver.k8s.io", {"v1", "v1beta1", "v1beta2", "v1beta3"}},
      {"internal.apiserver.k8s.io", {"v1alpha1"}},
      {"networking.k8s.io", {"v1", "v1beta1", "v1alpha1"}},
      {"node.k8s.io", {"v1", "v1beta1", "v1alpha1"}},
      {"policy", {"v1", "v1beta1"}},
      {"rbac.authorization.k8s.io", {"v1", "v1beta1", "v1alpha1"}},
      {"resource.k8s.io", {"v1", "v1beta1", "v1beta2", "v1alpha3"}},
      {"scheduling.k8s.io", {"v1", "v1beta1", "v1alpha1"}},
      {"storage.k8s.io", {"v1", "v1beta1", "v1alpha1"}},
      {"storagemigration.k8s.io", {"v1alpha1"}},
  };
  return g;
}

// Every kind of the apiVersions bulkhead reads from: read ones first, then the skipped ones.
struct PolicyApi {
  std::string_view api;
  std::vector<std::string> read;
  std::vector<std::string> skipped;  // their *List kinds are lists whose items are skipped
};

const std::vector<PolicyApi>& policy_apis() {
  static const std::vector<PolicyApi> a = {
      {kNative, {"Policy", "Inventory"}, {}},
      {kNetworking,
       {"NetworkPolicy", "NetworkPolicyList"},
       {"Ingress", "IngressClass", "IPAddress", "ServiceCIDR"}},
      {kCore,
       {"Namespace", "NamespaceList", "List"},
       {"Binding", "ComponentStatus", "ConfigMap", "Endpoints", "Event", "LimitRange", "Node",
        "PersistentVolume", "PersistentVolumeClaim", "Pod", "PodTemplate", "ReplicationController",
        "ResourceQuota", "Secret", "Service", "ServiceAccount"}},
  };
  return a;
}

bool is_builtin(std::string_view api) {
  const auto slash = api.find('/');
  const std::string_view group = slash == api.npos ? "" : api.substr(0, slash);
  const std::string_view version = slash == api.npos ? api : api.substr(slash + 1);
  for (const auto& g : builtin_groups()) {
    if (g.name != group) continue;
    return std::find(g.versions.begin(), g.versions.end(), version) != g.versions.end();
  }
  return false;
}

// group.example.com/v1, v2beta1...: the apiVersion of a custom resource.
bool is_custom_resource_api(std::string_view api) {
  const auto slash = api.find('/');
  if (slash == api.npos || slash == 0) return false;
  const std::string_view group = api.substr(0, slash), version = api.substr(slash + 1);
  if (group.find('.') == group.npos || version.size() < 2 || version[0] != 'v') return false;
  // A label key's prefix has the same rule as an API group: a DNS subdomain.
  return valid_label_key(std::string(group) + "/x") &&
         std::all_of(version.begin() + 1, version.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'); }) &&
         version[1] >= '1' && version[1] <= '9';
}

bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() > tail.size() && s.substr(s.size() - tail.size()) == tail;
}

Classified fail(std::string message, std::string rule, bool at_api) {
  return Classified{DocClass::error, std::move(message), std::move(rule), at_api};
}

std::string join_or(const std::vector<std::string>& words) {
  std::string s;
  for (size_t i = 0; i < words.size(); ++i)
    s += (i == 0 ? "" : i + 1 == words.size() ? " or " : ", ") + words[i];
  return s;
}

Classified classify_policy_api(const PolicyApi& pa, const std::string& kind, bool in_list) {
  const std::string api(pa.api);
  auto listed = [&](const std::vector<std::string>& v) {
    return std::find(v.begin(), v.end(), kind) != v.end();
  };
  if (listed(pa.read)) {
    if (kind == "Policy") return Classified{DocClass::native_policy};
    if (kind == "Inventory") return Classified{DocClass::inventory};
    if (kind == "NetworkPolicy") return Classified{DocClass::network_policy};
    if (kind == "Namespace") return Classified{DocClass::namespace_doc};
    if (in_list) {
      return fail("a " + kind + " inside a list is not read; put its items in the outer list",
                  "unknown-kind", false);
    }
    return Classified{DocClass::list};
  }
  std::vector<std::string> all = pa.read;
  for (const auto& k : pa.skipped) {
    if (kind == k) return Classified{DocClass::skipped};
    if (kind == k + "List") return Classified{in_list ? DocClass::skipped : DocClass::list};
    all.push_back(k);
    all.push_back(k + "List");
  }
  auto hint = did_you_mean(kind, all);
  return fail("unknown kind \"" + kind + "\" for apiVersion " + api +
                  (hint ? "; did you mean \"" + *hint + "\"?" : "; expected " + join_or(pa.read)),
              "unknown-kind", false);
}

}  // namespace

std::string list_item_kind(const std::string& kind) {
  return ends_with(kind, "List") ? kind.substr(0, kind.size() - 4) : "";
}

Classified classify_document(const std::string& api, const std::string& kind, bool in_list) {
  for (const auto& pa : policy_apis())
    if (api == pa.api) return classify_policy_api(pa, kind, in_list);
  // A policy of another API or CNI would leave traffic open that its author means to close.
  if (kind.find("NetworkPolicy") != std::string::npos) {
    if (kind == "NetworkPolicy" || kind == "NetworkPolicyList") {
      return fail("unknown apiVersion \"" + api + "\"; " + kind + " is " + std::string(kNetworking),
                  "unknown-kind", true);
    }
    return fail("bulkhead does not enforce " + kind + " (" + api +
                    "); it reads networking.k8s.io/v1 NetworkPolicy and bulkhead/v1 Policy",
                "unsupported-kind", false);
  }
  // A Namespace of another built-in group is a mistake; custom resources may reuse the names
  // (Kyverno's kyverno.io/v1 Policy is not bulkhead's).
  if (is_builtin(api) && (kind == "Namespace" || kind == "NamespaceList")) {
    return fail("unknown apiVersion \"" + api + "\"; " + kind + " is v1", "unknown-kind", true);
  }
  if (is_builtin(api)) {
    return Classified{ends_with(kind, "List") && !in_list ? DocClass::list : DocClass::skipped};
  }
  // A near miss of a policy apiVersion is a typo, not some other API.
  for (const auto& pa : policy_apis()) {
    if (edit_distance(api, pa.api) <= 2) {
      return fail(
          "unknown apiVersion \"" + api + "\"; did you mean \"" + std::string(pa.api) + "\"?",
          "unknown-kind", true);
    }
  }
  if (is_custom_resource_api(api)) {
    return Classified{ends_with(kind, "List") && !in_list ? DocClass::list : DocClass::skipped};
  }
  return fail("unknown apiVersion \"" + api +
                  "\"; expected bulkhead/v1 (Policy), networking.k8s.io/v1 (NetworkPolicy), v1 "
                  "(Namespace, List), or another Kubernetes API (skipped)",
              "unknown-kind", true);
}

}  // namespace bulkhead::policy
