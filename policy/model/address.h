// IPv4/IPv6 addresses, CIDRs and inclusive address ranges: plain values, no sockets.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bulkhead::policy {

struct IpAddr {
  int family = 4;                   // 4 or 6
  std::array<uint8_t, 16> bytes{};  // network order; IPv4 uses the first 4 bytes
  static std::optional<IpAddr> parse(std::string_view text);
  std::string to_string() const;
  int bits() const { return family == 4 ? 32 : 128; }
  auto operator<=>(const IpAddr&) const = default;
};

struct Cidr {
  IpAddr addr;  // host bits cleared
  int prefix = 0;
  // Accepts "a.b.c.d/n", "x::/n" and a bare address (a /32 or /128). Rejects host bits set? No:
  // they are cleared, and lint warns about it.
  static std::optional<Cidr> parse(std::string_view text);
  std::string to_string() const;
  bool contains(const IpAddr& a) const;
  bool contains(const Cidr& c) const;
  IpAddr first() const;
  IpAddr last() const;
  auto operator<=>(const Cidr&) const = default;
};

// Inclusive range [first, last] of one family.
struct AddrRange {
  IpAddr first;
  IpAddr last;
  auto operator<=>(const AddrRange&) const = default;
};

// Sorts, merges overlapping and adjacent ranges (per family). The result is what an nftables
// interval set needs: non-overlapping, ascending.
std::vector<AddrRange> normalize_ranges(std::vector<AddrRange> ranges);
// `base` minus every range in `holes`, normalized.
std::vector<AddrRange> subtract_ranges(const std::vector<AddrRange>& base,
                                       const std::vector<AddrRange>& holes);
// Renders as nft prints interval elements: "198.18.0.0/16" when the range is a prefix,
// "198.18.0.1-198.18.0.5" otherwise, a bare address for a single one.
std::string range_to_string(const AddrRange& r);

}  // namespace bulkhead::policy
