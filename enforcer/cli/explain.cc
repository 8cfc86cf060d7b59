// bulkhead explain PATH... --inventory FILE --from NAME|ADDR --to NAME|ADDR --port PORT/PROTO
// Offline: the verdict the daemon would enforce for one flow, and why (docs/explain.md).
#include "policy/explain.h"

#include <iostream>

#include "enforcer/cli/common.h"
#include "policy/flow_query.h"
#include "policy/lint.h"

namespace bulkhead::cli {

int run_explain(const Args& args) {
  po::options_description opts(
      "usage: bulkhead explain PATH... --inventory FILE --from NAME|ADDRESS --to NAME|ADDRESS "
      "--port PORT/PROTO [options]");
  opts.add_options()("inventory", po::value<std::string>()->required(), "inventory file")(
      "from", po::value<std::string>()->required(), "sender: endpoint name or IP address")(
      "to", po::value<std::string>()->required(), "receiver: endpoint name or IP address")(
      "port", po::value<std::string>()->required(),
      "8080/tcp, 53/udp, 7777/sctp, icmp, or a named port of the receiver")(
      "family", po::value<int>()->default_value(0),
      "address family of the endpoints' addresses: 4 or 6 (default: IPv4 when both ends have "
      "one)")("json", po::bool_switch(), "print JSON");
  auto vm = parse_args("explain", args, opts);
  if (!vm) return kExitUsage;
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
  auto loaded = load_clean_inputs("explain", *vm, opts);
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
