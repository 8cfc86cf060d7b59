#include "policy/model/quantity.h"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <optional>
#include <utility>

namespace bulkhead::policy {
namespace {

struct Unit {
  std::string_view name;
  unsigned __int128 factor;
};

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

struct Number {
  std::string_view digits;    // integer part
  std::string_view fraction;  // after the '.'
  std::string_view unit;
};

// Splits "12.5mbit" into 12, 5, mbit. Leading/trailing whitespace is not accepted.
std::optional<Number> split(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  Number n;
  n.digits = s.substr(0, i);
  if (i < s.size() && s[i] == '.') {
    size_t j = ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    n.fraction = s.substr(j, i - j);
    if (n.fraction.empty()) return std::nullopt;
  }
  if (n.digits.empty()) return std::nullopt;
  n.unit = s.substr(i);
  return n;
}

// digits.fraction x factor, exactly; nullopt when it is not whole or does not fit in 64 bits.
std::optional<uint64_t> scale(const Number& n, unsigned __int128 factor, bool* not_whole) {
  if (n.digits.size() > 20 || n.fraction.size() > 20) return std::nullopt;
  unsigned __int128 whole = 0, frac = 0, denom = 1;
  for (char c : n.digits) whole = whole * 10 + static_cast<unsigned>(c - '0');
  for (char c : n.fraction) {
    frac = frac * 10 + static_cast<unsigned>(c - '0');
    denom *= 10;
  }
  const unsigned __int128 limit = UINT64_MAX;
  if (whole > limit || (factor != 0 && whole > limit / factor)) return std::nullopt;
  unsigned __int128 total = whole * factor;
  unsigned __int128 part = frac * factor;  // frac < 10^20, factor < 2^50: fits in 128 bits
  if (part % denom != 0) {
    *not_whole = true;
    return std::nullopt;
  }
  total += part / denom;
  if (total > limit) return std::nullopt;
  return static_cast<uint64_t>(total);
}

Error invalid(std::string message) { return make_error("", std::move(message)); }

}  // namespace

Result<uint64_t> parse_rate(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  auto n = split(text);
  if (!n) {
    return invalid("invalid rate " + quoted +
                   ": expected a number and a unit, e.g. \"50mbit\" or \"10M\" (bits per second)");
  }
  static constexpr Unit kExact[] = {
      {"", 1},
      {"k", 1000},
      {"K", 1000},
      {"M", 1000000},
      {"G", 1000000000},
      {"T", 1000000000000},
      {"Ki", 1024},
      {"Mi", 1024 * 1024},
      {"Gi", 1ull << 30},
      {"Ti", 1ull << 40},
  };
  static constexpr Unit kBits[] = {
      {"bit", 1}, {"kbit", 1000}, {"mbit", 1000000}, {"gbit", 1000000000}, {"tbit", 1000000000000},
  };
  std::optional<unsigned __int128> factor;
  for (const auto& u : kExact)
    if (n->unit == u.name) factor = u.factor;
  const std::string unit = lower(n->unit);
  for (const auto& u : kBits)
    if (unit == u.name) factor = u.factor;
  if (!factor) {
    const std::string number =
        std::string(n->digits) + (n->fraction.empty() ? "" : ".") + std::string(n->fraction);
    if (unit.ends_with("bps") && unit.size() <= 4) {
      const std::string bits = unit.substr(0, unit.size() - 3) + "bit";
      return invalid("ambiguous rate unit \"" + std::string(n->unit) + "\" in " + quoted +
                     ": tc reads it as bytes per second, most people as bits; rates are in bits "
                     "per second: write \"" +
                     number + bits + "\"");
    }
    static constexpr std::string_view kByteUnits[] = {"b/s",   "kb/s",  "mb/s", "gb/s", "kib/s",
                                                      "mib/s", "gib/s", "byte", "bytes"};
    if (std::find(std::begin(kByteUnits), std::end(kByteUnits), unit) != std::end(kByteUnits)) {
      return invalid("rate unit \"" + std::string(n->unit) + "\" in " + quoted +
                     " is in bytes; rates are in bits per second (1 byte = 8 bits): write bit, "
                     "kbit, mbit, gbit or tbit");
    }
    if (n->unit == "m") {
      return invalid("ambiguous rate " + quoted +
                     ": in Kubernetes quantities \"m\" means milli; write \"" + number +
                     "M\" or \"" + number + "mbit\" for megabits per second");
    }
    return invalid("unknown rate unit \"" + std::string(n->unit) + "\" in " + quoted +
                   ": expected bit, kbit, mbit, gbit, tbit or a Kubernetes quantity suffix "
                   "(k, M, G, T, Ki, Mi, Gi, Ti)");
  }
  bool not_whole = false;
  auto v = scale(*n, *factor, &not_whole);
  if (not_whole) return invalid("rate " + quoted + " is not a whole number of bits per second");
  if (!v) return invalid("rate " + quoted + " is too large");
  if (*v == 0) return invalid("rate " + quoted + " must be at least 1 bit per second");
  return *v;
}

Result<uint64_t> parse_burst(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  auto n = split(text);
  if (!n) {
    return invalid("invalid burst " + quoted + ": expected bytes, e.g. \"64kb\" or \"65536\"");
  }
  static constexpr Unit kUnits[] = {
      {"", 1},         {"b", 1},      {"k", 1000},          {"kb", 1000},
      {"mb", 1000000}, {"kib", 1024}, {"mib", 1024 * 1024},
  };
  const std::string unit = lower(n->unit);
  std::optional<unsigned __int128> factor;
  for (const auto& u : kUnits)
    if (unit == u.name) factor = u.factor;
  if (!factor) {
    if (unit.ends_with("bit")) {
      return invalid("burst " + quoted + " is in bits; a burst is a number of bytes, e.g. \"" +
                     std::string(n->digits) + "kb\"");
    }
    return invalid("unknown burst unit \"" + std::string(n->unit) + "\" in " + quoted +
                   ": expected b, kb (1000), mb (1000000), kib (1024) or mib (1048576)");
  }
  bool not_whole = false;
  auto v = scale(*n, *factor, &not_whole);
  if (not_whole) return invalid("burst " + quoted + " is not a whole number of bytes");
  if (!v || *v > UINT32_MAX) return invalid("burst " + quoted + " is too large (at most 4 GiB)");
  if (*v == 0) return invalid("burst " + quoted + " must be at least 1 byte");
  return *v;
}

uint64_t min_burst_bytes(uint64_t rate_bits) {
  return std::max<uint64_t>(1514, rate_bits / 8 / 1000);
}

uint64_t default_burst_bytes(uint64_t rate_bits) {
  return std::max<uint64_t>(16 * 1024, rate_bits / 8 / 200);
}

namespace {

std::string with_unit(uint64_t v, const std::pair<uint64_t, const char*>* units, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    const auto [factor, name] = units[i];
    if (v < factor) continue;
    if (v % factor == 0) return std::to_string(v / factor) + name;
    // Three decimals are enough to tell limits apart in a message.
    uint64_t milli = static_cast<uint64_t>((static_cast<unsigned __int128>(v) * 1000) / factor);
    std::string frac = std::to_string(milli % 1000);
    frac = std::string(3 - frac.size(), '0') + frac;
    while (!frac.empty() && frac.back() == '0') frac.pop_back();
    return std::to_string(milli / 1000) + (frac.empty() ? "" : "." + frac) + name;
  }
  return std::to_string(v) + units[count - 1].second;
}

}  // namespace

std::string format_rate(uint64_t bits_per_second) {
  static constexpr std::pair<uint64_t, const char*> kUnits[] = {
      {1000000000000, "tbit"}, {1000000000, "gbit"}, {1000000, "mbit"}, {1000, "kbit"}, {1, "bit"}};
  return with_unit(bits_per_second, kUnits, std::size(kUnits));
}

std::string format_bytes(uint64_t bytes) {
  if (bytes % 1024 == 0 && bytes % 1000 != 0) {
    static constexpr std::pair<uint64_t, const char*> kBin[] = {{1024 * 1024, "mib"},
                                                                {1024, "kib"}};
    for (const auto& [f, name] : kBin)
      if (bytes % f == 0) return std::to_string(bytes / f) + name;
  }
  static constexpr std::pair<uint64_t, const char*> kUnits[] = {
      {1000000, "mb"}, {1000, "kb"}, {1, "b"}};
  return with_unit(bytes, kUnits, std::size(kUnits));
}

}  // namespace bulkhead::policy
