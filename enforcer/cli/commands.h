// The `bulkhead` command line: one function per subcommand, each returning the exit code
// (0 success, 1 the answer is "no", 2 bad usage or unreadable input; README.md, "The CLI").
#pragma once

#include <string>
#include <vector>

namespace bulkhead::cli {

using Args = std::vector<std::string>;  // the arguments after the subcommand name

int run_lint(const Args& args);
int run_compile(const Args& args);
int run_explain(const Args& args);
int run_graph(const Args& args);
int run_verify(const Args& args);
int run_status(const Args& args);

}  // namespace bulkhead::cli
