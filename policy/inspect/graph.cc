// DOT for a PolicySet. Every endpoint set is held as an EndpointPeer so subjects and peers that
// name the same endpoints (a Kubernetes subject and a podSelector peer of the same namespace, a
// native group as subject and as peer) become one node.
#include "policy/inspect/graph.h"

#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "policy/inspect/membership.h"
#include "policy/model/describe.h"
#include "policy/model/quantity.h"
#include "policy/model/resolve.h"

namespace bulkhead::policy {
namespace {

enum class NodeKind { group, pods, cidr, any };  // also the drawing order

struct Sides {
  bool ingress = false;
  bool egress = false;
  void set(Direction d) { (d == Direction::ingress ? ingress : egress) = true; }
  bool any() const { return ingress || egress; }
};

struct Node {
  NodeKind kind = NodeKind::group;
  std::string title;
  EndpointPeer members;  // group and pods nodes
  Sides isolated;        // by enforcing policies
  Sides audit_isolated;  // by audit policies
  std::vector<std::string> limits;
};

// Ports sort as a reader expects: any port, then numbers by protocol and value, then names.
using PortKey = std::tuple<int, int, int, int, std::string>;
using PortSet = std::map<PortKey, std::string>;

PortKey port_key(const PortSpec& p) {
  return {p.named.empty() ? 1 : 2, static_cast<int>(p.proto), p.first, p.last, p.named};
}

struct Edge {
  PortSet ports;        // opened by an enforcing rule
  PortSet audit_ports;  // opened by audit rules only (filled at the end)
};

std::string dot_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// Label lines, escaped one by one and joined with DOT's centred line break.
std::string dot_label(const std::vector<std::string>& lines) {
  std::string inner;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string q = dot_quote(lines[i]);
    inner += (i ? "\\n" : "") + q.substr(1, q.size() - 2);
  }
  return "\"" + inner + "\"";
}

std::string sides_text(const Sides& s) {
  if (s.ingress && s.egress) return "ingress, egress";
  return s.ingress ? "ingress" : "egress";
}

std::string count_text(size_t n) {
  if (n == 0) return "no endpoints";
  return std::to_string(n) + (n == 1 ? " endpoint" : " endpoints");
}

std::string rate_text(const char* dir, const Rate& r) {
  return std::string(dir) + " " + format_rate(r.bits_per_second) + ", burst " +
         format_bytes(r.burst_bytes);
}

class GraphBuilder {
 public:
  GraphBuilder(const PolicySet& ps, const Endpoints* endpoints)
      : ps_(ps), endpoints_(endpoints), namespaces_(ps) {}

  std::string run() {
    for (const auto& iso : ps_.isolations) {
      Node& n = node_for(iso.subject);
      (iso.origin.audit ? n.audit_isolated : n.isolated).set(iso.dir);
    }
    for (const auto& l : ps_.limits) {
      Node& n = node_for(l.subject);
      if (l.egress) n.limits.push_back(rate_text("egress", *l.egress));
      if (l.ingress) n.limits.push_back(rate_text("ingress", *l.ingress));
    }
    for (const auto& r : ps_.rules) add_rule(r);
    mark_covered();
    return dot();
  }

 private:
  static std::string members_id(const EndpointPeer& p) {
    if (!p.group.empty()) return "group/" + p.group;
    return "pods/" + endpoint_peer_text(p);
  }

  static EndpointPeer as_peer(const Subject& s) {
    EndpointPeer p;
    p.pods = s.pods;
    p.group = s.group;
    if (s.ns) p.namespaces = NamespaceScope{NamespaceScope::Kind::named, *s.ns, {}};
    return p;
  }

  Node& endpoint_node(const EndpointPeer& p) {
    const std::string id = members_id(p);
    auto it = nodes_.find(id);
    if (it != nodes_.end()) return it->second;
    Node n;
    n.kind = p.group.empty() ? NodeKind::pods : NodeKind::group;
    n.title = endpoint_peer_text(p);
    n.members = p;
    return nodes_.emplace(id, std::move(n)).first->second;
  }

  Node& node_for(const Subject& s) { return endpoint_node(as_peer(s)); }

  std::string id_of(const Subject& s) { return members_id(as_peer(s)); }

  std::string peer_id(const Peer& p) {
    if (const auto* c = std::get_if<CidrPeer>(&p.what)) {
      const std::string id = "cidr/" + cidr_peer_key(*c);
      if (!nodes_.count(id)) {
        Node n;
        n.kind = NodeKind::cidr;
        n.title = cidr_peer_text(*c);
        // The exceptions on a line of their own keep the hexagon narrow.
        if (auto at = n.title.find(" except "); at != std::string::npos) n.title[at] = '\n';
        nodes_.emplace(id, std::move(n));
      }
      return id;
    }
    const auto& ep = std::get<EndpointPeer>(p.what);
    endpoint_node(ep);
    return members_id(ep);
  }

  std::string any_id() {
    if (!nodes_.count("any")) {
      Node n;
      n.kind = NodeKind::any;
      n.title = "any peer";
      nodes_.emplace("any", std::move(n));
    }
    return "any";
  }

