// The static endpoint inventory (DESIGN section 1, docs/policy.md).
#include <algorithm>
#include <map>

#include "policy/load/file.h"
#include "policy/load/load.h"
#include "policy/load/yaml_source.h"
#include "policy/model/limits.h"

namespace bulkhead::policy {

using yaml::Field;
using yaml::Map;
using yaml::Source;

namespace {

std::optional<NamedPort> load_named_port(Source& src, const Field& f) {
  auto text = yaml::scalar(src, f, "a port such as \"80/tcp\"");
  if (!text) return std::nullopt;
  NamedPort p;
  p.name = f.name;
  const auto slash = text->find('/');
  const std::string num = text->substr(0, slash);
  if (slash != std::string::npos) {
    const std::string proto = text->substr(slash + 1);
    if (proto == "tcp" || proto == "TCP") {
      p.proto = Protocol::tcp;
    } else if (proto == "udp" || proto == "UDP") {
      p.proto = Protocol::udp;
    } else if (proto == "sctp" || proto == "SCTP") {
      p.proto = Protocol::sctp;
    } else {
      src.error(
          f.value_pos, "invalid-port",
          "unknown protocol \"" + proto + "\" in \"" + *text + "\"; expected tcp, udp or sctp");
      return std::nullopt;
    }
  }
  const bool digits =
      !num.empty() && num.size() <= 5 &&
      std::all_of(num.begin(), num.end(), [](char c) { return c >= '0' && c <= '9'; });
  const int v = digits ? std::stoi(num) : 0;
  if (v < 1 || v > 65535) {
    src.error(f.value_pos, "invalid-port",
              "invalid port \"" + *text +
                  "\": expected PORT/PROTOCOL with a port from 1 to 65535, "
                  "e.g. \"80/tcp\"");
    return std::nullopt;
  }
  p.port = static_cast<uint16_t>(v);
  return p;
}

std::optional<Endpoint> load_endpoint(Source& src, const YAML::Node& n, const SourcePos& at) {
  auto m = Map::open(
      src, n, at, "an endpoint (a map with name, netns, labels...)",
      {"name", "netns", "labels", "addresses", "ports", "hostNetwork", "privileged", "netAdmin"});
  if (!m) return std::nullopt;
  Endpoint e;
  e.pos = at;
  const Field* name = m->require(src, "name");
  const Field* netns = m->require(src, "netns");
  if (!name || !netns) return std::nullopt;
  auto nm = yaml::scalar(src, *name, "an endpoint name");
  auto ns = yaml::scalar(src, *netns, "a network namespace path");
  if (!nm || !ns) return std::nullopt;
  if (nm->empty()) {
    src.error(name->value_pos, "invalid-name", "endpoint name must not be empty");
    return std::nullopt;
  }
  if (nm->size() > limits::kMaxNameBytes) {
    src.error(name->value_pos, "too-large",
              "endpoint name of " + std::to_string(nm->size()) + " bytes exceeds the limit of " +
                  std::to_string(limits::kMaxNameBytes));
    return std::nullopt;
  }
  if (ns->size() > limits::kMaxPathBytes) {
    src.error(netns->value_pos, "too-large",
              "netns path of " + std::to_string(ns->size()) + " bytes exceeds the limit of " +
                  std::to_string(limits::kMaxPathBytes));
    return std::nullopt;
  }
  if (ns->empty() || ns->front() != '/') {
    src.error(
        netns->value_pos, "invalid-value",
        "netns \"" + *ns + "\" must be an absolute path (/run/netns/NAME or /proc/PID/ns/net)");
    return std::nullopt;
  }
  e.name = *nm;
  e.netns = *ns;
  bool ok = true;
  if (const Field* lf = m->get("labels"); lf && !lf->is_null()) {
    auto lm = Map::open_any(src, lf->value, lf->value_pos, "a map of labels");
    if (!lm) return std::nullopt;
    for (const auto& l : lm->fields()) {
      auto v = l.is_null() ? std::optional<std::string>("") : yaml::scalar(src, l, "a label value");
      if (l.name.size() > limits::kMaxLabelKeyBytes) {
        src.error(l.key_pos, "too-large",
                  "label key of " + std::to_string(l.name.size()) + " bytes exceeds the limit of " +
                      std::to_string(limits::kMaxLabelKeyBytes));
        ok = false;
      } else if (v && v->size() > limits::kMaxLabelValueBytes) {
        src.error(l.value_pos, "too-large",
                  "label value of " + std::to_string(v->size()) + " bytes exceeds the limit of " +
                      std::to_string(limits::kMaxLabelValueBytes));
        ok = false;
      } else if (v) {
        e.labels[l.name] = *v;
      } else {
        ok = false;
      }
    }
  }
  if (const Field* af = m->get("addresses")) {
    auto list = yaml::items(src, *af, "a list of addresses");
    if (!list) return std::nullopt;
    for (const auto& x : *list) {
      const SourcePos xp = yaml::item_pos(src, x, af->value_pos);
      auto s = yaml::scalar(src, x, xp, "an IP address");
      if (!s) {
        ok = false;
        continue;
      }
      auto a = IpAddr::parse(*s);
      if (!a) {
        const bool prefixed =
            s->find('/') != std::string::npos && IpAddr::parse(s->substr(0, s->find('/')));
        src.error(xp, "invalid-address",
                  "invalid address \"" + *s + "\"" +
                      (prefixed ? ": write the address without a prefix length" : ""));
        ok = false;
        continue;
      }
      if (std::find(e.addresses.begin(), e.addresses.end(), *a) == e.addresses.end()) {
        e.addresses.push_back(*a);
      }
    }
  }
  if (const Field* pf = m->get("ports"); pf && !pf->is_null()) {
    auto pm = Map::open_any(src, pf->value, pf->value_pos, "a map of port names to ports");
    if (!pm) return std::nullopt;
    for (const auto& p : pm->fields()) {
      auto np = load_named_port(src, p);
      if (np) {
        e.ports.push_back(std::move(*np));
      } else {
        ok = false;
      }
    }
    std::sort(e.ports.begin(), e.ports.end(),
              [](const NamedPort& a, const NamedPort& b) { return a.name < b.name; });
  }
  for (auto [key, flag] :
       {std::pair{"hostNetwork", &e.host_network}, std::pair{"privileged", &e.privileged},
        std::pair{"netAdmin", &e.net_admin}}) {
    if (const Field* f = m->get(key)) {
      auto b = yaml::boolean(src, *f);
      if (b) {
        *flag = *b;
      } else {
        ok = false;
      }
    }
  }
  if (!ok) return std::nullopt;
  return e;
}

void load_inventory_doc(Source& src, const YAML::Node& doc, InventoryLoad& out,
                        std::map<std::string, SourcePos>& seen) {
  if (!doc.IsDefined() || doc.IsNull()) return;
  auto m = Map::open(src, doc, src.pos(doc), "an inventory (a map with endpoints)",
                     {"apiVersion", "kind", "endpoints"});
  if (!m) return;
  const Field* api = m->get("apiVersion");
  const Field* kind = m->get("kind");
  if (api || kind) {
    auto a = api ? yaml::scalar(src, *api, "an apiVersion") : std::optional<std::string>("");
    auto k = kind ? yaml::scalar(src, *kind, "a kind") : std::optional<std::string>("");
    if (!a || !k) return;
    if (*a != "bulkhead/v1" || *k != "Inventory") {
      src.error(api ? api->value_pos : kind->value_pos, "unknown-kind",
                "an inventory is \"apiVersion: bulkhead/v1\" and \"kind: Inventory\" (both "
                "optional), not \"" +
                    *a + "\" \"" + *k + "\"");
      return;
    }
  }
  const Field* eps = m->require(src, "endpoints");
  if (!eps) return;
  auto list = yaml::items(src, *eps, "a list of endpoints");
  if (!list) return;
  for (const auto& x : *list) {
    auto e = load_endpoint(src, x, yaml::item_pos(src, x, eps->value_pos));
    if (!e) continue;
    if (auto it = seen.find(e->name); it != seen.end()) {
      src.error(e->pos, "duplicate-endpoint",
                "duplicate endpoint \"" + e->name + "\" (first defined at " +
                    it->second.to_string() + ")");
      continue;
    }
    seen[e->name] = e->pos;
    out.endpoints.push_back(std::move(*e));
  }
}

}  // namespace

InventoryLoad load_inventory_text(std::string_view text, const std::string& file) {
  InventoryLoad out;
  Source src(file, text, &out.diagnostics);
  auto docs = parse_documents(src, text);
  if (!docs) return out;
  std::map<std::string, SourcePos> seen;
  try {
    for (const auto& doc : *docs) load_inventory_doc(src, doc, out, seen);
  } catch (const std::exception& e) {
    src.error(SourcePos{file, 1, 1}, "yaml-syntax", std::string("YAML error: ") + e.what());
  }
  std::sort(out.endpoints.begin(), out.endpoints.end(),
            [](const Endpoint& a, const Endpoint& b) { return a.name < b.name; });
  return out;
}

InventoryLoad load_inventory(const std::string& path) {
  InventoryLoad out;
  auto text = read_file(path, out.diagnostics);
  if (!text) return out;
  return load_inventory_text(*text, path);
}

}  // namespace bulkhead::policy
