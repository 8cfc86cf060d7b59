#include "policy/model/address.h"

#include <gtest/gtest.h>

namespace bulkhead::policy {
namespace {

IpAddr ip(const char* s) {
  auto a = IpAddr::parse(s);
  EXPECT_TRUE(a.has_value()) << s;
  return a.value_or(IpAddr{});
}

Cidr cidr(const char* s) {
  auto c = Cidr::parse(s);
  EXPECT_TRUE(c.has_value()) << s;
  return c.value_or(Cidr{});
}

AddrRange range(const char* a, const char* b) { return AddrRange{ip(a), ip(b)}; }

std::string str(const std::vector<AddrRange>& v) {
  std::string s;
  for (const auto& r : v) s += (s.empty() ? "" : " ") + range_to_string(r);
  return s;
}

TEST(IpAddr, ParsesAndPrintsIpv4) {
  auto a = ip("198.18.0.1");
  EXPECT_EQ(a.family, 4);
  EXPECT_EQ(a.bytes[0], 198);
  EXPECT_EQ(a.bytes[3], 1);
  EXPECT_EQ(a.to_string(), "198.18.0.1");
}

TEST(IpAddr, RejectsMalformed) {
  for (const char* bad : {"", "198.18.0", "198.18.0.256", "198.18.0.1.2", "a.b.c.d", "198.18.0.1 ",
                          "::g", "1:2:3:4:5:6:7:8:9", "fe80::1%eth0", "198.18.0.01"}) {
    EXPECT_FALSE(IpAddr::parse(bad).has_value()) << bad;
  }
}

TEST(IpAddr, PrintsIpv6InRfc5952Form) {
  EXPECT_EQ(ip("2001:0DB8:0000:0000:0000:0000:0000:0001").to_string(), "2001:db8::1");
  EXPECT_EQ(ip("2001:db8:0:0:1:0:0:1").to_string(), "2001:db8::1:0:0:1");
  EXPECT_EQ(ip("2001:db8:0:1:1:1:1:1").to_string(), "2001:db8:0:1:1:1:1:1");
  EXPECT_EQ(ip("::").to_string(), "::");
  EXPECT_EQ(ip("::1").to_string(), "::1");
  EXPECT_EQ(ip("::ffff:198.18.0.1").to_string(), "::ffff:198.18.0.1");
  EXPECT_EQ(ip("fd00::").family, 6);
}

TEST(IpAddr, OrdersByFamilyThenBytes) {
  EXPECT_LT(ip("198.18.0.1"), ip("198.18.0.2"));
  EXPECT_LT(ip("255.255.255.255"), ip("::"));
}

TEST(Cidr, ParsesPrefixesAndBareAddresses) {
  EXPECT_EQ(cidr("198.18.0.0/15").to_string(), "198.18.0.0/15");
  EXPECT_EQ(cidr("198.18.0.7").to_string(), "198.18.0.7/32");
  EXPECT_EQ(cidr("fd00::1").to_string(), "fd00::1/128");
  EXPECT_EQ(cidr("0.0.0.0/0").to_string(), "0.0.0.0/0");
}

TEST(Cidr, ClearsHostBits) {
  EXPECT_EQ(cidr("198.19.255.1/15").to_string(), "198.18.0.0/15");
  EXPECT_EQ(cidr("fd00::abcd/112").to_string(), "fd00::/112");
}

TEST(Cidr, RejectsBadPrefixes) {
  for (const char* bad : {"198.18.0.0/33", "198.18.0.0/", "198.18.0.0/-1", "198.18.0.0/1a",
                          "fd00::/129", "/8", "198.18.0.0/16/2", "198.18.0.0/+8", "x/8"}) {
    EXPECT_FALSE(Cidr::parse(bad).has_value()) << bad;
  }
}

TEST(Cidr, ContainsAddressesAndCidrs) {
  Cidr c = cidr("198.18.0.0/16");
  EXPECT_TRUE(c.contains(ip("198.18.255.255")));
  EXPECT_FALSE(c.contains(ip("198.19.0.0")));
  EXPECT_FALSE(c.contains(ip("::ffff:198.18.0.1")));  // other family
  EXPECT_TRUE(c.contains(cidr("198.18.4.0/24")));
  EXPECT_FALSE(c.contains(cidr("198.18.0.0/15")));
  EXPECT_TRUE(cidr("0.0.0.0/0").contains(ip("8.8.8.8")));
  EXPECT_TRUE(cidr("::/0").contains(ip("fd00::1")));
}

TEST(Cidr, FirstAndLast) {
  Cidr c = cidr("198.18.4.0/22");
  EXPECT_EQ(c.first().to_string(), "198.18.4.0");
  EXPECT_EQ(c.last().to_string(), "198.18.7.255");
  Cidr c6 = cidr("fd00:1::/32");
  EXPECT_EQ(c6.last().to_string(), "fd00:1:ffff:ffff:ffff:ffff:ffff:ffff");
}

TEST(Ranges, PrintAsNftDoes) {
  EXPECT_EQ(range_to_string(range("198.18.0.0", "198.18.255.255")), "198.18.0.0/16");
  EXPECT_EQ(range_to_string(range("198.18.0.1", "198.18.0.5")), "198.18.0.1-198.18.0.5");
  EXPECT_EQ(range_to_string(range("198.18.0.9", "198.18.0.9")), "198.18.0.9");
  EXPECT_EQ(range_to_string(range("198.18.0.0", "198.18.0.1")), "198.18.0.0/31");
  EXPECT_EQ(range_to_string(range("198.18.0.1", "198.18.0.2")), "198.18.0.1-198.18.0.2");
  EXPECT_EQ(range_to_string(range("0.0.0.0", "255.255.255.255")), "0.0.0.0/0");
  EXPECT_EQ(range_to_string(range("fd00::", "fd00::ffff")), "fd00::/112");
  EXPECT_EQ(range_to_string(range("fd00::1", "fd00::3")), "fd00::1-fd00::3");
}

TEST(Ranges, NormalizeMergesOverlapsAndNeighbours) {
  auto n = normalize_ranges({range("198.18.0.10", "198.18.0.20"), range("198.18.0.1", "198.18.0.4"),
                             range("198.18.0.5", "198.18.0.7"), range("198.18.0.15", "198.18.0.30"),
                             range("198.18.0.40", "198.18.0.40"), range("fd00::1", "fd00::1"),
                             range("fd00::2", "fd00::2")});
  EXPECT_EQ(str(n), "198.18.0.1-198.18.0.7 198.18.0.10-198.18.0.30 198.18.0.40 fd00::1-fd00::2");
}

TEST(Ranges, NormalizeKeepsFamiliesApartAtTheTop) {
  auto n = normalize_ranges({range("255.255.255.0", "255.255.255.255"), range("::", "::1")});
  EXPECT_EQ(str(n), "255.255.255.0/24 ::/127");
  auto all = normalize_ranges({range("0.0.0.0", "255.255.255.255"), range("1.0.0.0", "1.0.0.1")});
  EXPECT_EQ(str(all), "0.0.0.0/0");
}

TEST(Ranges, NormalizeDropsInvertedRanges) {
  EXPECT_EQ(str(normalize_ranges({range("198.18.0.9", "198.18.0.1")})), "");
}

TEST(Ranges, SubtractPunchesHoles) {
  Cidr c = cidr("198.18.0.0/16");
  Cidr ex = cidr("198.18.1.0/24");
  auto r = subtract_ranges({{c.first(), c.last()}}, {{ex.first(), ex.last()}});
  EXPECT_EQ(str(r), "198.18.0.0/24 198.18.2.0-198.18.255.255");
}

TEST(Ranges, SubtractEdgesAndMultipleHoles) {
  auto r =
      subtract_ranges({range("198.18.0.0", "198.18.0.255")},
                      {range("198.18.0.0", "198.18.0.0"), range("198.18.0.255", "198.18.0.255"),
                       range("198.18.0.10", "198.18.0.19"), range("198.18.0.15", "198.18.0.20"),
                       range("fd00::", "fd00::ffff")});
  EXPECT_EQ(str(r), "198.18.0.1-198.18.0.9 198.18.0.21-198.18.0.254");
  EXPECT_EQ(str(subtract_ranges({range("198.18.0.1", "198.18.0.5")},
                                {range("198.18.0.0", "198.18.0.9")})),
            "");
  EXPECT_EQ(str(subtract_ranges({range("0.0.0.0", "255.255.255.255")},
                                {range("0.0.0.0", "127.255.255.255")})),
            "128.0.0.0/1");
}

}  // namespace
}  // namespace bulkhead::policy
