#include "enforcer/hook/hook_config.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "enforcer/hook/atomic_file.h"

namespace bulkhead::hook {
namespace {

// The runtime entry; hook options reach bulkhead-hook through the wrapper's --hook-arg.
nlohmann::json docker_runtime(const std::string& runtime_path,
                              const std::vector<std::string>& hook_args) {
  nlohmann::json rt = {{"path", runtime_path}};
  if (!hook_args.empty()) {
    std::vector<std::string> args;
    for (const auto& a : hook_args) args.push_back("--hook-arg=" + a);
    rt["runtimeArgs"] = args;
  }
  return rt;
}

nlohmann::json docker_json(const std::string& runtime_path,
                           const std::vector<std::string>& hook_args) {
  return {{"runtimes", {{"bulkhead", docker_runtime(runtime_path, hook_args)}}},
          {"default-runtime", "bulkhead"}};
}

int install_docker(const std::string& path, const std::string& runtime_path,
                   const std::vector<std::string>& hook_args) {
  nlohmann::json current = nlohmann::json::object();
  if (auto text = read_file(path, 1 << 20); text) {
    current = nlohmann::json::parse(*text, nullptr, false);
    if (current.is_discarded() || !current.is_object()) {
      std::fprintf(stderr, "%s: not a JSON object; left unchanged\n", path.c_str());
      return 1;
    }
  } else if (text.error().code != ENOENT) {
    std::fprintf(stderr, "%s\n", text.error().to_string().c_str());
    return 1;
  }
  // Only our keys change; other runtimes and settings stay.
  current["runtimes"]["bulkhead"] = docker_runtime(runtime_path, hook_args);
  current["default-runtime"] = "bulkhead";
  if (auto s = write_file_atomic(path, current.dump(2) + "\n"); !s) {
    std::fprintf(stderr, "%s\n", s.error().to_string().c_str());
    return 1;
  }
  std::printf("installed in %s; restart dockerd to use it\n", path.c_str());
  return 0;
}

}  // namespace

std::string docker_config(const std::string& runtime_path,
                          const std::vector<std::string>& hook_args) {
  return docker_json(runtime_path, hook_args).dump(2) + "\n";
}

std::string podman_hook_json(const std::string& hook_path,
                             const std::vector<std::string>& hook_args) {
  std::vector<std::string> args = {"bulkhead-hook", "--engine", "podman"};
  args.insert(args.end(), hook_args.begin(), hook_args.end());
  const nlohmann::json j = {{"version", "1.0.0"},
                            {"hook", {{"path", hook_path}, {"args", args}}},
                            {"when", {{"always", true}}},
                            {"stages", {"createRuntime"}}};
  return j.dump(2) + "\n";
}

int run_config(const std::vector<std::string>& args) {
  std::string engine, install, hook = self_dir() + "/bulkhead-hook",
                               runtime = self_dir() + "/bulkhead-runtime";
  std::vector<std::string> hook_args;
  bool do_install = false;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool has_value = i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0;
    if (a == "docker" || a == "podman") {
      engine = a;
    } else if (a == "--install") {
      do_install = true;
      if (has_value) install = args[++i];
    } else if (a == "--hook" && has_value) {
      hook = args[++i];
    } else if (a.rfind("--hook-arg=", 0) == 0) {
      hook_args.push_back(a.substr(11));
    } else if (a == "--runtime" && has_value) {
      runtime = args[++i];
    } else {
      engine.clear();
      break;
    }
  }
  if (engine.empty()) {
    std::fprintf(stderr,
                 "usage: bulkhead-hook config docker|podman [--install [PATH]] [--hook PATH] "
                 "[--runtime PATH] [--hook-arg=ARG]...\n");
    return 2;
  }
  if (engine == "docker") {
    if (!do_install) {
      std::fputs(docker_config(runtime, hook_args).c_str(), stdout);
      return 0;
    }
    return install_docker(install.empty() ? "/etc/docker/daemon.json" : install, runtime,
                          hook_args);
  }
  const std::string text = podman_hook_json(hook, hook_args);
  if (!do_install) {
    std::fputs(text.c_str(), stdout);
    return 0;
  }
  const std::string file =
      (install.empty() ? "/usr/share/containers/oci/hooks.d" : install) + "/bulkhead.json";
  if (auto s = write_file_atomic(file, text); !s) {
    std::fprintf(stderr, "%s\n", s.error().to_string().c_str());
    return 1;
  }
  std::printf("installed %s\n", file.c_str());
  return 0;
}

}  // namespace bulkhead::hook
