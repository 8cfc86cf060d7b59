// bulkhead status [--status-socket PATH] [--json]: what the running daemon enforces.
#include <unistd.h>

#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "enforcer/cli/common.h"
#include "enforcer/status/socket.h"

namespace bulkhead::cli {
namespace {

std::string str(const nlohmann::ordered_json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "-";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

// --cluster: the store's health and one line per node, marking a policy that differs from ours.
void print_cluster(const nlohmann::ordered_json& doc) {
  const auto& c = doc["cluster"];
  std::string urls;
  for (const auto& u : c.value("etcd", nlohmann::ordered_json::array()))
    urls += (urls.empty() ? "" : ",") + u.get<std::string>();
  const std::string err = c.value("error", "");
  std::cout << "cluster: node " << str(c, "node") << ", etcd " << urls << " "
            << (c.value("connected", false) ? "connected" : "DISCONNECTED")
            << (err.empty() ? "" : ": " + err) << "\n";
  std::cout << "  revision " << str(c, "revision") << ", " << str(c, "remote_endpoints")
            << " remote endpoints; this node's policy digest " << str(doc, "policy_digest") << "\n";
  for (const auto& n : c.value("nodes", nlohmann::ordered_json::array())) {
    const bool same = n.value("same_policy", false);
    std::cout << "  " << std::left << std::setw(20) << str(n, "node") << " "
              << str(n, "policy_digest") << " " << std::setw(5) << str(n, "endpoints")
              << (same ? " same policy" : " POLICY DIFFERS") << "\n";
  }
}

void print_human(const nlohmann::ordered_json& doc) {
  if (doc.contains("policies")) {
    std::cout << "policies:\n";
    for (const auto& p : doc["policies"])
      std::cout << "  " << str(p, "name") << " (" << str(p, "kind") << ", " << str(p, "mode")
                << ") " << str(p, "source") << "\n";
  }
  if (doc.contains("policy_load") && !doc["policy_load"].value("ok", true))
    std::cout << "policy load FAILED since " << str(doc["policy_load"], "since") << ": "
              << str(doc["policy_load"], "error") << "\n  (the policies above stay enforced)\n";
  if (doc.contains("sources")) {
    std::cout << "sources:\n";
    for (const auto& s : doc["sources"]) {
      std::string err = s.value("error", "");
      std::cout << "  " << str(s, "name") << " "
                << (!s.value("ready", false) ? "not ready"
                    : err.empty()            ? "ok"
                                             : "degraded")
                << (err.empty() ? "" : ": " + err) << "\n";
    }
  }
  if (doc.contains("cluster") && doc["cluster"].is_object()) print_cluster(doc);
  std::cout << "endpoints:\n";
  std::cout << "  " << std::left << std::setw(20) << "NAME" << std::setw(11) << "STATE"
            << std::setw(18) << "ADDRESS" << std::setw(10) << "APPLY-MS" << std::setw(10)
            << "ALLOWED" << std::setw(10) << "DROPPED"
            << "NETNS\n";
  for (const auto& e : doc.value("endpoints", nlohmann::ordered_json::array())) {
    std::string addr = "-";
    if (e.contains("addresses") && !e["addresses"].empty()) addr = e["addresses"][0];
    std::cout << "  " << std::left << std::setw(20) << str(e, "name") << std::setw(11)
              << str(e, "state") << std::setw(18) << addr << std::setw(10) << str(e, "apply_ms")
              << std::setw(10) << str(e, "allowed_packets") << std::setw(10)
              << str(e, "dropped_packets") << str(e, "netns") << "\n";
    if (e.contains("groups") && !e["groups"].empty()) {
      std::cout << "      groups:";
      for (const auto& g : e["groups"]) std::cout << " " << g.get<std::string>();
      std::cout << "\n";
    }
    if (e.contains("error") && e["error"].is_string() && !e["error"].get<std::string>().empty())
      std::cout << "      error: " << e["error"].get<std::string>() << "\n";
  }
  if (doc.contains("unenforceable") && !doc["unenforceable"].empty()) {
    std::cout << "not enforceable:\n";
    for (const auto& u : doc["unenforceable"])
      std::cout << "  " << str(u, "name") << ": " << str(u, "reason") << "\n";
  }
  if (doc.contains("errors") && !doc["errors"].empty()) {
    std::cout << "recent errors:\n";
    for (const auto& e : doc["errors"]) std::cout << "  " << e.get<std::string>() << "\n";
  }
}

// `status --drops`: the denied-flow log's recent records, oldest first.
void print_drops(const nlohmann::ordered_json& doc) {
  const auto flows = doc.value("flows", nlohmann::ordered_json::array());
  if (flows.empty()) {
    std::cout << "no denied flows logged recently\n";
    return;
  }
  std::cout << std::left << std::setw(25) << "LAST" << std::setw(11) << "VERDICT" << std::setw(30)
            << "FROM" << std::setw(30) << "TO" << std::setw(13) << "PORT" << std::setw(7) << "COUNT"
            << "POLICY\n";
  auto end = [](const nlohmann::ordered_json& f, const char* ep, const char* addr) {
    const std::string name = f.value(ep, "");
    return (name.empty() ? std::string("(outside)") : name) + " " + f.value(addr, "");
  };
  for (const auto& f : flows) {
    // Ports read "8080/tcp" as in every other text (policy/model/describe.h); ICMP has a type.
    const std::string port = f.contains("icmp_type")
                                 ? str(f, "proto") + " type " + str(f, "icmp_type")
                                 : str(f, "port") + "/" + str(f, "proto");
    std::cout << std::setw(25) << str(f, "last") << std::setw(11) << str(f, "verdict")
              << std::setw(30) << end(f, "src_endpoint", "src") << std::setw(30)
              << end(f, "dst_endpoint", "dst") << std::setw(13) << port << std::setw(7)
              << (str(f, "count") + (f.value("open", false) ? "+" : "")) << str(f, "policy")
              << "\n";
  }
}

// The human forms never print rule counters; leaving them out of the parse halves its work on a
// large node (docs/daemon.md, Status).
nlohmann::ordered_json parse_without_rules(const std::string& doc) {
  auto skip_rules = [](int depth, nlohmann::ordered_json::parse_event_t event,
                       nlohmann::ordered_json& parsed) {
    return !(depth == 3 && event == nlohmann::ordered_json::parse_event_t::key &&
             parsed == "rules");
  };
  return nlohmann::ordered_json::parse(doc, skip_rules, false);
}

bool is_error_reply(const std::string& doc) { return doc.rfind("{\"error\"", 0) == 0; }

}  // namespace

po::options_description status_options() {
  po::options_description opts("options");
  opts.add_options()(
      "status-socket",
      po::value<std::string>()->default_value("/run/bulkhead/status.sock")->value_name("PATH"),
      "the daemon's status socket")("json", po::bool_switch(), "print JSON")(
      "drops", po::bool_switch(), "show the recent denied and would-deny flows");
  return opts;
}

int run_status(const Args& args) {
  int rc = kExitUsage;
  auto vm = parse_args("status", args, &rc);
  if (!vm) return rc;
  auto doc = daemon::fetch_status((*vm)["status-socket"].as<std::string>());
  if (!doc.ok()) {
    std::cerr << "bulkhead status: " << doc.error().to_string() << "\n";
    return kExitUsage;
  }
  if (is_error_reply(*doc)) {
    auto j = nlohmann::ordered_json::parse(*doc, nullptr, false);
    std::cerr << "bulkhead status: " << j.value("error", std::string("(unreadable error)")) << "\n";
    return kExitUsage;
  }
  const bool json = (*vm)["json"].as<bool>();
  const bool drops = (*vm)["drops"].as<bool>();
  // The whole document for a script is the daemon's own compact text, not re-built; a terminal
  // gets it indented. The daemon ends its answer with "}\n", so a cut answer (a send that timed
  // out) is told from a whole one without parsing a megabyte.
  if (json && !drops && !::isatty(STDOUT_FILENO)) {
    if (!doc->ends_with("}\n")) {
      std::cerr << "bulkhead status: the daemon's answer is not JSON\n";
      return kExitUsage;
    }
    std::cout << *doc;
    return kExitOk;
  }
  auto j = json && !drops ? nlohmann::ordered_json::parse(*doc, nullptr, false)
                          : parse_without_rules(*doc);
  if (j.is_discarded()) {
    std::cerr << "bulkhead status: the daemon's answer is not JSON\n";
    return kExitUsage;
  }
  if (drops) {
    if (json)
      std::cout << j.value("flows", nlohmann::ordered_json::array()).dump(2) << "\n";
    else
      print_drops(j);
  } else if (json) {
    std::cout << j.dump(2) << "\n";
  } else {
    print_human(j);
  }
  return kExitOk;
}

}  // namespace bulkhead::cli
