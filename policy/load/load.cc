// Entry points of policy loading: paths, files, documents and their dispatch by kind.
#include "policy/load/load.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include "policy/load/file.h"
#include "policy/load/kinds.h"
#include "policy/load/state.h"
#include "policy/model/limits.h"
#include "policy/model/rules.h"

namespace bulkhead::policy {

using yaml::Source;

bool register_policy(Source& src, LoadState& st, const std::string& name, const SourcePos& at,
                     const std::string& kind) {
  if (st.policy_names.size() >= limits::kMaxPolicies) {
    if (!std::exchange(st.too_many_reported, true)) {
      src.error(at, "too-large",
                "more than " + std::to_string(limits::kMaxPolicies) +
                    " policies in the loaded files (the limit)");
    }
    return false;
  }
  auto [it, fresh] = st.policy_names.emplace(kind + "\n" + name, at);
  if (!fresh) {
    src.error(at, "duplicate-policy",
              "duplicate " + kind + " \"" + name + "\" (first defined at " +
                  it->second.to_string() + ")");
  }
  return fresh;
}

bool count_rules(Source& src, LoadState& st, size_t n, const SourcePos& at) {
  st.written_rules += n;
  if (st.written_rules <= limits::kMaxRules) return true;
  if (!std::exchange(st.too_many_reported, true)) {
    src.error(at, "too-large",
              "more than " + std::to_string(limits::kMaxRules) +
                  " allow rules in the loaded policies (the limit; this list brings the total to " +
                  std::to_string(st.written_rules) + ")");
  }
  return false;
}

std::vector<std::string> check_ignored_rules(Source& src, const std::vector<std::string>& ids,
                                             const std::vector<SourcePos>& at) {
  std::vector<std::string> out;
  for (size_t i = 0; i < ids.size(); ++i) {
    const RuleInfo* rule = find_rule(ids[i]);
    if (rule && silenceable(*rule)) {
      out.push_back(ids[i]);
      continue;
    }
    if (rule) {
      src.warning(at[i], "unknown-rule",
                  "rule \"" + ids[i] + "\" reports errors, which cannot be silenced");
      continue;
    }
    auto hint = closest_silenceable_rule(ids[i]);
    src.warning(at[i], "unknown-rule",
                "unknown rule \"" + ids[i] + "\"" +
                    (hint ? "; did you mean \"" + *hint + "\"?" : "; see docs/lint.md"));
  }
  return out;
}

namespace {

// The scalar value of a top-level key, without the checks (the kind's loader does those).
std::optional<YAML::Node> find_key(const YAML::Node& doc, std::string_view key) {
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
  }
  return std::nullopt;
}

// "namespace/name" or "name" of an object, for the note that says it was skipped.
std::string object_name(const YAML::Node& doc) {
  const auto md = find_key(doc, "metadata");
  if (!md || !md->IsMap()) return "";
  const auto name = find_key(*md, "name");
  const auto ns = find_key(*md, "namespace");
  if (!name || !name->IsScalar()) return "";
  return (ns && ns->IsScalar() && !ns->Scalar().empty() ? ns->Scalar() + "/" : "") + name->Scalar();
}

// The start of each non-empty node; a node's text reaches to the next one's start.
std::vector<SourcePos> extents(Source& src, const std::vector<YAML::Node>& nodes,
                               const SourcePos& end) {
  std::vector<SourcePos> ends(nodes.size(), end);
  SourcePos next = end;
  for (size_t i = nodes.size(); i-- > 0;) {
    ends[i] = next;
    if (nodes[i].IsDefined() && !nodes[i].IsNull()) next = src.pos(nodes[i]);
  }
  return ends;
}

// A typed list (NetworkPolicyList): its items may leave out apiVersion and kind, as the API
// server prints them.
struct ListType {
  std::string api;
  std::string item_kind;
};

class Loader {
 public:
  void add_path(const std::string& path) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (!ec && std::filesystem::is_directory(status)) {
      add_directory(path);
      return;
    }
    add_file(path);
  }

  void add_file(const std::string& path) {
    st_.files.push_back(path);
    auto text = read_file(path, st_.diagnostics);
    if (text) add_text(*text, path);
    texts_.push_back(text ? std::move(*text) : std::string());
  }

  std::vector<std::string> take_texts() { return std::move(texts_); }

  void add_text(std::string_view text, const std::string& file) {
    Source src(file, text, &st_.diagnostics);
    auto docs = parse_documents(src, text);
    if (!docs) return;
    try {
      const auto ends = extents(src, *docs, SourcePos{file, 0, 0});
      for (size_t i = 0; i < docs->size(); ++i) document(src, (*docs)[i], nullptr, ends[i]);
    } catch (const std::exception& e) {
      // yaml-cpp accessors throw on malformed trees; nothing may escape the library.
      src.error(SourcePos{file, 1, 1}, "yaml-syntax", std::string("YAML error: ") + e.what());
    }
  }

