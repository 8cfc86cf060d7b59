#include "enforcer/hook/runc_args.h"

namespace bulkhead::hook {
namespace {

// runc's global options that take a separate value (runc 1.1 `runc --help`).
bool global_takes_value(const std::string& a) {
  return a == "--root" || a == "--log" || a == "--log-format" || a == "--criu" || a == "--rootless";
}

}  // namespace

RuncCommand parse_runc_args(const std::vector<std::string>& args) {
  RuncCommand rc;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.empty() || a[0] != '-') break;
    if (a == "--") {
      ++i;
      break;
    }
    if (a.find('=') == std::string::npos && global_takes_value(a)) ++i;
  }
  if (i >= args.size()) return rc;
  rc.command = args[i];
  if (rc.command != "create" && rc.command != "run") return rc;
  for (size_t j = i + 1; j < args.size(); ++j) {
    const std::string& a = args[j];
    if (a == "--") break;
    if ((a == "--bundle" || a == "-b") && j + 1 < args.size()) {
      rc.bundle = args[j + 1];
      ++j;
    } else if (a.rfind("--bundle=", 0) == 0) {
      rc.bundle = a.substr(9);
    } else if (a.rfind("-b=", 0) == 0) {
      rc.bundle = a.substr(3);
    }
  }
  return rc;
}

}  // namespace bulkhead::hook
