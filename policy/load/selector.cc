// Selector and CIDR fields, shared by the native and the Kubernetes loaders.
#include <algorithm>

#include "policy/load/state.h"

namespace bulkhead::policy {

using yaml::Field;
using yaml::Map;
using yaml::Source;

namespace {

const std::vector<std::string> kOperators = {"In", "NotIn", "Exists", "DoesNotExist"};

// A string field of a selector: Kubernetes types it (an unquoted 1 is a number, null is "");
// the native format takes any scalar as text.
std::optional<std::string> text(Source& src, const YAML::Node& n, const SourcePos& at,
                                std::string_view expected, bool kubernetes) {
  if (kubernetes) return yaml::k8s_string(src, n, at, expected);
  if (!n.IsDefined() || n.IsNull()) return std::string();
  return yaml::scalar(src, n, at, expected);
}

std::optional<Requirement> load_expression(Source& src, const YAML::Node& n, const SourcePos& at,
                                           bool kubernetes) {
  // A null item is the zero requirement, which has neither key nor operator.
  if (!n.IsDefined() || n.IsNull()) {
    src.error(at, "invalid-selector", "a match expression needs key and operator");
    return std::nullopt;
  }
  auto m = Map::open(src, n, at, "a match expression (a map with key, operator and values)",
                     {"key", "operator", "values"});
  if (!m) return std::nullopt;
  const Field* key = m->get("key");
  const Field* op = m->get("operator");
  auto k = key ? text(src, key->value, key->value_pos, "a label key", kubernetes)
               : std::optional<std::string>("");
  auto o = op ? text(src, op->value, op->value_pos,
                     "an operator (In, NotIn, Exists or DoesNotExist)", kubernetes)
              : std::optional<std::string>("");
  if (!k || !o) return std::nullopt;
  if (k->empty() || o->empty()) {
    src.error(k->empty() && key  ? key->key_pos
              : o->empty() && op ? op->key_pos
                                 : m->pos(),
              "missing-field",
              std::string("missing required field \"") + (k->empty() ? "key" : "operator") + "\"");
    return std::nullopt;
  }
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
    auto hint = did_you_mean(*o, kOperators);
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
    auto s = text(src, v, vp, "a label value", kubernetes);
    if (!s) return std::nullopt;
    if (!valid_label_value(*s, &why)) {
      src.error(vp, "invalid-selector", "invalid label value \"" + *s + "\": " + why);
      return std::nullopt;
    }
    r.values.push_back(*s);
  }
  return r;
}

// Go's ParseCIDRSloppy, which the API server uses: IPv4 octets and the prefix length may carry
// leading zeros (decimal, not octal). Returns the text in standard form; `sloppy` says whether
// it differed.
std::optional<std::string> standard_cidr_text(std::string_view text, bool* sloppy) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view addr = text.substr(0, slash), prefix = text.substr(slash + 1);
  auto strip = [&](std::string_view digits) {
    while (digits.size() > 1 && digits.front() == '0') {
      digits.remove_prefix(1);
      *sloppy = true;
    }
    return std::string(digits);
  };
  if (prefix.empty() ||
      !std::all_of(prefix.begin(), prefix.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::string out;
  if (addr.find(':') == std::string_view::npos) {
    size_t start = 0;
    for (int part = 0; part < 4; ++part) {
      const size_t dot = part < 3 ? addr.find('.', start) : addr.size();
      if (dot == std::string_view::npos) return std::nullopt;
      std::string_view octet = addr.substr(start, dot - start);
      if (octet.empty() ||
          !std::all_of(octet.begin(), octet.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
      }
      out += (part ? "." : "") + strip(octet);
      start = dot + 1;
    }
  } else {
    out = std::string(addr);
  }
  return out + "/" + strip(prefix);
}

}  // namespace

std::optional<LabelSelector> load_selector(Source& src, const Field& f, bool kubernetes) {
  const char* expected =
      kubernetes ? "a label selector (a map with matchLabels and matchExpressions)"
                 : "a selector (a string like \"app=web\" or a map with matchLabels and "
                   "matchExpressions)";
  // A Kubernetes selector field that is null is the empty selector where the Go type is a value
  // (spec.podSelector); peers decide about their pointer fields before calling this.
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
  if (const Field* labels = m->get("matchLabels"); labels && !labels->is_null()) {
    auto lm = Map::open_any(src, labels->value, labels->value_pos, "a map of label keys to values");
    if (!lm) return std::nullopt;
    for (const auto& l : lm->fields()) {
      if (kubernetes) {
        auto v = yaml::k8s_string(src, l, "a label value (a string)");
        const std::string key = yaml::k8s_key(l.key);
        std::string why;
        if (!valid_label_key(key, &why)) {
          src.error(l.key_pos, "invalid-selector", "invalid label key \"" + key + "\": " + why);
          ok = false;
        } else if (v && !valid_label_value(*v, &why)) {
          src.error(l.value_pos, "invalid-selector", "invalid label value \"" + *v + "\": " + why);
          ok = false;
        } else if (v) {
          sel.requirements.push_back(Requirement{key, Requirement::Op::in, {*v}});
        }
        ok = ok && v;
        continue;
      }
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
      // Container engines allow any label value; Kubernetes validates them (above).
      sel.requirements.push_back(Requirement{l.name, Requirement::Op::in, {*v}});
    }
  }
  if (const Field* exprs = m->get("matchExpressions")) {
    auto list = yaml::items(src, *exprs, "a list of match expressions");
    if (!list) return std::nullopt;
    for (const auto& e : *list) {
      auto r = load_expression(src, e, yaml::item_pos(src, e, exprs->value_pos), kubernetes);
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

std::optional<Cidr> load_cidr(Source& src, const YAML::Node& n, const SourcePos& at,
                              bool kubernetes) {
  auto text = kubernetes ? yaml::k8s_string(src, n, at, "a CIDR (e.g. 198.18.0.0/16)")
                         : yaml::scalar(src, n, at, "a CIDR (e.g. 198.18.0.0/16)");
  if (!text) return std::nullopt;
  bool sloppy = false;
  const auto standard = kubernetes ? standard_cidr_text(*text, &sloppy) : std::optional(*text);
  auto c = standard ? Cidr::parse(*standard) : std::nullopt;
  if (!c) {
    src.error(at, "invalid-cidr",
              "invalid CIDR \"" + *text +
                  "\": expected an address and a prefix length, e.g. "
                  "198.18.0.0/16 or fd00::/64");
    return std::nullopt;
  }
  if (sloppy) {
    src.warning(at, "nonstandard-cidr",
                "CIDR \"" + *text + "\" has leading zeros; Kubernetes reads it as " + *standard +
                    " (decimal), other software may read octal: write " + *standard);
  }
  // The model keeps only the normalized block; this is the last place that sees what was written.
  const auto written = IpAddr::parse(std::string_view(*standard).substr(0, standard->find('/')));
  if (written && *written != c->addr) {
    src.warning(at, "cidr-host-bits",
                "CIDR \"" + *text + "\" has host bits set; it means " + c->to_string());
  }
  return c;
}

std::optional<CidrPeer> load_cidr_peer(Source& src, const Map& m, bool kubernetes) {
  const Field* cf = m.get("cidr");
  // A Kubernetes cidr is a string: null is "", which is as missing as no field at all.
  if (!cf || (kubernetes && cf->is_null())) {
    src.error(cf ? cf->key_pos : m.pos(), "missing-field", "missing required field \"cidr\"");
    return std::nullopt;
  }
  auto cidr = load_cidr(src, cf->value, cf->value_pos, kubernetes);
  if (!cidr) return std::nullopt;
  CidrPeer peer{*cidr, {}};
  if (const Field* ex = m.get("except")) {
    auto list = yaml::items(src, *ex, "a list of CIDRs");
    if (!list) return std::nullopt;
    bool ok = true;
    for (const auto& e : *list) {
      const SourcePos at = yaml::item_pos(src, e, ex->value_pos);
      auto c = load_cidr(src, e, at, kubernetes);
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
