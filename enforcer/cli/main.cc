// bulkhead: lint, compile, verify policies and query the daemon. Thin main over enforcer/cli*.
#include <iostream>
#include <map>
#include <string>

#include "enforcer/cli/commands.h"

namespace {

constexpr const char* kUsage =
    "usage: bulkhead COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  lint     PATH... [--inventory FILE] [--format text|json|sarif] [--strict]\n"
    "  compile  PATH... --inventory FILE [--endpoint NAME]\n"
    "  explain  PATH... --inventory FILE --from NAME --to NAME --port PORT/PROTO [--json]\n"
    "  graph    PATH... [--inventory FILE] [--format dot|svg]\n"
    "  verify   PATH... --inventory FILE [--ports LIST] [--expected-only]\n"
    "  status   [--status-socket PATH] [--json] [--drops]\n"
    "\n"
    "Exit codes: 0 success, 1 the answer is no (lint errors, verify mismatches, explain\n"
    "denied), 2 bad usage.\n";

}  // namespace

int main(int argc, char** argv) {
  using Run = int (*)(const bulkhead::cli::Args&);
  const std::map<std::string, Run> commands = {
      {"lint", bulkhead::cli::run_lint},       {"compile", bulkhead::cli::run_compile},
      {"explain", bulkhead::cli::run_explain}, {"graph", bulkhead::cli::run_graph},
      {"verify", bulkhead::cli::run_verify},   {"status", bulkhead::cli::run_status},
  };
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::cout << kUsage;
    return 0;
  }
  auto it = commands.find(cmd);
  if (it == commands.end()) {
    std::cerr << "bulkhead: unknown command '" << cmd << "'\n\n" << kUsage;
    return 2;
  }
  try {
    return it->second(bulkhead::cli::Args(argv + 2, argv + argc));
  } catch (const std::exception& e) {
    // Library code returns errors as values; this only guards against a bug turning into abort().
    std::cerr << "bulkhead " << cmd << ": internal error: " << e.what() << "\n";
    return 2;
  }
}
