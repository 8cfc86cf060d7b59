// What several subcommands share: option parsing and loading policies plus an inventory.
#pragma once

#include <boost/program_options.hpp>
#include <optional>
#include <string>
#include <vector>

#include "enforcer/cli/commands.h"
#include "policy/load/load.h"
#include "policy/model/endpoint.h"

namespace bulkhead::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitNo = 1;
inline constexpr int kExitUsage = 2;

// Parses `args` against the command's options with PATH... as positional "paths". Returns
// nullopt when the command is done: after --help (printed to stdout, `*exit_code` 0) or after a
// usage error (printed with the command's usage to stderr, `*exit_code` 2).
std::optional<po::variables_map> parse_args(const std::string& command, const Args& args,
                                            int* exit_code);

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
std::optional<Loaded> load_inputs(const std::string& command, const po::variables_map& vm);
// The same for commands that need a model that loaded cleanly: any error among the diagnostics is
// printed and gives nullopt.
std::optional<Loaded> load_clean_inputs(const std::string& command, const po::variables_map& vm);

}  // namespace bulkhead::cli
