// Private to the loaders: one YAML file being read, with positions for every node and the
// checks every document kind shares (field names, value types, did-you-mean).
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/model/diagnostic.h"
#include "policy/model/spelling.h"

namespace bulkhead::policy::yaml {

// "a map", "a list", "a string", "a number", "a boolean" or "nothing": for "expected X, got Y".
std::string describe(const YAML::Node& n);

class Source {
 public:
  Source(std::string file, std::string_view text, Diagnostics* out);

  const std::string& file() const { return file_; }
  SourcePos pos(const YAML::Node& n) const;
  SourcePos pos(const YAML::Mark& m) const;
  // The position of byte `offset` of scalar `n`'s value, when the value is written on one line
  // without escapes (so source columns and value offsets agree); else the scalar's start.
  SourcePos pos_in_scalar(const YAML::Node& n, size_t offset) const;

  void error(const SourcePos& at, std::string rule, std::string message);
  void warning(const SourcePos& at, std::string rule, std::string message);

  // Aliases let a small file describe an exponentially large tree: every map entry and list item
  // visited spends one unit (limits::kMaxVisits per file), and an exhausted budget is reported
  // once and stops the walk.
  bool spend(size_t units = 1);

 private:
  std::string file_;
  std::string_view text_;
  Diagnostics* out_;
  size_t budget_;
  bool exhausted_reported_ = false;
};

struct Field {
  std::string name;
  YAML::Node key;
  YAML::Node value;
  SourcePos key_pos;
  SourcePos value_pos;  // the key's position when the value is null (yaml-cpp marks the next token)
  bool is_null() const { return !value.IsDefined() || value.IsNull(); }
};

class Map {
 public:
  // A map with a fixed set of field names: others are reported as unknown-field (with a
  // suggestion), except `ignored` ones, which are dropped silently. Repeated keys are errors.
  // Returns nullopt (after reporting wrong-type at `at`) when `n` is not a map.
  static std::optional<Map> open(Source& src, const YAML::Node& n, const SourcePos& at,
                                 std::string_view expected, std::vector<std::string> known,
                                 std::vector<std::string> ignored = {});
  // A map with arbitrary keys (group names, labels, named ports).
  static std::optional<Map> open_any(Source& src, const YAML::Node& n, const SourcePos& at,
                                     std::string_view expected);

  const Field* get(std::string_view name) const;
  const std::vector<Field>& fields() const { return fields_; }
  const SourcePos& pos() const { return pos_; }

  // Reports missing-field at the map's position and returns nullptr when the field is absent.
  const Field* require(Source& src, std::string_view name) const;

 private:
  SourcePos pos_;
  std::vector<Field> fields_;
};

// A scalar's text, or nullopt after reporting wrong-type ("expected <expected>, got a map").
std::optional<std::string> scalar(Source& src, const Field& f, std::string_view expected);
std::optional<std::string> scalar(Source& src, const YAML::Node& n, const SourcePos& at,
                                  std::string_view expected);
// Strictly `true` or `false`.
std::optional<bool> boolean(Source& src, const Field& f);
// The items of a list (null counts as empty), or nullopt after reporting wrong-type.
std::optional<std::vector<YAML::Node>> items(Source& src, const Field& f,
                                             std::string_view expected);
// The position of a list item.
SourcePos item_pos(Source& src, const YAML::Node& item, const SourcePos& list_pos);

// What Kubernetes makes of a scalar. kubectl turns YAML into JSON with YAML 1.1's rules
// (sigs.k8s.io/yaml over go-yaml v2) before the API server decodes it into its Go types, so an
// unquoted `yes` is a boolean, `0x50` and `0120` are the number 80, and `1_000` is 1000.
struct K8sScalar {
  enum class Type { null, boolean, number, string };
  Type type = Type::string;
  double number = 0;      // Type::number
  bool integral = false;  // a number that JSON carries as an integer (80, 80.0, 8e1)
};
K8sScalar k8s_scalar(const YAML::Node& n);
// "the number 80", "the boolean true", "nothing": for "expected a string, got the number 80".
std::string describe_k8s(const YAML::Node& n);
// The text a map key becomes in Kubernetes' JSON (`on:` is the key "true", `0x10:` is "16").
std::string k8s_key(const YAML::Node& key);
// A Kubernetes string field: null is "" (Go leaves a string unset), any other non-string is a
// wrong-type error that suggests quoting.
std::optional<std::string> k8s_string(Source& src, const YAML::Node& n, const SourcePos& at,
                                      std::string_view expected);
std::optional<std::string> k8s_string(Source& src, const Field& f, std::string_view expected);

}  // namespace bulkhead::policy::yaml