  PolicyLoad finish() {
    resolve_native(st_);
    return PolicyLoad{std::move(st_.set), std::move(st_.diagnostics), std::move(st_.files),
                      std::move(st_.skipped)};
  }

 private:
  void add_directory(const std::string& dir) {
    std::vector<std::string> files;
    std::error_code ec;
    std::filesystem::directory_iterator it(dir, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      const auto& p = it->path();
      const auto ext = p.extension().string();
      std::error_code fec;
      if ((ext == ".yaml" || ext == ".yml") && !it->is_directory(fec)) files.push_back(p.string());
    }
    if (ec) {
      st_.diagnostics.push_back(Diagnostic{SourcePos{dir, 1, 1}, Severity::error,
                                           "cannot read directory: " + ec.message(),
                                           "unreadable-file"});
      return;
    }
    if (files.empty()) {
      st_.diagnostics.push_back(Diagnostic{SourcePos{dir, 1, 1}, Severity::warning,
                                           "no *.yaml or *.yml files in this directory",
                                           "empty-directory"});
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) add_file(f);
  }

  // `list`: the list this document is an item of; `end`: where its text ends.
  void document(Source& src, const YAML::Node& doc, const ListType* list, const SourcePos& end) {
    if (!doc.IsDefined() || doc.IsNull()) return;
    const SourcePos at = src.pos(doc);
    if (!doc.IsMap()) {
      src.error(at, "wrong-type",
                "expected a document (a map with apiVersion and kind), got " + yaml::describe(doc));
      return;
    }
    const auto api = find_key(doc, "apiVersion");
    const auto kind = find_key(doc, "kind");
    // Inventories may sit next to policies (docs/policy.md): recognised and left to --inventory.
    if (!kind && !api && find_key(doc, "endpoints")) return;
    std::optional<std::string> a, k;
    SourcePos api_pos = at, kind_pos = at;
    if (!kind && !api && list && !list->item_kind.empty()) {
      a = list->api;
      k = list->item_kind;
    } else if (!api || !kind) {
      src.error(at, "missing-field",
                std::string("missing required field \"") + (api ? "kind" : "apiVersion") + "\"");
      return;
    } else {
      api_pos = src.pos(*api);
      kind_pos = src.pos(*kind);
      a = yaml::scalar(src, *api, api_pos, "an apiVersion");
      k = yaml::scalar(src, *kind, kind_pos, "a kind");
    }
    if (!a || !k) return;
    const Classified c = classify_document(*a, *k, list != nullptr);
    st_.doc_end = end;
    switch (c.what) {
      case DocClass::native_policy:
        return load_native_policy(src, doc, st_);
      case DocClass::network_policy:
        return load_network_policy(src, doc, st_);
      case DocClass::namespace_doc:
        return load_namespace(src, doc, st_);
      case DocClass::list:
        return this->list(src, doc, ListType{*a, list_item_kind(*k)}, end);
      case DocClass::skipped:
        st_.skipped.push_back(SkippedDocument{kind_pos, *a, *k, object_name(doc)});
        return;
      case DocClass::inventory:
        return;
      case DocClass::error:
        src.error(c.at_api ? api_pos : kind_pos, c.rule, c.message);
        return;
    }
  }

  void list(Source& src, const YAML::Node& doc, const ListType& type, const SourcePos& end) {
    auto m = yaml::Map::open(src, doc, src.pos(doc), "a list (a map with apiVersion, kind, items)",
                             {"apiVersion", "kind", "items"}, {"metadata"});
    if (!m) return;
    const yaml::Field* items = m->get("items");
    if (!items) return;  // an empty List prints without items
    auto list = yaml::items(src, *items, "a list of documents");
    if (!list) return;
    const auto ends = extents(src, *list, end);
    for (size_t i = 0; i < list->size(); ++i) document(src, (*list)[i], &type, ends[i]);
  }

  LoadState st_;
  std::vector<std::string> texts_;
};

}  // namespace

PolicyLoad load_policies(const std::vector<std::string>& paths) {
  Loader l;
  for (const auto& p : paths) l.add_path(p);
  PolicyLoad out = l.finish();
  out.texts = l.take_texts();
  return out;
}

PolicyLoad load_policy_text(std::string_view text, const std::string& file) {
  Loader l;
  l.add_text(text, file);
  return l.finish();
}

}  // namespace bulkhead::policy
