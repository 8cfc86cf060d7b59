// bulkhead-runtime: an OCI runtime wrapper for Docker (`dockerd --add-runtime
// bulkhead=PATH [--default-runtime bulkhead]`). For `create` and `run` it adds bulkhead-hook to the
// bundle's config.json after the engine's own network hook, then execs runc with the same
// arguments; every other command is exec'd untouched, so output and exit codes are runc's.
//
//   bulkhead-runtime [--runtime-path RUNC] [--hook-path HOOK] [--hook-arg ARG]... RUNC-ARGS...
// The wrapper's own options come first (daemon.json `runtimeArgs`); RUNC defaults to
// $BULKHEAD_RUNC, else `runc` in PATH; HOOK to bulkhead-hook beside this binary.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "enforcer/hook/atomic_file.h"
#include "enforcer/hook/bundle_config.h"
#include "enforcer/hook/runc_args.h"

namespace bulkhead::hook {
namespace {

struct Wrapper {
  std::string runc;
  HookEntry hook;
  std::vector<std::string> runc_args;
};

Wrapper parse_wrapper(int argc, char** argv) {
  Wrapper w;
  const char* env = std::getenv("BULKHEAD_RUNC");
  w.runc = env && *env ? env : "runc";
  w.hook.path = self_dir() + "/bulkhead-hook";
  std::vector<std::string> hook_args;
  int i = 1;
  auto value = [&](const char* name, std::string& out) {
    const std::string a = argv[i];
    const std::string eq = std::string(name) + "=";
    if (a == name && i + 1 < argc) {
      out = argv[++i];
      return true;
    }
    if (a.rfind(eq, 0) == 0) {
      out = a.substr(eq.size());
      return true;
    }
    return false;
  };
  for (; i < argc; ++i) {
    std::string v;
    if (value("--runtime-path", w.runc)) continue;
    if (value("--hook-path", w.hook.path)) continue;
    if (value("--hook-arg", v)) {
      hook_args.push_back(v);
      continue;
    }
    break;
  }
  w.hook.args = {"bulkhead-hook", "--engine", "docker"};
  w.hook.args.insert(w.hook.args.end(), hook_args.begin(), hook_args.end());
  w.runc_args.assign(argv + i, argv + argc);
  return w;
}

// Without the hook the container would start unenforced: a failure here fails the create.
bool add_hook(const std::string& bundle, const HookEntry& hook) {
  const std::string path = bundle + "/config.json";
  auto text = read_file(path, 16 << 20);
  if (!text) {
    std::fprintf(stderr, "bulkhead-runtime: %s\n", text.error().to_string().c_str());
    return false;
  }
  auto updated = add_prestart_hook(*text, hook);
  if (!updated) {
    std::fprintf(stderr, "bulkhead-runtime: %s: %s\n", path.c_str(),
                 updated.error().to_string().c_str());
    return false;
  }
  if (*updated == *text) return true;
  if (auto s = write_file_atomic(path, *updated); !s) {
    std::fprintf(stderr, "bulkhead-runtime: %s\n", s.error().to_string().c_str());
    return false;
  }
  return true;
}

[[noreturn]] void exec_runc(const Wrapper& w) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(w.runc.c_str()));
  for (const auto& a : w.runc_args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execvp(w.runc.c_str(), argv.data());
  std::fprintf(stderr, "bulkhead-runtime: exec %s: %s\n", w.runc.c_str(), std::strerror(errno));
  std::_Exit(127);
}

}  // namespace
}  // namespace bulkhead::hook

int main(int argc, char** argv) {
  using namespace bulkhead::hook;
  const Wrapper w = parse_wrapper(argc, argv);
  const RuncCommand rc = parse_runc_args(w.runc_args);
  if (rc.command == "create" || rc.command == "run") {
    if (!add_hook(rc.bundle.value_or("."), w.hook)) return 1;
  }
  exec_runc(w);
}
