#include "enforcer/cli/common.h"

#include <filesystem>
#include <iostream>

#include "policy/lint.h"

namespace bulkhead::cli {

std::optional<po::variables_map> parse_args(const std::string& command, const Args& args,
                                            const po::options_description& opts) {
  po::options_description all = opts;
  all.add_options()("paths", po::value<std::vector<std::string>>()->multitoken(), "policy paths");
  po::positional_options_description pos;
  pos.add("paths", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "bulkhead " << command << ": " << e.what() << "\n\n" << opts;
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

std::optional<Loaded> load_inputs(const std::string& command, const po::variables_map& vm,
                                  const po::options_description& opts) {
  if (!vm.count("paths")) {
    std::cerr << "bulkhead " << command << ": no policy PATH given\n\n" << opts;
    return std::nullopt;
  }
  return load_inputs(vm["paths"].as<std::vector<std::string>>(), vm["inventory"].as<std::string>());
}

std::optional<Loaded> load_clean_inputs(const std::string& command, const po::variables_map& vm,
                                        const po::options_description& opts) {
  auto loaded = load_inputs(command, vm, opts);
  if (loaded && policy::has_errors(loaded->all())) {
    std::cerr << policy::format_text(loaded->all());
    return std::nullopt;
  }
  return loaded;
}

}  // namespace bulkhead::cli
