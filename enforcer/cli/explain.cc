// bulkhead explain PATH... --inventory FILE --from NAME|ADDR --to NAME|ADDR --port PORT/PROTO
// Offline: the verdict the daemon would enforce for one flow, and why (docs/explain.md).
#include "policy/inspect/explain.h"

#include <iostream>

#include "enforcer/cli/common.h"
#include "policy/inspect/flow_query.h"
#include "policy/inspect/lint.h"

namespace bulkhead::cli {

po::options_description explain_options() {
  po::options_description opts("options");
  opts.add_options()("inventory", po::value<std::string>()->required()->value_name("FILE"),
                     "inventory file")(
      "from", po::value<std::string>()->required()->value_name("NAME|ADDRESS"),
      "sender: endpoint name or IP address")(
      "to", po::value<std::string>()->required()->value_name("NAME|ADDRESS"),
      "receiver: endpoint name or IP address")(
      "port", po::value<std::string>()->required()->value_name("PORT/PROTO"),
      "8080/tcp, 53/udp, 7777/sctp, icmp, or a named port of the receiver")(
      "family", po::value<int>()->default_value(0)->value_name("4|6"),
      "address family of the endpoints' addresses: 4 or 6 (default: IPv4 when both ends have "
      "one)")("json", po::bool_switch(), "print JSON");
  return opts;
}

int run_explain(const Args& args) {
  int rc = kExitUsage;
  auto vm = parse_args("explain", args, &rc);
  if (!vm) return rc;
  const int family = (*vm)["family"].as<int>();
  if (family != 0 && family != 4 && family != 6) {
    std::cerr << "bulkhead explain: --family must be 4 or 6\n";
    return kExitUsage;
  }
  // The port is checked before loading so a typo is reported even when the policies are broken.
  auto port = policy::parse_port_query((*vm)["port"].as<std::string>());
  if (!port.ok()) {
    std::cerr << "bulkhead explain: " << port.error().to_string() << "\n";
    return kExitUsage;
  }
  auto loaded = load_clean_inputs("explain", *vm);
  if (!loaded) return kExitUsage;
  auto query =
      policy::make_flow_query(loaded->inventory->endpoints, (*vm)["from"].as<std::string>(),
                              (*vm)["to"].as<std::string>(), *port, family);
  if (!query.ok()) {
    std::cerr << "bulkhead explain: " << query.error().to_string() << "\n";
    return kExitUsage;
  }
  const auto e = policy::explain(loaded->policies.set, *query);
  std::cout << ((*vm)["json"].as<bool>() ? policy::format_explanation_json(e)
                                         : policy::format_explanation_text(e));
  return e.allowed ? kExitOk : kExitNo;
}

}  // namespace bulkhead::cli
