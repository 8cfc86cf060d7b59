// What several subcommands share: option parsing and loading policies plus an inventory.
#pragma once

#include <boost/program_options.hpp>
#include <optional>
#include <string>
#include <vector>

#include "enforcer/cli/commands.h"
#include "policy/endpoint.h"
#include "policy/load.h"

namespace bulkhead::cli {

namespace po = boost::program_options;

inline constexpr int kExitOk = 0;
inline constexpr int kExitNo = 1;
inline constexpr int kExitUsage = 2;

// Parses `args` against `opts` with PATH... as positional "paths". On a usage error prints it
// with the command's usage line to stderr and returns nullopt.
std::optional<po::variables_map> parse_args(const std::string& command, const Args& args,
                                            const po::options_description& opts);

// Every path must exist; prints "bulkhead: PATH: No such file or directory" for each that does not.
bool paths_exist(const std::vector<std::string>& paths);

struct Loaded {
  policy::PolicyLoad policies;
  std::optional<policy::InventoryLoad> inventory;
  policy::Diagnostics all() const;  // policy and inventory diagnostics together
};

// Loads PATH... and, when given, the inventory. Returns nullopt (after printing) when a path is
// missing.
std::optional<Loaded> load_inputs(const std::vector<std::string>& paths,
                                  const std::string& inventory_path);

// The command's PATH... (at least one, else the usage is printed) and its --inventory, loaded.
std::optional<Loaded> load_inputs(const std::string& command, const po::variables_map& vm,
                                  const po::options_description& opts);
// The same for commands that need a model that loaded cleanly: any error among the diagnostics is
// printed and gives nullopt.
std::optional<Loaded> load_clean_inputs(const std::string& command, const po::variables_map& vm,
                                        const po::options_description& opts);

}  // namespace bulkhead::cli
