#include "policy/inspect/flow_query.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "policy/model/describe.h"
#include "policy/model/resolve.h"

namespace bulkhead::policy {
namespace {

Error usage(std::string message) { return make_error("", std::move(message)); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<Protocol> port_protocol(std::string_view s) {
  const std::string l = lower(s);
  if (l == "tcp") return Protocol::tcp;
  if (l == "udp") return Protocol::udp;
  if (l == "sctp") return Protocol::sctp;
  return std::nullopt;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Kubernetes port names (IANA_SVC_NAME): lower-case letters, digits and '-', at most 15, with a
// letter somewhere. Inventory names follow the same shape.
bool port_name_like(std::string_view s) {
  return !s.empty() && s.size() <= 15 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  }) && std::any_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

// Edit distance counting a swap of two neighbours as one edit (the commonest typo in names).
size_t typo_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min(
          {d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

// Names close to `word`: those containing it, else the nearest within a plausible typo's
// distance; at most three.
std::vector<std::string> near_names(std::string_view word, const Endpoints& endpoints) {
  std::vector<std::string> out;
  for (const auto& e : endpoints)
    if (!word.empty() && e.name.find(word) != std::string::npos) out.push_back(e.name);
  if (out.empty() && word.size() <= 256) {
    size_t best = std::max<size_t>(2, word.size() / 3) + 1;
    for (const auto& e : endpoints) {
      const size_t d = typo_distance(word, e.name);
      if (d < best) {
        best = d;
        out.clear();
      }
      if (d == best) out.push_back(e.name);
    }
  }
  if (out.size() > 3) out.resize(3);
  return out;
}

std::string join(const std::vector<std::string>& v, const char* last = ", ") {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i == 0 ? "" : i + 1 == v.size() ? last : ", ") + v[i];
  return s;
}

Error unknown_endpoint(std::string_view option, std::string_view word, const Endpoints& endpoints) {
  std::string msg = std::string(option) + ": no endpoint named \"" + std::string(word) +
                    "\" in the inventory, and it is not an IP address";
  const auto near = near_names(word, endpoints);
  if (!near.empty()) {
    msg += "; did you mean " + join(near, " or ") + "?";
  } else if (endpoints.empty()) {
    msg += " (the inventory has no endpoints)";
  } else if (endpoints.size() <= 12) {
    std::vector<std::string> names;
    for (const auto& e : endpoints) names.push_back(e.name);
    msg += " (endpoints: " + join(names) + ")";
  }
  return usage(std::move(msg));
}

struct End {
  const Endpoint* endpoint = nullptr;
  std::optional<IpAddr> given;  // the address written on the command line
};

Result<End> find_end(std::string_view option, std::string_view word, const Endpoints& endpoints) {
  if (auto addr = IpAddr::parse(word)) {
    for (const auto& e : endpoints) {
      if (std::find(e.addresses.begin(), e.addresses.end(), *addr) != e.addresses.end())
        return End{&e, *addr};
    }
    return End{nullptr, *addr};
  }
  for (const auto& e : endpoints)
    if (e.name == word) return End{&e, std::nullopt};
  return unknown_endpoint(option, word, endpoints);
}

std::optional<IpAddr> first_of(const Endpoint& e, int family) {
  for (const auto& a : e.addresses)
    if (a.family == family) return a;
  return std::nullopt;
}

bool has_family(const End& end, int family) {
  if (end.given) return end.given->family == family;
  return first_of(*end.endpoint, family).has_value();
}

FlowEnd flow_end(const End& end, int family) {
  if (end.given) return FlowEnd{end.endpoint, end.given};
  return FlowEnd{end.endpoint, first_of(*end.endpoint, family)};
}

}  // namespace

Result<PortQuery> parse_port_query(std::string_view text) {
  const std::string shown = "--port \"" + std::string(text) + "\"";
  const std::string forms =
      "expected PORT/PROTO (8080/tcp, 53/udp, 7777/sctp), icmp, or a named "
      "port of the receiver (http, http/tcp)";
  if (lower(text) == "icmp") return PortQuery{Protocol::icmp, 0, ""};
  if (lower(text.substr(0, text.find('/'))) == "icmp")
    return usage(shown + ": icmp takes no port or protocol; write --port icmp");
  const auto slash = text.find('/');
  const std::string_view num = text.substr(0, slash);
  if (slash == std::string_view::npos) {
    if (all_digits(num)) {
      return usage(shown + ": a port needs its protocol: " + std::string(num) + "/tcp, " +
                   std::string(num) + "/udp or " + std::string(num) + "/sctp");
    }
    if (port_name_like(num)) return PortQuery{Protocol::any, 0, std::string(num)};
    return usage(shown + ": " + forms);
  }
  const std::string_view proto_text = text.substr(slash + 1);
  const auto proto = port_protocol(proto_text);
  if (!proto) {
    return usage(shown + ": unknown protocol \"" + std::string(proto_text) +
                 "\"; expected tcp, udp or sctp (or icmp alone)");
  }
  if (all_digits(num)) {
    if (num.size() > 5 || std::stoul(std::string(num)) < 1 || std::stoul(std::string(num)) > 65535)
      return usage(shown + ": port " + std::string(num) + " is out of range 1-65535");
    return PortQuery{*proto, static_cast<uint16_t>(std::stoul(std::string(num))), ""};
  }
  if (port_name_like(num)) return PortQuery{*proto, 0, std::string(num)};
  return usage(shown + ": " + forms);
}

Result<FlowQuery> make_flow_query(const Endpoints& endpoints, std::string_view from,
                                  std::string_view to, const PortQuery& port, int family) {
  auto src = find_end("--from", from, endpoints);
  if (!src.ok()) return src.error();
  auto dst = find_end("--to", to, endpoints);
  if (!dst.ok()) return dst.error();
  if (!src->endpoint && !dst->endpoint) {
    return usage(
        "neither --from nor --to is an inventory endpoint: bulkhead enforces nothing "
        "between two outside addresses");
  }
  for (const End* e : {&*src, &*dst}) {
    if (!e->given) continue;
    if (family != 0 && e->given->family != family) {
      return usage("address " + e->given->to_string() + " is not IPv" + std::to_string(family) +
                   " (--family " + std::to_string(family) + ")");
    }
    family = e->given->family;
  }
  if (src->given && dst->given && src->given->family != dst->given->family)
    return usage("--from and --to are addresses of different families");
  if (family == 0) {
    family = 4;
    if (!(has_family(*src, 4) && has_family(*dst, 4)) && has_family(*src, 6) && has_family(*dst, 6))
      family = 6;
  }

  FlowQuery q;
  q.from = flow_end(*src, family);
  q.to = flow_end(*dst, family);
  q.proto = port.proto;
  q.port = port.port;
  if (!port.named.empty()) {
    if (!q.to.endpoint) {
      return usage("named port \"" + port.named + "\" needs an inventory endpoint as --to; " +
                   q.to.addr->to_string() + " is outside the inventory");
    }
    PortSpec spec;
    spec.named = port.named;
    spec.proto = port.proto;
    const auto np = resolve_named_port(spec, *q.to.endpoint);
    if (!np) {
      std::vector<std::string> names;
      for (const auto& p : q.to.endpoint->ports)
        names.push_back(p.name + " (" + flow_port_text(p.proto, p.port) + ")");
      return usage("endpoint " + q.to.endpoint->name + " has no named port \"" +
                   port_spec_text(spec) + "\"" +
                   (names.empty() ? " (it has none)" : "; it has " + join(names)));
    }
    q.proto = np->proto;
    q.port = np->port;
  }
  return q;
}

}  // namespace bulkhead::policy
