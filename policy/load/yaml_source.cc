#include "policy/load/yaml_source.h"

#include <algorithm>
#include <set>

#include "policy/model/limits.h"

namespace bulkhead::policy::yaml {

std::string describe(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing";
  if (n.IsMap()) return "a map";
  if (n.IsSequence()) return "a list";
  if (n.Tag() == "!") return "a string";  // quoted
  const std::string& s = n.Scalar();
  if (s == "true" || s == "false" || s == "True" || s == "False") return "a boolean";
  if (!s.empty() && s.find_first_not_of("0123456789.+-") == std::string::npos &&
      s.find_first_of("0123456789") != std::string::npos) {
    return "a number";
  }
  return "a string";
}

SourcePos Source::pos(const YAML::Mark& m) const {
  if (m.is_null()) return SourcePos{file_, 1, 1};
  return SourcePos{file_, m.line + 1, m.column + 1};
}

SourcePos Source::pos(const YAML::Node& n) const { return pos(n.Mark()); }

SourcePos Source::pos_in_scalar(const YAML::Node& n, size_t offset) const {
  SourcePos at = pos(n);
  const YAML::Mark m = n.Mark();
  if (!n.IsScalar() || m.is_null() || m.pos < 0) return at;
  const std::string& value = n.Scalar();
  const size_t start = static_cast<size_t>(m.pos);
  if (start >= text_.size() || value.find('\n') != std::string::npos) return at;
  const char first = text_[start];
  const size_t skip = (first == '"' || first == '\'') ? 1 : 0;
  if (text_.substr(start + skip, value.size()) != value) return at;
  if (skip && (start + skip + value.size() >= text_.size() ||
               text_[start + skip + value.size()] != first)) {
    return at;
  }
  at.col += static_cast<int>(skip + std::min(offset, value.size()));
  return at;
}

void Source::error(const SourcePos& at, std::string rule, std::string message) {
  out_->push_back(Diagnostic{at, Severity::error, std::move(message), std::move(rule)});
}

void Source::warning(const SourcePos& at, std::string rule, std::string message) {
  out_->push_back(Diagnostic{at, Severity::warning, std::move(message), std::move(rule)});
}

Source::Source(std::string file, std::string_view text, Diagnostics* out)
    : file_(std::move(file)), text_(text), out_(out), budget_(limits::kMaxVisits) {}

bool Source::spend(size_t units) {
  if (units <= budget_) {
    budget_ -= units;
    return true;
  }
  budget_ = 0;
  if (!exhausted_reported_) {
    exhausted_reported_ = true;
    error(SourcePos{file_, 1, 1}, "too-complex",
          "document is too large to check (more than " + std::to_string(limits::kMaxVisits) +
              " map entries and list items, aliases expanded)");
  }
  return false;
}

namespace {

// Lists and maps longer than limits::kMaxItems are refused at their position.
bool within_item_limit(Source& src, const YAML::Node& n, const SourcePos& at) {
  if (n.size() <= limits::kMaxItems) return true;
  src.error(at, "too-large",
            std::string(n.IsMap() ? "a map of " : "a list of ") + std::to_string(n.size()) +
                " entries exceeds the limit of " + std::to_string(limits::kMaxItems));
  return false;
}

}  // namespace

namespace {

std::string join_names(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + names[i];
  return s;
}

std::optional<Map> open_impl(Source& src, const YAML::Node& n, const SourcePos& at,
                             std::string_view expected, const std::vector<std::string>* known,
                             const std::vector<std::string>& ignored, Map& m,
                             std::vector<Field>& fields) {
  if (!n.IsMap()) {
    src.error(at, "wrong-type", "expected " + std::string(expected) + ", got " + describe(n));
    return std::nullopt;
  }
  if (!within_item_limit(src, n, at) || !src.spend(1 + n.size())) return std::nullopt;
  std::set<std::string> seen;
  for (auto it = n.begin(); it != n.end(); ++it) {
    Field f;
    f.key = it->first;
    f.value = it->second;
    f.key_pos = src.pos(f.key);
    f.value_pos = f.is_null() ? f.key_pos : src.pos(f.value);
    if (!f.key.IsScalar()) {
      src.error(f.key_pos, "wrong-type", "expected a field name, got " + describe(f.key));
      continue;
    }
    f.name = f.key.Scalar();
    if (!seen.insert(f.name).second) {
      src.error(f.key_pos, "duplicate-key", "field \"" + f.name + "\" is given twice");
      continue;
    }
    if (std::find(ignored.begin(), ignored.end(), f.name) != ignored.end()) continue;
    if (known && std::find(known->begin(), known->end(), f.name) == known->end()) {
      auto hint = did_you_mean(f.name, *known);
      src.error(f.key_pos, "unknown-field",
                "unknown field \"" + f.name + "\"" +
                    (hint ? "; did you mean \"" + *hint + "\"?"
                          : "; expected one of: " + join_names(*known)));
      continue;
    }
    fields.push_back(std::move(f));
  }
  return std::move(m);
}

}  // namespace

std::optional<Map> Map::open(Source& src, const YAML::Node& n, const SourcePos& at,
                             std::string_view expected, std::vector<std::string> known,
                             std::vector<std::string> ignored) {
  Map m;
  m.pos_ = at;
  return open_impl(src, n, at, expected, &known, ignored, m, m.fields_);
}

std::optional<Map> Map::open_any(Source& src, const YAML::Node& n, const SourcePos& at,
                                 std::string_view expected) {
  Map m;
  m.pos_ = at;
  return open_impl(src, n, at, expected, nullptr, {}, m, m.fields_);
}

const Field* Map::get(std::string_view name) const {
  for (const auto& f : fields_)
    if (f.name == name) return &f;
  return nullptr;
}

const Field* Map::require(Source& src, std::string_view name) const {
  const Field* f = get(name);
  if (!f) src.error(pos_, "missing-field", "missing required field \"" + std::string(name) + "\"");
  return f;
}

std::optional<std::string> scalar(Source& src, const YAML::Node& n, const SourcePos& at,
                                  std::string_view expected) {
  if (!n.IsScalar()) {
    src.error(at, "wrong-type", "expected " + std::string(expected) + ", got " + describe(n));
    return std::nullopt;
  }
  return n.Scalar();
}

std::optional<std::string> scalar(Source& src, const Field& f, std::string_view expected) {
  return scalar(src, f.value, f.value_pos, expected);
}

std::optional<bool> boolean(Source& src, const Field& f) {
  if (f.value.IsScalar() && f.value.Tag() != "!") {
    if (f.value.Scalar() == "true") return true;
    if (f.value.Scalar() == "false") return false;
  }
  src.error(f.value_pos, "wrong-type", "expected true or false, got " + describe(f.value));
  return std::nullopt;
}

std::optional<std::vector<YAML::Node>> items(Source& src, const Field& f,
                                             std::string_view expected) {
  if (f.is_null()) return std::vector<YAML::Node>{};
  if (!f.value.IsSequence()) {
    src.error(f.value_pos, "wrong-type",
              "expected " + std::string(expected) + ", got " + describe(f.value));
    return std::nullopt;
  }
  if (!within_item_limit(src, f.value, f.value_pos) || !src.spend(1 + f.value.size())) {
    return std::nullopt;
  }
  std::vector<YAML::Node> out;
  for (const auto& x : f.value) out.push_back(x);
  return out;
}

SourcePos item_pos(Source& src, const YAML::Node& item, const SourcePos& list_pos) {
  if (!item.IsDefined() || item.IsNull()) return list_pos;
  return src.pos(item);
}

}  // namespace bulkhead::policy::yaml
