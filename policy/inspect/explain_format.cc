// Text and JSON forms of an Explanation. docs/explain.md shows and describes both.
#include <nlohmann/json.hpp>
#include <sstream>

#include "policy/inspect/explain.h"
#include "policy/model/describe.h"
#include "policy/model/resolve.h"

namespace bulkhead::policy {
namespace {

const char* dir_name(Direction d) { return d == Direction::ingress ? "ingress" : "egress"; }

std::string end_name(const FlowEnd& end) {
  if (end.endpoint) return end.endpoint->name;
  return end.addr ? end.addr->to_string() : "?";
}

std::string end_detail(const FlowEnd& end) {
  if (!end.endpoint) return end.addr ? end.addr->to_string() + " (outside the inventory)" : "?";
  return end.endpoint->name + " " +
         (end.addr ? end.addr->to_string() : "(no address of this family in the inventory)");
}

std::string who(const Origin& o) { return o.kind + " " + o.policy; }

std::string isolation_text(const IsolationRef& i) {
  return i.origin.pos.to_string() + ": " + who(i.origin) +
         (i.group.empty() ? "" : ", group " + i.group);
}

std::string admitting_text(const RuleRef& r, Direction d) {
  return r.origin.pos.to_string() + ": " + who(r.origin) + ": " +
         (d == Direction::ingress ? "from " : "to ") + r.peer + " on " + r.port;
}

std::string missing_text(const RuleRef& r) {
  return r.origin.pos.to_string() + ": " + who(r.origin) + ": " + r.summary + " (" +
         (r.peer_matches ? "port" : "peer") + " does not match)";
}

void side_text(std::ostringstream& out, const Explanation& e, const SideExplanation& s) {
  const FlowEnd& self = s.dir == Direction::egress ? e.query.from : e.query.to;
  out << dir_name(s.dir) << " of " << end_name(self) << ": " << (s.allowed ? "allowed" : "denied");
  if (!s.enforced) {
    out << " (an address outside the inventory: nothing is enforced there)\n";
    return;
  }
  out << "\n";
  if (!s.isolated()) {
    out << "  not isolated: no enforcing policy isolates its " << dir_name(s.dir) << "\n";
  } else {
    for (const auto& i : s.isolated_by) out << "  isolated by " << isolation_text(i) << "\n";
    bool admitted = false;
    for (const auto& r : s.rules) {
      if (!r.admits) continue;
      admitted = true;
      out << "  allowed by " << admitting_text(r, s.dir) << "\n";
    }
    if (!admitted) {
      out << "  no rule allows it\n";
      for (const auto& r : s.rules) out << "  not matching " << missing_text(r) << "\n";
    }
  }
  if (s.would_deny) {
    out << "  audit: would deny (";
    for (size_t i = 0; i < s.audit_isolated_by.size(); ++i) {
      const auto& o = s.audit_isolated_by[i].origin;
      out << (i ? "; " : "") << who(o) << ", " << o.pos.to_string();
    }
    out << ")\n";
    return;
  }
  for (const auto& i : s.audit_isolated_by)
    out << "  audit: isolated by " << isolation_text(i) << "\n";
  // Audit rules matter only where something (enforced or audit) isolates the side.
  if (s.isolated() || !s.audit_isolated_by.empty()) {
    for (const auto& r : s.audit_rules) {
      if (!r.admits) continue;
      if (s.allowed) {
        out << "  audit: allowed by " << admitting_text(r, s.dir) << "\n";
      } else {
        out << "  audit: would be allowed by " << admitting_text(r, s.dir)
            << " (audit rules open nothing)\n";
      }
    }
  }
}

using Json = nlohmann::ordered_json;

void put_pos(Json& j, const SourcePos& pos) {
  j["file"] = pos.file;
  j["line"] = pos.line;
  j["column"] = pos.col;
}

Json end_json(const FlowEnd& end) {
  Json j;
  j["endpoint"] = end.endpoint ? Json(end.endpoint->name) : Json(nullptr);
  j["address"] = end.addr ? Json(end.addr->to_string()) : Json(nullptr);
  return j;
}

Json isolation_json(const IsolationRef& i) {
  Json j = {{"policy", i.origin.policy}, {"kind", i.origin.kind}};
  j["group"] = i.group.empty() ? Json(nullptr) : Json(i.group);
  put_pos(j, i.origin.pos);
  return j;
}

Json part_json(const std::string& text, const SourcePos& pos) {
  Json j = {{"text", text}};
  if (pos.line > 0) put_pos(j, pos);
  return j;
}

Json rule_json(const RuleRef& r) {
  Json j = {{"policy", r.origin.policy}, {"kind", r.origin.kind}};
  put_pos(j, r.origin.pos);
  j["rule"] = r.summary;
  if (r.admits) {
    j["peer"] = part_json(r.peer, r.peer_pos);
    j["port"] = part_json(r.port, r.port_pos);
  } else {
    j["mismatch"] = r.peer_matches ? "port" : "peer";
  }
  return j;
}

// Rules split into those that admit the flow and those that do not.
void rules_json(Json& j, const std::vector<RuleRef>& rules) {
  Json allowed = Json::array(), missing = Json::array();
  for (const auto& r : rules) (r.admits ? allowed : missing).push_back(rule_json(r));
  j["allowed_by"] = std::move(allowed);
  j["not_matching"] = std::move(missing);
}

Json side_json(const SideExplanation& s) {
  Json j = {{"enforced", s.enforced}, {"allowed", s.allowed}, {"isolated", s.isolated()}};
  Json iso = Json::array();
  for (const auto& i : s.isolated_by) iso.push_back(isolation_json(i));
  j["isolated_by"] = std::move(iso);
  rules_json(j, s.rules);
  Json audit = {{"would_deny", s.would_deny}};
  Json aiso = Json::array();
  for (const auto& i : s.audit_isolated_by) aiso.push_back(isolation_json(i));
  audit["isolated_by"] = std::move(aiso);
  rules_json(audit, s.audit_rules);
  j["audit"] = std::move(audit);
  return j;
}

}  // namespace

std::string format_explanation_text(const Explanation& e) {
  std::ostringstream out;
  const auto& q = e.query;
  out << end_name(q.from) << " -> " << end_name(q.to) << " " << flow_port_text(q.proto, q.port)
      << ": " << (e.allowed ? "allowed" : "denied") << (e.would_deny ? " (audit: would deny)" : "")
      << "\n";
  out << "  from " << end_detail(q.from) << "\n";
  out << "  to   " << end_detail(q.to) << "\n";
  if (e.loopback) {
    out << "  loopback: an endpoint reaching itself is always allowed\n";
    return out.str();
  }
  side_text(out, e, e.egress);
  side_text(out, e, e.ingress);
  return out.str();
}

std::string format_explanation_json(const Explanation& e) {
  const auto& q = e.query;
  Json j;
  j["from"] = end_json(q.from);
  j["to"] = end_json(q.to);
  j["protocol"] = protocol_name(q.proto);
  j["port"] = q.proto == Protocol::icmp ? Json(nullptr) : Json(q.port);
  j["allowed"] = e.allowed;
  j["would_deny"] = e.would_deny;
  j["loopback"] = e.loopback;
  j["egress"] = side_json(e.egress);
  j["ingress"] = side_json(e.ingress);
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace bulkhead::policy
