// The hook's side of HOOK-PROTOCOL.md: the request it sends and the answers it accepts, and that
// an absent socket is an error (the failure mode's trigger), not a hang.
#include "enforcer/hook/daemon_client.h"

#include <gtest/gtest.h>

namespace bulkhead::hook {
namespace {

TEST(DaemonClient, RequestLine) {
  const std::string line = request_line({"abc", 42, "/b"}, "docker");
  std::string why;
  const auto req = parse_request(line, &why);
  ASSERT_TRUE(req) << why;
  EXPECT_EQ(*req, (HookRequest{"abc", 42, "docker"}));
  EXPECT_EQ(line.back(), '\n');
}

TEST(DaemonClient, Answers) {
  auto a = read_answer(R"({"version":1,"verdict":"enforced","reason":""})");
  ASSERT_TRUE(a.ok()) << a.error().to_string();
  EXPECT_EQ(a->verdict, Verdict::kEnforced);
  a = read_answer(R"({"version":1,"verdict":"refused","reason":"compile failed"})");
  ASSERT_TRUE(a.ok()) << a.error().to_string();
  EXPECT_EQ(a->verdict, Verdict::kRefused);
  EXPECT_EQ(a->reason, "compile failed");
  EXPECT_FALSE(read_answer(R"({"version":1,"verdict":"ok","reason":""})").ok());
  EXPECT_FALSE(read_answer("garbage").ok());
}

TEST(DaemonClient, AbsentSocketIsAnErrorAtOnce) {
  auto a = ask_daemon("/nonexistent/bulkhead-test/hook.sock", {"abc", 1, ""}, "oci",
                      std::chrono::milliseconds(500));
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code, ENOENT);
}

}  // namespace
}  // namespace bulkhead::hook
