// bulkhead lint PATH... [--inventory FILE] [--format text|json|sarif] [--strict]
#include "policy/lint.h"

#include <algorithm>
#include <iostream>

#include "enforcer/cli/common.h"
#include "policy/compile.h"
#include "policy/plan_limits.h"

namespace bulkhead::cli {

int run_lint(const Args& args) {
  po::options_description opts("usage: bulkhead lint PATH... [options]");
  opts.add_options()("inventory", po::value<std::string>()->default_value(""),
                     "inventory file: enables the checks that need endpoints")(
      "format", po::value<std::string>()->default_value("text"), "text, json or sarif")(
      "strict", po::bool_switch(), "warnings make the exit code 1");
  auto vm = parse_args("lint", args, opts);
  if (!vm) return kExitUsage;
  const auto format = (*vm)["format"].as<std::string>();
  if (format != "text" && format != "json" && format != "sarif") {
    std::cerr << "bulkhead lint: --format must be text, json or sarif, not '" << format << "'\n";
    return kExitUsage;
  }
  auto loaded = load_inputs("lint", *vm, opts);
  if (!loaded) return kExitUsage;

  policy::Diagnostics diags = loaded->all();
  // Semantic checks need a model that loaded cleanly; on load errors they would only add noise.
  if (!policy::has_errors(diags)) {
    auto more = policy::lint(loaded->policies.set,
                             loaded->inventory ? &loaded->inventory->endpoints : nullptr);
    diags.insert(diags.end(), more.begin(), more.end());
    // With endpoints known, a plan the daemon would refuse as too large is a lint error too.
    if (loaded->inventory) {
      auto limits = policy::check_plan_limits(
          policy::compile(loaded->policies.set, loaded->inventory->endpoints),
          loaded->inventory->endpoints);
      diags.insert(diags.end(), limits.begin(), limits.end());
    }
  }

  if (format == "json")
    std::cout << policy::format_json(diags);
  else if (format == "sarif")
    std::cout << policy::format_sarif(diags);
  else if (diags.empty())
    std::cout << "no problems found\n";
  else
    std::cout << policy::format_text(diags);

  // A file that could not be read at all is unreadable input (2); problems inside files are the
  // answer "no" (1).
  if (std::any_of(diags.begin(), diags.end(), [](const policy::Diagnostic& d) {
        return d.rule == "unreadable-file" || d.rule == "file-too-large";
      })) {
    return kExitUsage;
  }
  if (policy::has_errors(diags)) return kExitNo;
  if ((*vm)["strict"].as<bool>() && !diags.empty()) return kExitNo;
  return kExitOk;
}

}  // namespace bulkhead::cli
