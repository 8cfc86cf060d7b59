#include "policy/model/quantity.h"

#include <gtest/gtest.h>

namespace bulkhead::policy {
namespace {

uint64_t rate(std::string_view s) {
  auto r = parse_rate(s);
  EXPECT_TRUE(r.ok()) << s << ": " << (r.ok() ? "" : r.error().to_string());
  return r.ok() ? *r : 0;
}

std::string rate_error(std::string_view s) {
  auto r = parse_rate(s);
  EXPECT_FALSE(r.ok()) << s;
  return r.ok() ? "" : r.error().to_string();
}

uint64_t burst(std::string_view s) {
  auto r = parse_burst(s);
  EXPECT_TRUE(r.ok()) << s << ": " << (r.ok() ? "" : r.error().to_string());
  return r.ok() ? *r : 0;
}

std::string burst_error(std::string_view s) {
  auto r = parse_burst(s);
  EXPECT_FALSE(r.ok()) << s;
  return r.ok() ? "" : r.error().to_string();
}

TEST(Rate, TcBitUnitsAreDecimalAndCaseInsensitive) {
  EXPECT_EQ(rate("800bit"), 800u);
  EXPECT_EQ(rate("64kbit"), 64000u);
  EXPECT_EQ(rate("50mbit"), 50000000u);
  EXPECT_EQ(rate("50Mbit"), 50000000u);
  EXPECT_EQ(rate("1gbit"), 1000000000u);
  EXPECT_EQ(rate("2tbit"), 2000000000000u);
  EXPECT_EQ(rate("1.5gbit"), 1500000000u);
}

TEST(Rate, KubernetesQuantitiesAreBitsPerSecond) {
  EXPECT_EQ(rate("10M"), 10000000u);
  EXPECT_EQ(rate("10k"), 10000u);
  EXPECT_EQ(rate("10K"), 10000u);
  EXPECT_EQ(rate("3G"), 3000000000u);
  EXPECT_EQ(rate("1T"), 1000000000000u);
  EXPECT_EQ(rate("1Ki"), 1024u);
  EXPECT_EQ(rate("10Mi"), 10485760u);
  EXPECT_EQ(rate("1Gi"), 1073741824u);
  EXPECT_EQ(rate("1Ti"), 1099511627776u);
  EXPECT_EQ(rate("123456"), 123456u);
  EXPECT_EQ(rate("0.5M"), 500000u);
}

TEST(Rate, LargeRatesNeedSixtyFourBits) {
  EXPECT_EQ(rate("100gbit"), 100000000000u);
  EXPECT_EQ(rate("400G"), 400000000000u);
  EXPECT_EQ(rate("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(rate_error("18446744073709551616"), "rate \"18446744073709551616\" is too large");
  EXPECT_EQ(rate_error("20000000tbit"), "rate \"20000000tbit\" is too large");
}

TEST(Rate, ByteUnitsAreRejectedWithAnExplanation) {
  EXPECT_EQ(rate_error("10mbps"),
            "ambiguous rate unit \"mbps\" in \"10mbps\": tc reads it as bytes per second, most "
            "people as bits; rates are in bits per second: write \"10mbit\"");
  EXPECT_EQ(rate_error("2.5Kbps"),
            "ambiguous rate unit \"Kbps\" in \"2.5Kbps\": tc reads it as bytes per second, most "
            "people as bits; rates are in bits per second: write \"2.5kbit\"");
  EXPECT_EQ(rate_error("100bps"),
            "ambiguous rate unit \"bps\" in \"100bps\": tc reads it as bytes per second, most "
            "people as bits; rates are in bits per second: write \"100bit\"");
  EXPECT_EQ(rate_error("5MB/s"),
            "rate unit \"MB/s\" in \"5MB/s\" is in bytes; rates are in bits per second (1 byte = "
            "8 bits): write bit, kbit, mbit, gbit or tbit");
  EXPECT_EQ(rate_error("10m"),
            "ambiguous rate \"10m\": in Kubernetes quantities \"m\" means milli; write \"10M\" or "
            "\"10mbit\" for megabits per second");
}

TEST(Rate, MalformedRates) {
  EXPECT_EQ(rate_error("fast"),
            "invalid rate \"fast\": expected a number and a unit, e.g. \"50mbit\" or \"10M\" "
            "(bits per second)");
  EXPECT_EQ(rate_error(""),
            "invalid rate \"\": expected a number and a unit, e.g. \"50mbit\" or "
            "\"10M\" (bits per second)");
  EXPECT_EQ(rate_error("1.mbit"),
            "invalid rate \"1.mbit\": expected a number and a unit, e.g. "
            "\"50mbit\" or \"10M\" (bits per second)");
  EXPECT_EQ(rate_error("-5mbit"),
            "invalid rate \"-5mbit\": expected a number and a unit, e.g. "
            "\"50mbit\" or \"10M\" (bits per second)");
  EXPECT_EQ(rate_error("5 mbit"),
            "unknown rate unit \" mbit\" in \"5 mbit\": expected bit, kbit, mbit, gbit, tbit or a "
            "Kubernetes quantity suffix (k, M, G, T, Ki, Mi, Gi, Ti)");
  EXPECT_EQ(rate_error("0mbit"), "rate \"0mbit\" must be at least 1 bit per second");
  EXPECT_EQ(rate_error("1.5bit"), "rate \"1.5bit\" is not a whole number of bits per second");
}

TEST(Burst, ByteUnits) {
  EXPECT_EQ(burst("1514"), 1514u);
  EXPECT_EQ(burst("1514b"), 1514u);
  EXPECT_EQ(burst("64k"), 64000u);
  EXPECT_EQ(burst("64kb"), 64000u);
  EXPECT_EQ(burst("64KB"), 64000u);
  EXPECT_EQ(burst("2mb"), 2000000u);
  EXPECT_EQ(burst("16kib"), 16384u);
  EXPECT_EQ(burst("1mib"), 1048576u);
  EXPECT_EQ(burst("1.5kb"), 1500u);
}

TEST(Burst, Errors) {
  EXPECT_EQ(burst_error("64kbit"),
            "burst \"64kbit\" is in bits; a burst is a number of bytes, e.g. \"64kb\"");
  EXPECT_EQ(burst_error("1gb"),
            "unknown burst unit \"gb\" in \"1gb\": expected b, kb (1000), mb "
            "(1000000), kib (1024) or mib (1048576)");
  EXPECT_EQ(burst_error("5000mb"), "burst \"5000mb\" is too large (at most 4 GiB)");
  EXPECT_EQ(burst_error("0"), "burst \"0\" must be at least 1 byte");
  EXPECT_EQ(burst_error("1.0001kb"), "burst \"1.0001kb\" is not a whole number of bytes");
  EXPECT_EQ(burst_error("lots"),
            "invalid burst \"lots\": expected bytes, e.g. \"64kb\" or \"65536\"");
}

TEST(Burst, MinimumAndDefault) {
  EXPECT_EQ(min_burst_bytes(1000000), 1514u);           // 1 mbit: a frame dominates
  EXPECT_EQ(min_burst_bytes(100000000000), 12500000u);  // 100 gbit x 1 ms
  EXPECT_EQ(default_burst_bytes(1000000), 16384u);
  EXPECT_EQ(default_burst_bytes(50000000), 31250u);     // 50 mbit x 5 ms
  EXPECT_EQ(default_burst_bytes(1000000000), 625000u);  // 1 gbit x 5 ms
  for (uint64_t r : {1ull, 1000ull, 26214400ull, 1000000000ull, 100000000000ull})
    EXPECT_GE(default_burst_bytes(r), min_burst_bytes(r)) << r;
}

TEST(Format, RatesAndBytes) {
  EXPECT_EQ(format_rate(50000000), "50mbit");
  EXPECT_EQ(format_rate(1500000000), "1.5gbit");
  EXPECT_EQ(format_rate(1024), "1.024kbit");
  EXPECT_EQ(format_rate(999), "999bit");
  EXPECT_EQ(format_bytes(64000), "64kb");
  EXPECT_EQ(format_bytes(16384), "16kib");
  EXPECT_EQ(format_bytes(1514), "1.514kb");
  EXPECT_EQ(format_bytes(12), "12b");
}

}  // namespace
}  // namespace bulkhead::policy
