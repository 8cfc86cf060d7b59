// Bandwidth rates (bits per second) and bursts (bytes) as written in policies.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace bulkhead::policy {

// "50mbit", "1gbit", "10M", "1.5Gi", "800000": tc-style bit units (bit, kbit, mbit, gbit, tbit;
// decimal, case-insensitive) or Kubernetes quantities (k/K, M, G, T decimal; Ki, Mi, Gi, Ti
// binary), always bits per second. Byte-rate units ("mbps", "kbps", "MB/s"...) are rejected with
// an explanation. The result must be a whole number of bits per second, at least 1.
Result<uint64_t> parse_rate(std::string_view text);
// Bytes: a plain integer, or b, k/kb (1000), mb (1000000), kib (1024), mib (1048576);
// case-insensitive. At least 1, at most 4 GiB - 1.
Result<uint64_t> parse_burst(std::string_view text);

// tc queues cannot meet a rate with a burst below one full-size frame or below what the rate
// sends in 1 ms (one timer tick at the lowest common HZ resolution used by tbf/htb).
uint64_t min_burst_bytes(uint64_t rate_bits);
// The burst used when a policy names none: max(rate x 5 ms, 16 KiB). Enough for TCP to reach the
// rate (DATAPLANE-NOTES: >= 2 ms needed) while staying far from an unbounded burst.
uint64_t default_burst_bytes(uint64_t rate_bits);

// Short human forms for messages: "50mbit", "1.5gbit", "64kb"... exact or with up to 3 decimals.
std::string format_rate(uint64_t bits_per_second);
std::string format_bytes(uint64_t bytes);

}  // namespace bulkhead::policy
