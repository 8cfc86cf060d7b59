#include "policy/model/address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace bulkhead::policy {
namespace {

// +1 on a big-endian address of the given family; false on wrap-around.
bool increment(IpAddr& a) {
  for (int i = a.bits() / 8 - 1; i >= 0; --i) {
    if (++a.bytes[i] != 0) return true;
  }
  return false;
}

bool decrement(IpAddr& a) {
  for (int i = a.bits() / 8 - 1; i >= 0; --i) {
    if (a.bytes[i]-- != 0) return true;
  }
  return false;
}

IpAddr masked(const IpAddr& a, int prefix, bool set_host_bits) {
  IpAddr r = a;
  for (int i = 0; i < a.bits() / 8; ++i) {
    int keep = std::clamp(prefix - i * 8, 0, 8);
    uint8_t mask = keep == 0 ? 0 : static_cast<uint8_t>(0xff << (8 - keep));
    r.bytes[i] = set_host_bits ? (a.bytes[i] | static_cast<uint8_t>(~mask)) : (a.bytes[i] & mask);
  }
  return r;
}

// The prefix length when [first, last] is exactly one CIDR block, else -1.
int prefix_of(const AddrRange& r) {
  const int bits = r.first.bits();
  for (int p = 0; p <= bits; ++p) {
    if (masked(r.first, p, false) == r.first && masked(r.first, p, true) == r.last) return p;
  }
  return -1;
}

}  // namespace

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  std::string s(text);
  IpAddr a;
  if (s.find(':') == std::string::npos) {
    a.family = 4;
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
  } else {
    a.family = 6;
    if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
  }
  return a;
}

// inet_ntop is what nft uses to print addresses, so the text matches `nft list` output exactly.
std::string IpAddr::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(family == 4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf) == nullptr) {
    return "?";
  }
  return buf;
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  const auto slash = text.find('/');
  auto addr = IpAddr::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  int prefix = addr->bits();
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3) return std::nullopt;
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (ec != std::errc() || ptr != p.data() + p.size()) return std::nullopt;
    if (prefix < 0 || prefix > addr->bits()) return std::nullopt;
  }
  return Cidr{masked(*addr, prefix, false), prefix};
}

std::string Cidr::to_string() const { return addr.to_string() + "/" + std::to_string(prefix); }

bool Cidr::contains(const IpAddr& a) const {
  return a.family == addr.family && masked(a, prefix, false) == addr;
}

bool Cidr::contains(const Cidr& c) const { return c.prefix >= prefix && contains(c.addr); }

IpAddr Cidr::first() const { return masked(addr, prefix, false); }

IpAddr Cidr::last() const { return masked(addr, prefix, true); }

std::vector<AddrRange> normalize_ranges(std::vector<AddrRange> ranges) {
  std::erase_if(ranges, [](const AddrRange& r) {
    return r.first.family != r.last.family || r.last < r.first;
  });
  std::sort(ranges.begin(), ranges.end());
  std::vector<AddrRange> out;
  for (const auto& r : ranges) {
    if (!out.empty() && out.back().last.family == r.first.family) {
      IpAddr next = out.back().last;
      // A failed increment means the previous range already reaches the family's top address.
      if (!increment(next) || r.first <= next) {
        out.back().last = std::max(out.back().last, r.last);
        continue;
      }
    }
    out.push_back(r);
  }
  return out;
}

std::vector<AddrRange> subtract_ranges(const std::vector<AddrRange>& base,
                                       const std::vector<AddrRange>& holes) {
  std::vector<AddrRange> out;
  const auto hs = normalize_ranges(holes);
  for (AddrRange r : normalize_ranges(base)) {
    bool left = true;  // part of r remains
    for (const auto& h : hs) {
      if (h.first.family != r.first.family || h.last < r.first || r.last < h.first) continue;
      if (r.first < h.first) {
        AddrRange piece{r.first, h.first};
        decrement(piece.last);
        out.push_back(piece);
      }
      if (h.last < r.last) {
        r.first = h.last;
        increment(r.first);
      } else {
        left = false;
        break;
      }
    }
    if (left) out.push_back(r);
  }
  return normalize_ranges(std::move(out));
}

std::string range_to_string(const AddrRange& r) {
  if (r.first == r.last) return r.first.to_string();
  const int p = prefix_of(r);
  if (p >= 0) return r.first.to_string() + "/" + std::to_string(p);
  return r.first.to_string() + "-" + r.last.to_string();
}

}  // namespace bulkhead::policy
