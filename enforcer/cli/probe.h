// Real connectivity probes between network namespaces, for `bulkhead verify`.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "policy/model/address.h"
#include "policy/model/model.h"

namespace bulkhead::probe {

struct Probe {
  std::string from_netns;  // namespace path the probe starts in
  policy::IpAddr to;
  policy::Protocol proto = policy::Protocol::tcp;  // tcp, udp or icmp (echo)
  uint16_t port = 0;
};

enum class Outcome {
  reached,  // the destination's stack answered: connected, refused, an answer or port-unreachable
  blocked,  // nothing came back in time, or the local stack refused to send (EPERM)
  error,    // the probe could not run (namespace missing, socket failure)
};

struct Result {
  Outcome outcome = Outcome::error;
  std::string detail;  // e.g. "connected", "refused", "timeout", "EPERM", the error text
};

// Runs every probe, `parallel` at a time, each bounded by `timeout`. Results are in input order.
std::vector<Result> run(const std::vector<Probe>& probes, std::chrono::milliseconds timeout,
                        int parallel);

}  // namespace bulkhead::probe