  void add_rule(const AllowRule& r) {
    node_for(r.subject);
    const std::string self = id_of(r.subject);
    std::vector<std::string> others;
    if (r.any_peer) others.push_back(any_id());
    for (const auto& p : r.peers) others.push_back(peer_id(p));
    PortSet ports;
    if (r.any_port) ports[{0, 0, 0, 0, ""}] = "any port";
    for (const auto& p : r.ports) ports[port_key(p)] = port_spec_text(p);
    if (ports.empty()) return;  // a rule without ports allows nothing
    for (const auto& other : others) {
      const auto key =
          r.dir == Direction::ingress ? std::make_pair(other, self) : std::make_pair(self, other);
      Edge& e = edges_[key];
      (r.origin.audit ? audit_ports_[key] : e.ports).insert(ports.begin(), ports.end());
    }
  }

  // Isolation reaches beyond the node it names: a subject selecting every pod (of a namespace, or
  // everywhere) covers every pod set inside it, and with an inventory a node whose endpoints are
  // all isolated is isolated.
  void mark_covered() {
    for (const auto& iso : ps_.isolations) {
      if (!iso.subject.pods.requirements.empty()) continue;
      for (auto& [id, n] : nodes_) {
        if (n.kind != NodeKind::group && n.kind != NodeKind::pods) continue;
        const bool inside =
            !iso.subject.ns || (n.members.namespaces.kind == NamespaceScope::Kind::named &&
                                n.members.namespaces.name == *iso.subject.ns);
        if (inside) (iso.origin.audit ? n.audit_isolated : n.isolated).set(iso.dir);
      }
    }
    if (!endpoints_) return;
    for (auto& [id, n] : nodes_) {
      if (n.kind != NodeKind::group && n.kind != NodeKind::pods) continue;
      for (bool audit : {false, true}) {
        for (Direction d : {Direction::ingress, Direction::egress}) {
          size_t members = 0, isolated = 0;
          for (const auto& ep : *endpoints_) {
            if (!peer_selects(n.members, ep, namespaces_)) continue;
            ++members;
            isolated += isolates(ps_, ep, d, audit);
          }
          if (members > 0 && isolated == members) (audit ? n.audit_isolated : n.isolated).set(d);
        }
      }
    }
  }

  size_t member_count(const Node& n) const {
    size_t count = 0;
    for (const auto& ep : *endpoints_) count += peer_selects(n.members, ep, namespaces_);
    return count;
  }

  std::string node_line(const std::string& id, const Node& n) const {
    std::vector<std::string> lines{n.title};
    std::string shape = "box", style = "rounded", fill;
    switch (n.kind) {
      case NodeKind::group:
      case NodeKind::pods: {
        if (endpoints_) lines.push_back(count_text(member_count(n)));
        if (n.isolated.any()) lines.push_back("isolated: " + sides_text(n.isolated));
        // Audit isolation of a direction enforcement already isolates changes nothing there.
        Sides audit_only;
        audit_only.ingress = n.audit_isolated.ingress && !n.isolated.ingress;
        audit_only.egress = n.audit_isolated.egress && !n.isolated.egress;
        if (audit_only.any()) lines.push_back("audit isolation: " + sides_text(audit_only));
        for (const auto& l : n.limits) lines.push_back(l);
        if (n.isolated.any()) {
          style += ",filled,bold";
          fill = "#ffe4c4";
        } else if (audit_only.any()) {
          style += ",filled,dashed";
          fill = "#fff8e7";
        } else {
          style += ",filled";
          fill = "#eef3fb";
        }
        break;
      }
      case NodeKind::cidr:
        shape = "hexagon";
        style = "filled";
        fill = "#f2f2f2";
        break;
      case NodeKind::any:
        shape = "ellipse";
        style = "dashed";
        break;
    }
    std::string out = "  " + dot_quote(id) + " [label=" + dot_label(lines) + ", shape=" + shape +
                      ", style=" + dot_quote(style);
    if (!fill.empty()) out += ", fillcolor=" + dot_quote(fill);
    return out + "];\n";
  }

  std::string dot() {
    for (auto& [key, ports] : audit_ports_) {
      Edge& e = edges_[key];
      for (const auto& p : ports)
        if (!e.ports.count(p.first)) e.audit_ports.insert(p);
    }
    std::ostringstream out;
    out << "digraph bulkhead {\n"
        << "  rankdir=LR;\n"
        << "  node [fontname=\"Helvetica\", fontsize=11];\n"
        << "  edge [fontname=\"Helvetica\", fontsize=10];\n";
    for (NodeKind kind : {NodeKind::group, NodeKind::pods, NodeKind::cidr, NodeKind::any}) {
      for (const auto& [id, n] : nodes_)
        if (n.kind == kind) out << node_line(id, n);
    }
    for (const auto& [key, e] : edges_) {
      std::string label;
      for (const auto& [k, p] : e.ports) label += (label.empty() ? "" : ", ") + p;
      for (const auto& [k, p] : e.audit_ports)
        label += (label.empty() ? "" : ", ") + p + " (audit)";
      out << "  " << dot_quote(key.first) << " -> " << dot_quote(key.second)
          << " [label=" << dot_quote(label);
      if (e.ports.empty()) out << ", style=dashed";
      out << "];\n";
    }
    out << "}\n";
    return out.str();
  }

  const PolicySet& ps_;
  const Endpoints* endpoints_;
  NamespaceIndex namespaces_;
  std::map<std::string, Node> nodes_;
  std::map<std::pair<std::string, std::string>, Edge> edges_;
  std::map<std::pair<std::string, std::string>, PortSet> audit_ports_;
};

}  // namespace

std::string render_graph_dot(const PolicySet& policies, const Endpoints* endpoints) {
  return GraphBuilder(policies, endpoints).run();
}

}  // namespace bulkhead::policy
