#include "enforcer/hook/oci_state.h"

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>

namespace bulkhead::hook {

bool valid_pid(long long pid) { return pid >= 1 && pid <= kMaxPid; }

Result<OciState> parse_oci_state(std::string_view text) {
  const std::string op = "read OCI state";
  if (text.size() > kMaxStateBytes)
    return make_error(op, "more than " + std::to_string(kMaxStateBytes) + " bytes");
  // No exceptions: a parse failure is a discarded value; depth is bounded by the size limit.
  const auto j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) return make_error(op, "not JSON");
  if (!j.is_object()) return make_error(op, "not a JSON object");
  OciState st;
  const auto id = j.find("id");
  if (id == j.end() || !id->is_string()) return make_error(op, "no string \"id\"");
  st.id = id->get<std::string>();
  if (!valid_container_id(st.id)) return make_error(op, "\"id\" is not 1..128 of [A-Za-z0-9_.-]");
  const auto pid = j.find("pid");
  if (pid == j.end() || !pid->is_number_integer()) return make_error(op, "no integer \"pid\"");
  const long long p =
      pid->is_number_unsigned()
          ? static_cast<long long>(std::min<uint64_t>(pid->get<uint64_t>(), uint64_t{1} << 40))
          : pid->get<long long>();
  if (!valid_pid(p)) return make_error(op, "\"pid\" is not in 1..4194304");
  st.pid = static_cast<int>(p);
  const auto bundle = j.find("bundle");
  if (bundle != j.end() && bundle->is_string()) st.bundle = bundle->get<std::string>();
  return st;
}

}  // namespace bulkhead::hook
