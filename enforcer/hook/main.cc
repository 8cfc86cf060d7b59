// bulkhead-hook: the OCI hook that makes a container born enforced (HOOK-PROTOCOL.md,
// docs/security.md). The runtime runs it after the engine configured the container's network and
// before the container's process starts; it asks bulkheadd and waits, bounded, and when the
// daemon is not there applies the failure mode.
//
//   bulkhead-hook [--socket PATH] [--timeout MS] [--on-failure quarantine|refuse|allow]
//                 [--engine docker|podman|oci]      (state on stdin)
//   bulkhead-hook config docker|podman [--install [PATH]] [--hook PATH] [--runtime PATH]
//                 [--hook-arg=ARG]...
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "enforcer/hook/daemon_client.h"
#include "enforcer/hook/hook_config.h"
#include "enforcer/hook/oci_state.h"
#include "enforcer/hook/quarantine_apply.h"

namespace bulkhead::hook {
namespace {

enum class OnFailure { quarantine, refuse, allow };

struct Options {
  std::string socket = "/run/bulkhead/hook.sock";
  int timeout_ms = 3000;
  OnFailure on_failure = OnFailure::quarantine;
  std::string engine = "oci";
};

void logline(const std::string& msg) { std::fprintf(stderr, "bulkhead-hook: %s\n", msg.c_str()); }

int usage() {
  std::fprintf(stderr,
               "usage: bulkhead-hook [--socket PATH] [--timeout MS] "
               "[--on-failure quarantine|refuse|allow] [--engine docker|podman|oci] < state\n"
               "       bulkhead-hook config docker|podman [--install [PATH]] [--hook PATH] "
               "[--runtime PATH] [--hook-arg=ARG]...\n");
  return 2;
}

// "--name value" or "--name=value".
bool take(const std::vector<std::string>& a, size_t& i, const std::string& name, std::string& out) {
  if (a[i] == name && i + 1 < a.size()) {
    out = a[++i];
    return true;
  }
  if (a[i].rfind(name + "=", 0) == 0) {
    out = a[i].substr(name.size() + 1);
    return true;
  }
  return false;
}

bool parse_options(const std::vector<std::string>& a, Options& o) {
  for (size_t i = 0; i < a.size(); ++i) {
    std::string v;
    if (take(a, i, "--socket", o.socket)) continue;
    if (take(a, i, "--engine", o.engine)) {
      if (o.engine != "docker" && o.engine != "podman" && o.engine != "oci") return false;
      continue;
    }
    if (take(a, i, "--timeout", v)) {
      char* end = nullptr;
      const long ms = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || ms < 1 || ms > 60000) return false;
      o.timeout_ms = static_cast<int>(ms);
      continue;
    }
    if (take(a, i, "--on-failure", v)) {
      if (v == "quarantine")
        o.on_failure = OnFailure::quarantine;
      else if (v == "refuse")
        o.on_failure = OnFailure::refuse;
      else if (v == "allow")
        o.on_failure = OnFailure::allow;
      else
        return false;
      continue;
    }
    return false;
  }
  return true;
}

// Reads at most kMaxStateBytes + 1 bytes, so an endless stdin cannot hold the start.
std::string read_state() {
  std::string text;
  char buf[4096];
  while (text.size() <= kMaxStateBytes) {
    const ssize_t n = ::read(0, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

// The daemon is not there (or the input is bad): apply the configured failure mode.
int fail(const Options& o, const Result<OciState>& st, const std::string& why) {
  switch (o.on_failure) {
    case OnFailure::allow:
      logline("ALLOWED UNENFORCED (on-failure allow): " + why);
      return 0;
    case OnFailure::refuse:
      logline("refusing the start (on-failure refuse): " + why);
      return 1;
    case OnFailure::quarantine:
      break;
  }
  // Without a process id there is no namespace to quarantine: refusing is the closed choice.
  if (!st) {
    logline("refusing the start: cannot quarantine: " + why);
    return 1;
  }
  if (auto s = install_quarantine(st->pid); !s) {
    logline("refusing the start: quarantine of " + st->id + " failed: " + s.error().to_string() +
            " (after: " + why + ")");
    return 1;
  }
  logline("container " + st->id + " started quarantined: " + why);
  return 0;
}

int run_hook(const Options& o) {
  const Result<OciState> st = parse_oci_state(read_state());
  if (!st) return fail(o, st, st.error().to_string());
  auto answer = ask_daemon(o.socket, *st, o.engine, std::chrono::milliseconds(o.timeout_ms));
  if (!answer) return fail(o, st, "bulkheadd not there: " + answer.error().to_string());
  if (answer->verdict == Verdict::kRefused)
    return fail(o, st, "bulkheadd refused: " + answer->reason);
  return 0;
}

}  // namespace
}  // namespace bulkhead::hook

int main(int argc, char** argv) {
  using namespace bulkhead::hook;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "config") return run_config(args);
  Options o;
  if (!parse_options(args, o)) return usage();
  return run_hook(o);
}
