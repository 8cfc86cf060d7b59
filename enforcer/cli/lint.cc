// bulkhead lint PATH... [--inventory FILE] [--format text|json|sarif] [--strict] [--ignore RULES]
#include "policy/inspect/lint.h"

#include <algorithm>
#include <iostream>
#include <set>
#include <sstream>

#include "enforcer/cli/common.h"
#include "policy/model/rules.h"
#include "policy/plan/compile.h"
#include "policy/plan/plan_limits.h"

namespace bulkhead::cli {
namespace {

// --ignore RULE[,RULE] (repeatable): every id must be a rule that can be silenced.
std::optional<std::vector<std::string>> ignored_rules(const std::vector<std::string>& args) {
  std::vector<std::string> ids;
  for (const auto& arg : args) {
    std::stringstream list(arg);
    std::string id;
    while (std::getline(list, id, ',')) {
      if (id.empty()) continue;
      const policy::RuleInfo* rule = policy::find_rule(id);
      if (!rule) {
        auto hint = policy::closest_silenceable_rule(id);
        std::cerr << "bulkhead lint: --ignore: unknown rule '" << id << "'"
                  << (hint ? "; did you mean '" + *hint + "'?" : " (docs/lint.md lists them)")
                  << "\n";
        return std::nullopt;
      }
      if (!policy::silenceable(*rule)) {
        std::cerr << "bulkhead lint: --ignore: rule '" << id
                  << "' reports errors, which cannot be silenced\n";
        return std::nullopt;
      }
      ids.push_back(id);
    }
  }
  return ids;
}

// With load errors the model is partial: semantic warnings are kept only for files that loaded
// without an error, where they mean what they say.
// A broken inventory is read only in part: the checks that need endpoints wait for a clean one.
policy::Diagnostics semantic_checks(const Loaded& loaded, const policy::Diagnostics& load_diags) {
  const policy::Endpoints* inventory =
      loaded.inventory && !policy::has_errors(loaded.inventory->diagnostics)
          ? &loaded.inventory->endpoints
          : nullptr;
  policy::Diagnostics found = policy::lint(loaded.policies.set, inventory);
  if (!policy::has_errors(load_diags)) {
    // With endpoints known, a plan the daemon would refuse as too large is a lint error too.
    if (inventory) {
      auto limits =
          policy::check_plan_limits(policy::compile(loaded.policies.set, *inventory), *inventory);
      found.insert(found.end(), limits.begin(), limits.end());
    }
    return found;
  }
  std::set<std::string> broken;
  for (const auto& d : load_diags)
    if (d.severity == policy::Severity::error) broken.insert(d.pos.file);
  std::erase_if(found, [&](const policy::Diagnostic& d) { return broken.count(d.pos.file) > 0; });
  return found;
}

std::string plural(size_t n, const std::string& what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

// "1 error, 2 warnings (1 silenced), 52 documents of other kinds skipped"
std::string summary(const policy::Diagnostics& diags) {
  size_t errors = 0, warnings = 0, silenced = 0, notes = 0;
  for (const auto& d : diags) {
    if (d.suppressed != policy::Suppression::none) {
      ++silenced;
    } else if (d.severity == policy::Severity::error) {
      ++errors;
    } else if (d.severity == policy::Severity::warning) {
      ++warnings;
    } else {
      ++notes;
    }
  }
  std::string s = errors + warnings == 0
                      ? "no problems found"
                      : plural(errors, "error") + ", " + plural(warnings, "warning");
  if (silenced) s += ", " + std::to_string(silenced) + " silenced";
  if (notes) s += ", " + plural(notes, "note");
  return s + "\n";
}

}  // namespace

po::options_description lint_options() {
  po::options_description opts("options");
  opts.add_options()("inventory", po::value<std::string>()->default_value("")->value_name("FILE"),
                     "inventory file: enables the checks that need endpoints")(
      "format", po::value<std::string>()->default_value("text")->value_name("text|json|sarif"),
      "text, json or sarif (SARIF 2.1.0)")("strict", po::bool_switch(),
                                           "warnings that are not silenced make the exit code 1")(
      "ignore", po::value<std::vector<std::string>>()->composing()->value_name("RULE[,RULE]"),
      "silence these warning rules for this run (repeatable); JSON and SARIF still list their "
      "findings, marked suppressed (docs/lint.md)");
  return opts;
}

int run_lint(const Args& args) {
  int rc = kExitUsage;
  auto vm = parse_args("lint", args, &rc);
  if (!vm) return rc;
  const auto format = (*vm)["format"].as<std::string>();
  if (format != "text" && format != "json" && format != "sarif") {
    std::cerr << "bulkhead lint: --format must be text, json or sarif, not '" << format << "'\n";
    return kExitUsage;
  }
  auto ignores = ignored_rules(vm->count("ignore") ? (*vm)["ignore"].as<std::vector<std::string>>()
                                                   : std::vector<std::string>{});
  if (!ignores) return kExitUsage;
  auto loaded = load_inputs("lint", *vm);
  if (!loaded) return kExitUsage;

  policy::Diagnostics diags = loaded->all();
  auto semantic = semantic_checks(*loaded, diags);
  diags.insert(diags.end(), semantic.begin(), semantic.end());
  auto notes = policy::skipped_notes(loaded->policies.skipped);
  diags.insert(diags.end(), notes.begin(), notes.end());
  policy::apply_suppressions(diags, loaded->policies.set, *ignores);

  if (format == "json") {
    std::cout << policy::format_json(diags);
  } else if (format == "sarif") {
    std::cout << policy::format_sarif(diags);
  } else {
    std::cout << policy::format_text(diags) << summary(diags);
  }

  // A file that could not be read at all is unreadable input (2); problems inside files are the
  // answer "no" (1).
  if (std::any_of(diags.begin(), diags.end(), [](const policy::Diagnostic& d) {
        return d.rule == "unreadable-file" || d.rule == "file-too-large";
      })) {
    return kExitUsage;
  }
  if (policy::has_errors(diags)) return kExitNo;
  if ((*vm)["strict"].as<bool>() && policy::has_live_warnings(diags)) return kExitNo;
  return kExitOk;
}

}  // namespace bulkhead::cli
