// Kubernetes-style label selectors: matchLabels, matchExpressions and the string syntax
// "app=web,tier in (a,b),!legacy".
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bulkhead::policy {

using Labels = std::map<std::string, std::string>;

struct Requirement {
  enum class Op { in, not_in, exists, does_not_exist };
  std::string key;
  Op op = Op::in;
  std::vector<std::string> values;  // sorted, unique
  auto operator<=>(const Requirement&) const = default;
};

// An empty selector matches everything (Kubernetes semantics for `podSelector: {}`).
struct LabelSelector {
  std::vector<Requirement>
      requirements;  // sorted by (key, op, values); matchLabels become `in` with one value

  bool matches(const Labels& labels) const;
  bool empty() const { return requirements.empty(); }
  // Canonical text in the string syntax; equal selectors give equal text. "" for empty.
  std::string canonical() const;
  void normalize();
  auto operator<=>(const LabelSelector&) const = default;
};

struct SelectorParseError {
  size_t offset = 0;  // 0-based offset into the text where the problem is
  std::string message;
};

// Parses the string syntax: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`,
// comma-separated. On failure returns nullopt and fills `err`.
std::optional<LabelSelector> parse_selector(std::string_view text, SelectorParseError* err);

// Kubernetes label syntax: a key is [prefix/]name (prefix a DNS subdomain, name 1-63 characters
// of [A-Za-z0-9-_.], alphanumeric at both ends); a value is empty or such a name. On failure
// `why` (if given) says what is wrong.
bool valid_label_key(std::string_view key, std::string* why = nullptr);
bool valid_label_value(std::string_view value, std::string* why = nullptr);

}  // namespace bulkhead::policy
