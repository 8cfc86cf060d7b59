// Selector and CIDR fields, shared by the native and the Kubernetes loaders.
#include <algorithm>

#include "policy/load_state.h"

namespace bulkhead::policy {

using yaml::Field;
using yaml::Map;
using yaml::Source;

namespace {

const std::vector<std::string> kOperators = {"In", "NotIn", "Exists", "DoesNotExist"};

std::optional<Requirement> load_expression(Source& src, const YAML::Node& n, const SourcePos& at) {
  auto m = Map::open(src, n, at, "a match expression (a map with key, operator and values)",
                     {"key", "operator", "values"});
  if (!m) return std::nullopt;
  const Field* key = m->require(src, "key");
  const Field* op = m->require(src, "operator");
  if (!key || !op) return std::nullopt;
  auto k = yaml::scalar(src, *key, "a label key");
  auto o = yaml::scalar(src, *op, "an operator (In, NotIn, Exists or DoesNotExist)");
  if (!k || !o) return std::nullopt;
  std::string why;
  if (!valid_label_key(*k, &why)) {
    src.error(key->value_pos, "invalid-selector", "invalid label key \"" + *k + "\": " + why);
    return std::nullopt;
  }
  Requirement r;
  r.key = *k;
  if (*o == "In") {
    r.op = Requirement::Op::in;
  } else if (*o == "NotIn") {
    r.op = Requirement::Op::not_in;
  } else if (*o == "Exists") {
    r.op = Requirement::Op::exists;
  } else if (*o == "DoesNotExist") {
    r.op = Requirement::Op::does_not_exist;
  } else {
    auto hint = yaml::did_you_mean(*o, kOperators);
    src.error(op->value_pos, "invalid-selector",
              "unknown operator \"" + *o + "\"" +
                  (hint ? "; did you mean \"" + *hint + "\"?"
                        : "; expected In, NotIn, Exists or DoesNotExist"));
    return std::nullopt;
  }
  const Field* values = m->get("values");
  std::vector<YAML::Node> vs;
  if (values) {
    auto list = yaml::items(src, *values, "a list of label values");
    if (!list) return std::nullopt;
    vs = std::move(*list);
  }
  const bool needs_values = r.op == Requirement::Op::in || r.op == Requirement::Op::not_in;
  if (needs_values && vs.empty()) {
    src.error(values ? values->value_pos : op->value_pos, "invalid-selector",
              "operator " + *o + " needs at least one value");
    return std::nullopt;
  }
  if (!needs_values && !vs.empty()) {
    src.error(values->value_pos, "invalid-selector", "operator " + *o + " takes no values");
    return std::nullopt;
  }
  for (const auto& v : vs) {
    const SourcePos vp = yaml::item_pos(src, v, values->value_pos);
    auto s = yaml::scalar(src, v, vp, "a label value");
    if (!s) return std::nullopt;
    if (!valid_label_value(*s, &why)) {
      src.error(vp, "invalid-selector", "invalid label value \"" + *s + "\": " + why);
      return std::nullopt;
    }
    r.values.push_back(*s);
  }
  return r;
}

}  // namespace

std::optional<LabelSelector> load_selector(Source& src, const Field& f, bool kubernetes) {
  const char* expected =
      kubernetes ? "a label selector (a map with matchLabels and matchExpressions)"
                 : "a selector (a string like \"app=web\" or a map with matchLabels and "
                   "matchExpressions)";
  if (f.is_null() && kubernetes) return LabelSelector{};
  if (f.value.IsScalar() && !kubernetes) {
    SelectorParseError err;
    auto sel = parse_selector(f.value.Scalar(), &err);
    if (!sel) {
      src.error(src.pos_in_scalar(f.value, err.offset), "invalid-selector",
                "invalid selector: " + err.message);
    }
    return sel;
  }
  auto m = Map::open(src, f.value, f.value_pos, expected, {"matchLabels", "matchExpressions"});
  if (!m) return std::nullopt;
  LabelSelector sel;
  bool ok = true;
  if (const Field* labels = m->get("matchLabels")) {
    auto lm = Map::open_any(src, labels->value, labels->value_pos, "a map of label keys to values");
    if (!lm) return std::nullopt;
    for (const auto& l : lm->fields()) {
      std::string why;
      if (!valid_label_key(l.name, &why)) {
        src.error(l.key_pos, "invalid-selector", "invalid label key \"" + l.name + "\": " + why);
        ok = false;
        continue;
      }
      auto v = l.is_null() ? std::optional<std::string>("") : yaml::scalar(src, l, "a label value");
      if (!v) {
        ok = false;
        continue;
      }
      // Container engines allow any label value; Kubernetes validates them.
      if (kubernetes && !valid_label_value(*v, &why)) {
        src.error(l.value_pos, "invalid-selector", "invalid label value \"" + *v + "\": " + why);
        ok = false;
        continue;
      }
      sel.requirements.push_back(Requirement{l.name, Requirement::Op::in, {*v}});
    }
  }
  if (const Field* exprs = m->get("matchExpressions")) {
    auto list = yaml::items(src, *exprs, "a list of match expressions");
    if (!list) return std::nullopt;
    for (const auto& e : *list) {
      auto r = load_expression(src, e, yaml::item_pos(src, e, exprs->value_pos));
      if (r) {
        sel.requirements.push_back(std::move(*r));
      } else {
        ok = false;
      }
    }
  }
  if (!ok) return std::nullopt;
  sel.normalize();
  return sel;
}

std::optional<Cidr> load_cidr(Source& src, const YAML::Node& n, const SourcePos& at) {
  auto text = yaml::scalar(src, n, at, "a CIDR (e.g. 198.18.0.0/16)");
  if (!text) return std::nullopt;
  auto c = Cidr::parse(*text);
  if (!c) {
    src.error(at, "invalid-cidr",
              "invalid CIDR \"" + *text +
                  "\": expected an address and a prefix length, e.g. "
                  "198.18.0.0/16 or fd00::/64");
    return std::nullopt;
  }
  // The model keeps only the normalized block; this is the last place that sees what was written.
  const auto written = IpAddr::parse(std::string_view(*text).substr(0, text->find('/')));
  if (written && *written != c->addr) {
    src.warning(at, "cidr-host-bits",
                "CIDR \"" + *text + "\" has host bits set; it means " + c->to_string());
  }
  return c;
}

std::optional<CidrPeer> load_cidr_peer(Source& src, const Map& m) {
  const Field* cf = m.require(src, "cidr");
  if (!cf) return std::nullopt;
  auto cidr = load_cidr(src, cf->value, cf->value_pos);
  if (!cidr) return std::nullopt;
  CidrPeer peer{*cidr, {}};
  if (const Field* ex = m.get("except")) {
    auto list = yaml::items(src, *ex, "a list of CIDRs");
    if (!list) return std::nullopt;
    bool ok = true;
    for (const auto& e : *list) {
      const SourcePos at = yaml::item_pos(src, e, ex->value_pos);
      auto c = load_cidr(src, e, at);
      if (!c) {
        ok = false;
        continue;
      }
      if (!cidr->contains(*c) || c->prefix == cidr->prefix) {
        src.error(at, "invalid-cidr",
                  "except \"" + c->to_string() + "\" is not strictly inside cidr \"" +
                      cidr->to_string() + "\"");
        ok = false;
        continue;
      }
      peer.except.push_back(*c);
    }
    if (!ok) return std::nullopt;
    std::sort(peer.except.begin(), peer.except.end());
  }
  return peer;
}

}  // namespace bulkhead::policy
