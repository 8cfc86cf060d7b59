#include "enforcer/cli/common.h"

#include <filesystem>
#include <iostream>

#include "policy/inspect/lint.h"

namespace bulkhead::cli {

namespace {

std::string usage(const std::string& command) {
  const Command* c = find_command(command);
  return c ? help(*c) : "";
}

}  // namespace

std::optional<po::variables_map> parse_args(const std::string& command, const Args& args,
                                            int* exit_code) {
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::cout << usage(command);
      *exit_code = kExitOk;
      return std::nullopt;
    }
  }
  *exit_code = kExitUsage;
  const Command* c = find_command(command);
  if (!c) return std::nullopt;
  po::options_description all = c->options();
  all.add_options()("paths", po::value<std::vector<std::string>>()->multitoken(), "policy paths");
  po::positional_options_description pos;
  pos.add("paths", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "bulkhead " << command << ": " << e.what() << "\n\n" << usage(command);
    return std::nullopt;
  }
  return vm;
}

bool paths_exist(const std::vector<std::string>& paths) {
  bool ok = true;
  for (const auto& p : paths) {
    std::error_code ec;
    if (!std::filesystem::exists(p, ec)) {
      std::cerr << "bulkhead: " << p << ": No such file or directory\n";
      ok = false;
    }
  }
  return ok;
}

policy::Diagnostics Loaded::all() const {
  policy::Diagnostics d = policies.diagnostics;
  if (inventory) d.insert(d.end(), inventory->diagnostics.begin(), inventory->diagnostics.end());
  return d;
}

std::optional<Loaded> load_inputs(const std::vector<std::string>& paths,
                                  const std::string& inventory_path) {
  std::vector<std::string> check = paths;
  if (!inventory_path.empty()) check.push_back(inventory_path);
  if (!paths_exist(check)) return std::nullopt;
  Loaded l{policy::load_policies(paths), std::nullopt};
  if (!inventory_path.empty()) l.inventory = policy::load_inventory(inventory_path);
  return l;
}

std::optional<Loaded> load_inputs(const std::string& command, const po::variables_map& vm) {
  if (!vm.count("paths")) {
    std::cerr << "bulkhead " << command << ": no policy PATH given\n\n" << usage(command);
    return std::nullopt;
  }
  return load_inputs(vm["paths"].as<std::vector<std::string>>(), vm["inventory"].as<std::string>());
}

std::optional<Loaded> load_clean_inputs(const std::string& command, const po::variables_map& vm) {
  auto loaded = load_inputs(command, vm);
  if (loaded && policy::has_errors(loaded->all())) {
    std::cerr << policy::format_text(loaded->all());
    return std::nullopt;
  }
  return loaded;
}

}  // namespace bulkhead::cli
