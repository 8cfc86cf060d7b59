#include "policy/model/selector.h"

#include <algorithm>

namespace bulkhead::policy {
namespace {

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

// Characters that end a key or value token in the string syntax.
bool is_delim(char c) {
  return is_space(c) || c == ',' || c == '=' || c == '!' || c == '(' || c == ')';
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + v[i];
  return s;
}

class Parser {
 public:
  Parser(std::string_view text, SelectorParseError* err) : t_(text), err_(err) {}

  std::optional<LabelSelector> parse() {
    LabelSelector sel;
    skip_space();
    if (i_ == t_.size()) return sel;
    for (;;) {
      auto req = requirement();
      if (!req) return std::nullopt;
      sel.requirements.push_back(std::move(*req));
      skip_space();
      if (i_ == t_.size()) break;
      if (t_[i_] != ',') return fail(i_, "expected ',' or the end of the selector");
      ++i_;
      skip_space();
      if (i_ == t_.size()) return fail(i_, "expected a label key after ','");
    }
    sel.normalize();
    return sel;
  }

 private:
  std::nullopt_t fail(size_t at, std::string msg) {
    if (err_) *err_ = SelectorParseError{at, std::move(msg)};
    return std::nullopt;
  }

  void skip_space() {
    while (i_ < t_.size() && is_space(t_[i_])) ++i_;
  }

  std::string_view token() {
    size_t start = i_;
    while (i_ < t_.size() && !is_delim(t_[i_])) ++i_;
    return t_.substr(start, i_ - start);
  }

  bool starts_with(std::string_view s) const { return t_.substr(i_).starts_with(s); }

  std::optional<std::string> key() {
    size_t at = i_;
    auto k = token();
    if (k.empty()) return fail(at, "expected a label key");
    std::string why;
    if (!valid_label_key(k, &why))
      return fail(at, "invalid label key \"" + std::string(k) + "\": " + why);
    return std::string(k);
  }

  std::optional<std::string> value() {
    size_t at = i_;
    auto v = token();
    std::string why;
    if (!valid_label_value(v, &why)) {
      return fail(at, "invalid label value \"" + std::string(v) + "\": " + why);
    }
    return std::string(v);
  }

  std::optional<Requirement> requirement() {
    Requirement r;
    if (t_[i_] == '!') {
      ++i_;
      skip_space();
      auto k = key();
      if (!k) return std::nullopt;
      r.key = *k;
      r.op = Requirement::Op::does_not_exist;
      return r;
    }
    auto k = key();
    if (!k) return std::nullopt;
    r.key = *k;
    skip_space();
    if (i_ == t_.size() || t_[i_] == ',') {
      r.op = Requirement::Op::exists;
      return r;
    }
    if (starts_with("!=") || starts_with("==") || starts_with("=")) {
      r.op = t_[i_] == '!' ? Requirement::Op::not_in : Requirement::Op::in;
      i_ += starts_with("=") && !starts_with("==") ? 1 : 2;
      skip_space();
      auto v = value();
      if (!v) return std::nullopt;
      r.values.push_back(*v);
      return r;
    }
    size_t op_at = i_;
    auto op = token();
    if (op == "in" || op == "notin") {
      r.op = op == "in" ? Requirement::Op::in : Requirement::Op::not_in;
      skip_space();
      if (i_ == t_.size() || t_[i_] != '(')
        return fail(i_, "expected '(' after '" + std::string(op) + "'");
      ++i_;
      for (;;) {
        skip_space();
        auto v = value();
        if (!v) return std::nullopt;
        r.values.push_back(*v);
        skip_space();
        if (i_ < t_.size() && t_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < t_.size() && t_[i_] == ')') {
          ++i_;
          break;
        }
        return fail(i_, "expected ',' or ')' in the value list");
      }
      if (r.values.size() == 1 && r.values[0].empty()) {
        return fail(op_at, "'" + std::string(op) + "' needs at least one value");
      }
      return r;
    }
    return fail(op_at, "expected an operator (=, ==, !=, in, notin), ',' or the end after key \"" +
                           r.key + "\"");
  }

