// The hook's side of HOOK-PROTOCOL.md: the request it sends and the answers it accepts, and that
// an absent socket is an error (the failure mode's trigger), not a hang.
#include "enforcer/hook/daemon_client.h"

#include <gtest/gtest.h>

namespace bulkhead::hook {
namespace {

TEST(DaemonClient, RequestLine) {
  EXPECT_EQ(request_line({"abc", 42, "/b"}, "docker"),
            "{\"engine\":\"docker\",\"id\":\"abc\",\"pid\":42,\"version\":1}\n");
}

TEST(DaemonClient, Answers) {
  auto a = parse_answer(R"({"version":1,"verdict":"enforced","reason":""})");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->verdict, Verdict::enforced);
  a = parse_answer(R"({"version":1,"verdict":"refused","reason":"compile failed"})");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->verdict, Verdict::refused);
  EXPECT_EQ(a->reason, "compile failed");
  EXPECT_EQ(parse_answer(R"({"verdict":"unselected"})")->verdict, Verdict::unselected);
  EXPECT_FALSE(parse_answer(R"({"verdict":"ok"})").ok());
  EXPECT_FALSE(parse_answer(R"({"verdict":1})").ok());
  EXPECT_FALSE(parse_answer("garbage").ok());
}

TEST(DaemonClient, AbsentSocketIsAnErrorAtOnce) {
  auto a = ask_daemon("/nonexistent/bulkhead-test/hook.sock", {"abc", 1, ""}, "oci",
                      std::chrono::milliseconds(500));
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code, ENOENT);
}

}  // namespace
}  // namespace bulkhead::hook
