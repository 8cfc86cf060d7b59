// Scalars as Kubernetes reads them: YAML 1.1 typing (go-yaml v2's resolve rules), then JSON.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>

#include "policy/load/yaml_source.h"

namespace bulkhead::policy::yaml {
namespace {

bool one_of(std::string_view s, std::initializer_list<std::string_view> words) {
  for (auto w : words)
    if (s == w) return true;
  return false;
}

bool digit_in_base(char c, int base) {
  if (base <= 10) return c >= '0' && c < '0' + base;
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// Go's strconv.ParseInt(s, 0, 64) (or ParseUint): an optional sign, then 0x/0o/0b or a leading 0
// (octal) or decimal digits. The value as a double is exact for every port-sized number.
std::optional<double> go_integer(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() > 1 && s[0] == '0') {
    const char p = s[1];
    if (p == 'x' || p == 'X' || p == 'o' || p == 'O' || p == 'b' || p == 'B') {
      base = (p == 'x' || p == 'X') ? 16 : (p == 'o' || p == 'O') ? 8 : 2;
      s.remove_prefix(2);
    } else {
      base = 8;
      s.remove_prefix(1);
    }
  }
  if (s.empty()) return std::nullopt;
  unsigned __int128 v = 0;
  for (char c : s) {
    if (!digit_in_base(c, base)) return std::nullopt;
    v = v * static_cast<unsigned>(base) + static_cast<unsigned>(digit_value(c));
    if (v > UINT64_MAX) return std::nullopt;
  }
  if (negative && v > static_cast<unsigned __int128>(INT64_MAX) + 1) return std::nullopt;
  const double d = static_cast<double>(static_cast<uint64_t>(v));
  return negative ? -d : d;
}

// go-yaml v2's yamlStyleFloat: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool yaml_style_float(std::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    const size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  } else {
    if (!digits()) return false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      digits();
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

K8sScalar number(double v) {
  // Go's JSON encoder writes integral doubles below 1e21 without a fraction or exponent.
  const bool integral = std::isfinite(v) && std::floor(v) == v && std::fabs(v) < 1e21;
  return K8sScalar{K8sScalar::Type::number, v, integral};
}

}  // namespace

K8sScalar k8s_scalar(const YAML::Node& n) {
  using Type = K8sScalar::Type;
  if (!n.IsDefined() || n.IsNull()) return {Type::null};
  if (!n.IsScalar()) return {Type::string};
  const std::string& tag = n.Tag();
  // Quoted and block scalars (yaml-cpp tags them "!") and explicit !!str stay text.
  if (tag == "!" || tag == "tag:yaml.org,2002:str") return {Type::string};
  const std::string& s = n.Scalar();
  if (one_of(s, {"y", "Y", "yes", "Yes", "YES", "true",  "True",  "TRUE",  "on",  "On",  "ON",
                 "n", "N", "no",  "No",  "NO",  "false", "False", "FALSE", "off", "Off", "OFF"})) {
    return {Type::boolean};
  }
  if (one_of(s, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
                 ".nan", ".NaN", ".NAN"})) {
    return {Type::number, NAN, false};
  }
  if (s.empty()) return {Type::string};
  const char first = s[0];
  if (first == '.') {
    if (yaml_style_float(s)) return number(std::strtod(s.c_str(), nullptr));
    return {Type::string};
  }
  if (!(first == '+' || first == '-' || (first >= '0' && first <= '9'))) return {Type::string};
  std::string plain;
  for (char c : s)
    if (c != '_') plain += c;
  if (auto v = go_integer(plain)) return number(*v);
  if (yaml_style_float(plain)) return number(std::strtod(plain.c_str(), nullptr));
  return {Type::string};
}

namespace {

std::string format_number(double v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v < 0 ? "-.inf" : ".inf";
  if (std::floor(v) == v && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<long long>(v));
  }
  std::string s = std::to_string(v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

std::string describe_k8s(const YAML::Node& n) {
  const K8sScalar k = k8s_scalar(n);
  switch (k.type) {
    case K8sScalar::Type::null:
      return "nothing";
    case K8sScalar::Type::boolean:
      return "the boolean " + n.Scalar();
    case K8sScalar::Type::number:
      return "the number " + (k.integral ? format_number(k.number) : n.Scalar());
    case K8sScalar::Type::string:
      break;
  }
  return describe(n);
}

std::string k8s_key(const YAML::Node& key) {
  const K8sScalar k = k8s_scalar(key);
  switch (k.type) {
    case K8sScalar::Type::null:
      return "null";
    case K8sScalar::Type::boolean:
      return one_of(key.Scalar(),
                    {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})
                 ? "true"
                 : "false";
    case K8sScalar::Type::number:
      if (k.integral) return format_number(k.number);
      break;
    case K8sScalar::Type::string:
      break;
  }
  return key.Scalar();
}

std::optional<std::string> k8s_string(Source& src, const YAML::Node& n, const SourcePos& at,
                                      std::string_view expected) {
  const K8sScalar k = k8s_scalar(n);
  if (k.type == K8sScalar::Type::null) return std::string();
  if (k.type == K8sScalar::Type::string && n.IsScalar()) return n.Scalar();
  std::string message = "expected " + std::string(expected) + ", got " + describe_k8s(n);
  if (n.IsScalar()) {
    message += " (Kubernetes reads an unquoted " + n.Scalar() + " as a " +
               (k.type == K8sScalar::Type::boolean ? "boolean" : "number") + "); quote it: \"" +
               n.Scalar() + "\"";
  }
  src.error(at, "wrong-type", std::move(message));
  return std::nullopt;
}

std::optional<std::string> k8s_string(Source& src, const Field& f, std::string_view expected) {
  return k8s_string(src, f.value, f.value_pos, expected);
}

}  // namespace bulkhead::policy::yaml
