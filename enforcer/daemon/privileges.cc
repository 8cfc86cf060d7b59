#include "enforcer/daemon/privileges.h"

#include <cap-ng.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "enforcer/daemon/metrics.h"

namespace bulkhead::daemon {

std::vector<int> needed_capabilities(const Options& opts) {
  std::vector<int> caps = {CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_SYS_PTRACE};
  if (!opts.metrics_listen.empty()) {
    const std::string addr = metrics_bind_address(opts.metrics_listen);
    const std::string port = addr.substr(addr.rfind(':') + 1);
    char* end = nullptr;
    long n = std::strtol(port.c_str(), &end, 10);
    if (end != port.c_str() && n > 0 && n < 1024) caps.push_back(CAP_NET_BIND_SERVICE);
  }
  return caps;
}

std::string capability_names(const std::vector<int>& caps) {
  std::string out;
  for (int c : caps) {
    const char* n = capng_capability_to_name(static_cast<unsigned>(c));
    if (!out.empty()) out += ",";
    out += std::string("cap_") + (n ? n : std::to_string(c).c_str());
  }
  return out;
}

Result<gid_t> resolve_group(const std::string& name) {
  char* end = nullptr;
  unsigned long n = std::strtoul(name.c_str(), &end, 10);
  if (!name.empty() && *end == '\0') return static_cast<gid_t>(n);
  std::vector<char> buf(16384);
  group gr{};
  group* found = nullptr;
  int rc = ::getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found);
  if (rc != 0 || found == nullptr) return make_error("--status-group " + name, "no such group", rc);
  return found->gr_gid;
}

Status join_group(gid_t gid) {
  int n = ::getgroups(0, nullptr);
  if (n < 0) return make_error("join group " + std::to_string(gid), "getgroups", errno);
  std::vector<gid_t> groups(static_cast<size_t>(n));
  if (::getgroups(n, groups.data()) < 0)
    return make_error("join group " + std::to_string(gid), "getgroups", errno);
  for (gid_t g : groups)
    if (g == gid) return {};
  groups.push_back(gid);
  if (::setgroups(groups.size(), groups.data()) != 0)
    return make_error("join group " + std::to_string(gid), "setgroups", errno);
  return {};
}

Status drop_capabilities(const std::vector<int>& keep) {
  capng_get_caps_process();
  if (capng_have_capabilities(CAPNG_SELECT_CAPS) == CAPNG_NONE) return {};
  std::vector<int> held;
  for (int c : keep)
    if (capng_have_capability(CAPNG_PERMITTED, static_cast<unsigned>(c))) held.push_back(c);
  // Dropping the bounding set needs CAP_SETPCAP, which capng_apply still has when it does that
  // first and the capability sets afterwards.
  capng_clear(CAPNG_SELECT_ALL);
  for (int c : held)
    capng_update(CAPNG_ADD,
                 static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET),
                 static_cast<unsigned>(c));
  if (int rc = capng_apply(CAPNG_SELECT_ALL); rc != 0)
    return make_error("drop capabilities", "capng_apply failed (" + std::to_string(rc) + ")",
                      errno);
  // The daemon never executes anything; make sure nothing it could be tricked into running gains
  // privileges either.
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return make_error("drop capabilities", "PR_SET_NO_NEW_PRIVS", errno);
  return {};
}

}  // namespace bulkhead::daemon
