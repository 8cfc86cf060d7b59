#include "enforcer/daemon/diagnostics.h"

#include "enforcer/log/log.h"

namespace bulkhead::daemon {

void log_diagnostics(const policy::Diagnostics& diags) {
  for (const auto& d : diags) {
    log::write(d.severity == policy::Severity::error ? spdlog::level::err : spdlog::level::warn,
               d.message, {{"pos", d.pos.to_string()}, {"rule", d.rule}});
  }
}

std::string first_error(const policy::Diagnostics& diags) {
  for (const auto& d : diags) {
    if (d.severity != policy::Severity::error) continue;
    const std::string at = d.pos.to_string();
    return (at.empty() ? "" : at + ": ") + d.message + " [" + d.rule + "]";
  }
  return "";
}

}  // namespace bulkhead::daemon
