// The usage text of `bulkhead`, made from the commands' own option tables so it cannot drift.
#include <sstream>

#include "enforcer/cli/commands.h"

namespace bulkhead::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> c = {
      {"lint", "check policies: errors, warnings, rule ids; for CI", true, lint_options, run_lint},
      {"compile", "print the nftables ruleset and tc plan of every endpoint", true, compile_options,
       run_compile},
      {"explain", "may this reach that, and which rules decide", true, explain_options,
       run_explain},
      {"graph", "draw the policies (DOT or SVG)", true, graph_options, run_graph},
      {"verify", "probe every pair of endpoints and compare with the policy", true, verify_options,
       run_verify},
      {"status", "what the running daemon enforces", false, status_options, run_status},
  };
  return c;
}

const Command* find_command(const std::string& name) {
  for (const auto& c : commands())
    if (name == c.name) return &c;
  return nullptr;
}

std::string synopsis(const Command& c) {
  std::string name = c.name;
  name.resize(8, ' ');
  std::string s = "bulkhead " + name + (c.takes_paths ? " PATH..." : "");
  const po::options_description opts = c.options();
  for (const auto& o : opts.options()) {
    std::string item = "--" + o->long_name();
    if (o->semantic()->max_tokens() > 0) {
      // program_options appends " (=DEFAULT)" to the value name; the synopsis shows the name.
      std::string value = o->semantic()->name();
      item += " " + value.substr(0, value.find(" (="));
    }
    s += " " + (o->semantic()->is_required() ? item : "[" + item + "]");
  }
  return s;
}

std::string overview() {
  std::ostringstream out;
  out << "usage: bulkhead COMMAND [ARGS]\n\n";
  for (const auto& c : commands()) out << synopsis(c) << "\n";
  out << "\ncommands:\n";
  for (const auto& c : commands()) {
    std::string name = c.name;
    name.resize(10, ' ');
    out << "  " << name << c.summary << "\n";
  }
  out << "\n`bulkhead COMMAND --help` lists a command's options. Exit codes: 0 success, 1 the\n"
         "answer is no (lint errors, verify mismatches, explain denied), 2 bad usage or\n"
         "unreadable input.\n";
  return out.str();
}

std::string help(const Command& c) {
  std::ostringstream out;
  // The overview aligns the command names; one command's usage line needs no padding.
  std::string s;
  for (char ch : synopsis(c))
    if (ch != ' ' || s.empty() || s.back() != ' ') s += ch;
  out << "usage: " << s << "\n\n" << c.name << ": " << c.summary << "\n\n" << c.options();
  return out.str();
}

}  // namespace bulkhead::cli