  std::string_view t_;
  SelectorParseError* err_;
  size_t i_ = 0;
};

// A Kubernetes "name" part: 1-63 characters, alphanumeric at both ends, [-_.] inside.
bool valid_name_part(std::string_view s, std::string* why) {
  if (s.empty()) {
    *why = "name part must not be empty";
    return false;
  }
  if (s.size() > 63) {
    *why = "name part must be at most 63 characters";
    return false;
  }
  if (!is_alnum(s.front()) || !is_alnum(s.back())) {
    *why = "must start and end with a letter or digit";
    return false;
  }
  for (char c : s) {
    if (!is_alnum(c) && c != '-' && c != '_' && c != '.') {
      *why = std::string("character '") + c + "' is not allowed (letters, digits, '-', '_', '.')";
      return false;
    }
  }
  return true;
}

bool valid_dns_subdomain(std::string_view s, std::string* why) {
  if (s.empty() || s.size() > 253) {
    *why = "prefix must be 1-253 characters";
    return false;
  }
  size_t start = 0;
  for (;;) {
    size_t dot = s.find('.', start);
    auto label = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    bool ok = !label.empty() && label.size() <= 63 && label.front() != '-' && label.back() != '-';
    for (char c : label) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
    if (!ok) {
      *why = "prefix must be a lower-case DNS subdomain";
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

}  // namespace

bool valid_label_key(std::string_view key, std::string* why) {
  std::string ignored;
  if (!why) why = &ignored;
  auto slash = key.find('/');
  if (slash == std::string_view::npos) return valid_name_part(key, why);
  return valid_dns_subdomain(key.substr(0, slash), why) &&
         valid_name_part(key.substr(slash + 1), why);
}

bool valid_label_value(std::string_view value, std::string* why) {
  std::string ignored;
  if (!why) why = &ignored;
  if (value.empty()) return true;
  return valid_name_part(value, why);
}

bool LabelSelector::matches(const Labels& labels) const {
  for (const auto& r : requirements) {
    auto it = labels.find(r.key);
    const bool has = it != labels.end();
    const bool in_values = has && std::binary_search(r.values.begin(), r.values.end(), it->second);
    switch (r.op) {
      case Requirement::Op::in:
        if (!in_values) return false;
        break;
      case Requirement::Op::not_in:  // Kubernetes: an absent key satisfies notin
        if (in_values) return false;
        break;
      case Requirement::Op::exists:
        if (!has) return false;
        break;
      case Requirement::Op::does_not_exist:
        if (has) return false;
        break;
    }
  }
  return true;
}

void LabelSelector::normalize() {
  for (auto& r : requirements) {
    std::sort(r.values.begin(), r.values.end());
    r.values.erase(std::unique(r.values.begin(), r.values.end()), r.values.end());
    if (r.op == Requirement::Op::exists || r.op == Requirement::Op::does_not_exist)
      r.values.clear();
  }
  std::sort(requirements.begin(), requirements.end());
  requirements.erase(std::unique(requirements.begin(), requirements.end()), requirements.end());
}

std::string LabelSelector::canonical() const {
  std::string out;
  for (const auto& r : requirements) {
    if (!out.empty()) out += ",";
    switch (r.op) {
      case Requirement::Op::in:
        out += r.values.size() == 1 ? r.key + "=" + r.values[0]
                                    : r.key + " in (" + join(r.values) + ")";
        break;
      case Requirement::Op::not_in:
        out += r.values.size() == 1 ? r.key + "!=" + r.values[0]
                                    : r.key + " notin (" + join(r.values) + ")";
        break;
      case Requirement::Op::exists:
        out += r.key;
        break;
      case Requirement::Op::does_not_exist:
        out += "!" + r.key;
        break;
    }
  }
  return out;
}

std::optional<LabelSelector> parse_selector(std::string_view text, SelectorParseError* err) {
  return Parser(text, err).parse();
}

}  // namespace bulkhead::policy
