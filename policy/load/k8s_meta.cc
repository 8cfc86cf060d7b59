// ObjectMeta of NetworkPolicy and Namespace documents, as ValidateObjectMeta checks it.
#include "policy/load/k8s_meta.h"

#include <algorithm>

namespace bulkhead::policy {

using yaml::Field;
using yaml::Map;
using yaml::Source;

namespace {

// Server-populated metadata that `kubectl get -o yaml` prints; meaningless here.
const std::vector<std::string> kIgnoredMetadata = {"uid",
                                                   "resourceVersion",
                                                   "creationTimestamp",
                                                   "generation",
                                                   "managedFields",
                                                   "selfLink",
                                                   "finalizers",
                                                   "ownerReferences",
                                                   "generateName",
                                                   "deletionTimestamp",
                                                   "deletionGracePeriodSeconds"};

// The API server's limit on the sum of annotation key and value lengths.
constexpr size_t kMaxAnnotationBytes = 256 * 1024;

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool valid_dns_label(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max || !lower_alnum(s.front()) || !lower_alnum(s.back())) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) { return lower_alnum(c) || c == '-'; });
}

// RFC 1123 subdomain: labels joined by '.', at most 253 characters in all.
bool valid_dns_subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (size_t start = 0;;) {
    const size_t dot = s.find('.', start);
    if (!valid_dns_label(s.substr(start, dot == s.npos ? s.npos : dot - start), 253)) return false;
    if (dot == s.npos) return true;
    start = dot + 1;
  }
}

std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

bool load_name(Source& src, const Map& m, const SourcePos& md_pos, bool namespaced, K8sMeta& meta) {
  const Field* nf = m.get("name");
  auto name = nf ? yaml::k8s_string(src, *nf, "a name") : std::optional<std::string>("");
  if (!name) return false;
  if (name->empty()) {
    src.error(nf ? nf->key_pos : md_pos, "missing-field",
              "missing required field \"metadata.name\"");
    return false;
  }
  const bool ok = namespaced ? valid_dns_subdomain(*name) : valid_dns_label(*name, 63);
  if (!ok) {
    src.error(nf->value_pos, "invalid-name",
              "invalid name \"" + *name + "\": use lower-case letters, digits" +
                  (namespaced ? ", '-' and '.' (at most 253)" : " and '-' (at most 63)") +
                  ", each part starting and ending with a letter or digit");
    return false;
  }
  meta.name = *name;
  meta.name_pos = nf->value_pos;
  return true;
}

bool load_namespace_field(Source& src, const Field& nsf, K8sMeta& meta) {
  auto ns = yaml::k8s_string(src, nsf, "a namespace name");
  if (!ns) return false;
  if (ns->empty()) return true;  // unset: the default namespace
  if (!valid_dns_label(*ns, 63)) {
    src.error(nsf.value_pos, "invalid-name",
              "invalid namespace \"" + *ns +
                  "\": use lower-case letters, digits and '-' (at most 63), starting and ending "
                  "with a letter or digit");
    return false;
  }
  meta.ns = *ns;
  return true;
}

bool load_mode(Source& src, const Field& f, K8sMeta& meta) {
  auto v = yaml::k8s_string(src, f, "enforce or audit");
  if (!v) return false;
  if (*v != "audit" && *v != "enforce") {
    src.error(
        f.value_pos, "invalid-value",
        "invalid " + std::string(kModeAnnotation) + " \"" + *v + "\"; expected enforce or audit");
    return false;
  }
  meta.audit = *v == "audit";
  return true;
}

void load_lint_ignore(Source& src, const Field& f, const std::string& text, K8sMeta& meta) {
  std::vector<std::string> ids;
  std::vector<SourcePos> at;
  for (size_t start = 0; start <= text.size();) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string id = trim(std::string_view(text).substr(start, comma - start));
    if (!id.empty()) {
      ids.push_back(id);
      at.push_back(src.pos_in_scalar(f.value, text.find(id, start)));
    }
    start = comma + 1;
  }
  meta.lint_ignore = check_ignored_rules(src, ids, at);
  meta.lint_ignore_pos = f.value_pos;
}

