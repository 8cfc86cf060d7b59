// bulkhead graph PATH... [--inventory FILE] [--format dot|svg]: the policies as a picture.
#include "policy/inspect/graph.h"

#include <iostream>

#include "enforcer/cli/common.h"
#include "enforcer/cli/graph_svg.h"
#include "policy/inspect/lint.h"

namespace bulkhead::cli {

po::options_description graph_options() {
  po::options_description opts("options");
  opts.add_options()("inventory", po::value<std::string>()->default_value("")->value_name("FILE"),
                     "inventory file: show how many endpoints each node selects")(
      "format", po::value<std::string>()->default_value("dot")->value_name("dot|svg"),
      "dot (Graphviz text) or svg (rendered in-process)");
  return opts;
}

int run_graph(const Args& args) {
  int rc = kExitUsage;
  auto vm = parse_args("graph", args, &rc);
  if (!vm) return rc;
  const auto format = (*vm)["format"].as<std::string>();
  if (format != "dot" && format != "svg") {
    std::cerr << "bulkhead graph: --format must be dot or svg, not '" << format << "'\n";
    return kExitUsage;
  }
  auto loaded = load_clean_inputs("graph", *vm);
  if (!loaded) return kExitUsage;
  const std::string dot = policy::render_graph_dot(
      loaded->policies.set, loaded->inventory ? &loaded->inventory->endpoints : nullptr);
  if (format == "dot") {
    std::cout << dot;
    return kExitOk;
  }
  auto svg = render_svg(dot);
  if (!svg.ok()) {
    std::cerr << "bulkhead graph: " << svg.error().to_string() << "\n";
    return kExitUsage;
  }
  std::cout << *svg;
  return kExitOk;
}

}  // namespace bulkhead::cli
