// The `bulkhead` command line: one function per subcommand, each returning the exit code
// (0 success, 1 the answer is "no", 2 bad usage or unreadable input; README.md, "The CLI").
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

namespace bulkhead::cli {

namespace po = boost::program_options;

using Args = std::vector<std::string>;  // the arguments after the subcommand name

int run_lint(const Args& args);
int run_compile(const Args& args);
int run_explain(const Args& args);
int run_graph(const Args& args);
int run_verify(const Args& args);
int run_status(const Args& args);

// Each command's options, which are also its usage text: the synopsis in `bulkhead --help`, in
// `bulkhead COMMAND --help`, in usage errors and in the README are all made from them
// (tests/scripts/cli_help.sh holds the README to it).
po::options_description lint_options();
po::options_description compile_options();
po::options_description explain_options();
po::options_description graph_options();
po::options_description verify_options();
po::options_description status_options();

struct Command {
  const char* name;
  const char* summary;  // one line
  bool takes_paths;     // PATH... before the options
  po::options_description (*options)();
  int (*run)(const Args& args);
};

const std::vector<Command>& commands();
const Command* find_command(const std::string& name);
// "bulkhead lint     PATH... [--inventory FILE] [--format text|json|sarif] ...": required options
// bare, optional ones in brackets, in the order the command declares them.
std::string synopsis(const Command& c);
std::string overview();              // `bulkhead --help`
std::string help(const Command& c);  // `bulkhead COMMAND --help`

}  // namespace bulkhead::cli
