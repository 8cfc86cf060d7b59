// bulkhead compile PATH... --inventory FILE [--endpoint NAME]
#include "policy/plan/compile.h"

#include <iostream>

#include "enforcer/cli/common.h"
#include "policy/inspect/lint.h"
#include "policy/plan/plan_limits.h"
#include "policy/plan/render.h"

namespace bulkhead::cli {

po::options_description compile_options() {
  po::options_description opts("options");
  opts.add_options()("inventory", po::value<std::string>()->required()->value_name("FILE"),
                     "inventory file")(
      "endpoint", po::value<std::string>()->default_value("")->value_name("NAME"),
      "print only this endpoint");
  return opts;
}

int run_compile(const Args& args) {
  int rc = kExitUsage;
  auto vm = parse_args("compile", args, &rc);
  if (!vm) return rc;
  auto loaded = load_clean_inputs("compile", *vm);
  if (!loaded) return kExitUsage;

  const auto plan = policy::compile(loaded->policies.set, loaded->inventory->endpoints);
  if (const auto refused = policy::check_plan_limits(plan, loaded->inventory->endpoints);
      !refused.empty()) {
    std::cerr << policy::format_text(refused);
    return kExitUsage;
  }
  const auto only = (*vm)["endpoint"].as<std::string>();
  bool found = only.empty();
  for (const auto& ep : plan.endpoints) {
    if (!only.empty() && ep.endpoint != only) continue;
    found = true;
    std::cout << policy::render_endpoint(ep);
  }
  if (!found) {
    std::cerr << "bulkhead compile: no endpoint named '" << only << "' in the inventory\n";
    return kExitUsage;
  }
  return kExitOk;
}

}  // namespace bulkhead::cli