bool load_annotations(Source& src, const Field& af, K8sMeta& meta) {
  if (af.is_null()) return true;
  auto m = Map::open_any(src, af.value, af.value_pos, "a map of annotations");
  if (!m) return false;
  bool ok = true;
  size_t bytes = 0;
  for (const auto& a : m->fields()) {
    const std::string key = yaml::k8s_key(a.key);
    std::string why;
    // Kubernetes checks annotation keys as label keys, with upper case allowed.
    if (!valid_label_key(lower(key), &why)) {
      src.error(a.key_pos, "invalid-annotation", "invalid annotation key \"" + key + "\": " + why);
      ok = false;
    }
    auto v = yaml::k8s_string(src, a, "an annotation value (a string)");
    if (!v) {
      ok = false;
      continue;
    }
    bytes += key.size() + v->size();
    if (key == kModeAnnotation) {
      ok = load_mode(src, a, meta) && ok;
    } else if (key == kLintIgnoreAnnotation) {
      load_lint_ignore(src, a, *v, meta);
    }
  }
  if (bytes > kMaxAnnotationBytes) {
    src.error(af.value_pos, "invalid-annotation",
              "annotations are " + std::to_string(bytes) + " bytes; Kubernetes allows " +
                  std::to_string(kMaxAnnotationBytes));
    ok = false;
  }
  return ok;
}

}  // namespace

std::optional<Labels> load_k8s_labels(Source& src, const Field& f, const std::string& rule) {
  if (f.is_null()) return Labels{};
  auto m = Map::open_any(src, f.value, f.value_pos, "a map of label keys to values");
  if (!m) return std::nullopt;
  Labels labels;
  bool ok = true;
  for (const auto& l : m->fields()) {
    const std::string key = yaml::k8s_key(l.key);
    std::string why;
    if (!valid_label_key(key, &why)) {
      src.error(l.key_pos, rule, "invalid label key \"" + key + "\": " + why);
      ok = false;
      continue;
    }
    auto v = yaml::k8s_string(src, l, "a label value (a string)");
    if (!v) {
      ok = false;
      continue;
    }
    if (!valid_label_value(*v, &why)) {
      src.error(l.value_pos, rule, "invalid label value \"" + *v + "\": " + why);
      ok = false;
      continue;
    }
    labels[key] = *v;
  }
  if (!ok) return std::nullopt;
  return labels;
}

std::optional<K8sMeta> load_k8s_meta(Source& src, const Map& top, bool namespaced) {
  const Field* md = top.get("metadata");
  const SourcePos md_pos = md ? md->key_pos : top.pos();
  K8sMeta meta;
  if (!md || md->is_null()) {
    src.error(md_pos, "missing-field", "missing required field \"metadata.name\"");
    return std::nullopt;
  }
  std::vector<std::string> known = {"name", "labels", "annotations"};
  if (namespaced) known.push_back("namespace");
  auto m = Map::open(src, md->value, md->value_pos, "metadata (a map with name and namespace)",
                     known, kIgnoredMetadata);
  if (!m) return std::nullopt;
  bool ok = load_name(src, *m, md->key_pos, namespaced, meta);
  if (const Field* nsf = m->get("namespace")) ok = load_namespace_field(src, *nsf, meta) && ok;
  if (const Field* lf = m->get("labels")) {
    auto labels = load_k8s_labels(src, *lf, "invalid-label");
    if (labels) meta.labels = std::move(*labels);
    ok = labels && ok;
  }
  if (const Field* af = m->get("annotations")) ok = load_annotations(src, *af, meta) && ok;
  if (!ok) return std::nullopt;
  return meta;
}

}  // namespace bulkhead::policy
