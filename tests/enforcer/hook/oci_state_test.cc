#include "enforcer/hook/oci_state.h"

#include <gtest/gtest.h>

namespace bulkhead::hook {
namespace {

TEST(OciState, ReadsRuncState) {
  auto st =
      parse_oci_state(R"({"ociVersion":"1.0.2","id":"4f2a9c_b.1-x","status":"creating","pid":4242,)"
                      R"("bundle":"/run/x/4f2a","annotations":{"a":"b"}})");
  ASSERT_TRUE(st.ok()) << st.error().to_string();
  EXPECT_EQ(st->id, "4f2a9c_b.1-x");
  EXPECT_EQ(st->pid, 4242);
  EXPECT_EQ(st->bundle, "/run/x/4f2a");
}

TEST(OciState, RejectsWithTheFieldNamed) {
  auto err = [](const char* text) {
    auto st = parse_oci_state(text);
    return st.ok() ? std::string("ok") : st.error().message;
  };
  EXPECT_EQ(err(""), "not JSON");
  EXPECT_EQ(err("[1]"), "not a JSON object");
  EXPECT_EQ(err(R"({"pid":1})"), "no string \"id\"");
  EXPECT_EQ(err(R"({"id":"a/b","pid":1})"), "\"id\" is not 1..128 of [A-Za-z0-9_.-]");
  EXPECT_EQ(err(R"({"id":"","pid":1})"), "\"id\" is not 1..128 of [A-Za-z0-9_.-]");
  EXPECT_EQ(err(R"({"id":"a","pid":"1"})"), "no integer \"pid\"");
  EXPECT_EQ(err(R"({"id":"a","pid":1.5})"), "no integer \"pid\"");
  EXPECT_EQ(err(R"({"id":"a","pid":0})"), "\"pid\" is not in 1..4194304");
  EXPECT_EQ(err(R"({"id":"a","pid":-3})"), "\"pid\" is not in 1..4194304");
  EXPECT_EQ(err(R"({"id":"a","pid":4194305})"), "\"pid\" is not in 1..4194304");
  EXPECT_EQ(err(R"({"id":"a","pid":18446744073709551615})"), "\"pid\" is not in 1..4194304");
  EXPECT_EQ(err(R"({"id":"a","pid":4194304})"), "ok");
}

TEST(OciState, BoundedSize) {
  std::string big = R"({"id":"a","pid":1,"x":")" + std::string(kMaxStateBytes, 'x') + "\"}";
  auto st = parse_oci_state(big);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "more than 65536 bytes");
}

}  // namespace
}  // namespace bulkhead::hook
