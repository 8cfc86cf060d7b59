// bulkhead: lint, compile, verify policies and query the daemon. Thin main over enforcer/cli*.
#include <iostream>
#include <string>

#include "enforcer/cli/commands.h"

int main(int argc, char** argv) {
  namespace cli = bulkhead::cli;
  if (argc < 2) {
    std::cerr << cli::overview();
    return 2;
  }
  const std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    // `bulkhead help lint` is `bulkhead lint --help`.
    const cli::Command* c = argc > 2 ? cli::find_command(argv[2]) : nullptr;
    std::cout << (c ? cli::help(*c) : cli::overview());
    return 0;
  }
  const cli::Command* c = cli::find_command(cmd);
  if (!c) {
    std::cerr << "bulkhead: unknown command '" << cmd << "'\n\n" << cli::overview();
    return 2;
  }
  try {
    return c->run(cli::Args(argv + 2, argv + argc));
  } catch (const std::exception& e) {
    // Library code returns errors as values; this only guards against a bug turning into abort().
    std::cerr << "bulkhead " << cmd << ": internal error: " << e.what() << "\n";
    return 2;
  }
}
