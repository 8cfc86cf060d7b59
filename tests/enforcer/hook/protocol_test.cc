#include "enforcer/hook/protocol.h"

#include <gtest/gtest.h>

#include <string>

namespace bulkhead::hook {
namespace {

std::string why_request(std::string_view line) {
  std::string why;
  EXPECT_FALSE(parse_request(line, &why).has_value()) << line;
  return why;
}

std::string why_answer(std::string_view line) {
  std::string why;
  EXPECT_FALSE(parse_answer(line, &why).has_value()) << line;
  return why;
}

TEST(HookProtocol, RequestRoundTrips) {
  HookRequest r{"0123abcdef.x_y-z", 4194304, "podman"};
  const std::string line = render_request(r);
  EXPECT_EQ(line, R"({"engine":"podman","id":"0123abcdef.x_y-z","pid":4194304,"version":1})"
                  "\n");
  std::string why;
  auto back = parse_request(line, &why);
  ASSERT_TRUE(back.has_value()) << why;
  EXPECT_EQ(*back, r);
}

TEST(HookProtocol, RequestIgnoresUnknownFieldsAndNeedsNoNewline) {
  auto r =
      parse_request(R"({"version":1,"id":"c1","pid":7,"engine":"oci","bundle":"/x"})", nullptr);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->id, "c1");
  EXPECT_EQ(r->pid, 7);
  EXPECT_EQ(r->engine, "oci");
}

TEST(HookProtocol, RequestDiagnostics) {
  EXPECT_EQ(why_request(""), "empty");
  EXPECT_EQ(why_request("\n"), "empty");
  EXPECT_EQ(why_request("{"), "not JSON");
  EXPECT_EQ(why_request("[1]"), "not a JSON object");
  EXPECT_EQ(why_request("{}\n{}"), "more than one line");
  EXPECT_EQ(why_request(std::string(4097, ' ')), "longer than 4096 bytes");
  EXPECT_EQ(why_request(R"({"id":"c","pid":1,"engine":"oci"})"), "field \"version\" is missing");
  EXPECT_EQ(why_request(R"({"version":"1","id":"c","pid":1,"engine":"oci"})"),
            "field \"version\" must be an integer");
  EXPECT_EQ(why_request(R"({"version":2,"id":"c","pid":1,"engine":"oci"})"),
            "field \"version\": 2 is not supported (this side speaks 1)");
  EXPECT_EQ(why_request(R"({"version":1,"pid":1,"engine":"oci"})"), "field \"id\" is missing");
  EXPECT_EQ(why_request(R"({"version":1,"id":5,"pid":1,"engine":"oci"})"),
            "field \"id\" must be a string");
  const std::string bad_id = "field \"id\" must be 1..128 characters of [A-Za-z0-9_.-]";
  EXPECT_EQ(why_request(R"({"version":1,"id":"","pid":1,"engine":"oci"})"), bad_id);
  EXPECT_EQ(why_request(R"({"version":1,"id":"../etc","pid":1,"engine":"oci"})"), bad_id);
  EXPECT_EQ(why_request(R"({"version":1,"id":")" + std::string(129, 'a') +
                        R"(","pid":1,"engine":"oci"})"),
            bad_id);
  EXPECT_EQ(why_request(R"({"version":1,"id":"c","engine":"oci"})"), "field \"pid\" is missing");
  EXPECT_EQ(why_request(R"({"version":1,"id":"c","pid":"1","engine":"oci"})"),
            "field \"pid\" must be an integer");
  EXPECT_EQ(why_request(R"({"version":1,"id":"c","pid":1.5,"engine":"oci"})"),
            "field \"pid\" must be an integer");
  const std::string bad_pid = "field \"pid\" must be 1..4194304";
  EXPECT_EQ(why_request(R"({"version":1,"id":"c","pid":0,"engine":"oci"})"), bad_pid);
  EXPECT_EQ(why_request(R"({"version":1,"id":"c","pid":-1,"engine":"oci"})"), bad_pid);
  EXPECT_EQ(why_request(R"({"version":1,"id":"c","pid":4194305,"engine":"oci"})"), bad_pid);
  EXPECT_EQ(why_request(R"({"version":1,"id":"c","pid":18446744073709551615,"engine":"oci"})"),
            bad_pid);
  EXPECT_EQ(why_request(R"({"version":1,"id":"c","pid":1})"), "field \"engine\" is missing");
  EXPECT_EQ(why_request(R"({"version":1,"id":"c","pid":1,"engine":"lxc"})"),
            "field \"engine\" must be \"docker\", \"podman\" or \"oci\"");
}

TEST(HookProtocol, RequestAtTheLimitIsRead) {
  std::string line = R"({"version":1,"id":"c","pid":1,"engine":"oci","pad":")";
  line += std::string(4096 - line.size() - 3, 'x') + "\"}\n";
  ASSERT_EQ(line.size(), 4096u);
  EXPECT_TRUE(parse_request(line, nullptr).has_value());
}

TEST(HookProtocol, AnswerRoundTrips) {
  for (Verdict v : {Verdict::kEnforced, Verdict::kUnselected, Verdict::kRefused}) {
    HookAnswer a{v, "because \"quoted\""};
    std::string why;
    auto back = parse_answer(render_answer(a), &why);
    ASSERT_TRUE(back.has_value()) << why;
    EXPECT_EQ(*back, a);
  }
  EXPECT_EQ(render_answer({Verdict::kEnforced, ""}),
            R"({"reason":"","verdict":"enforced","version":1})"
            "\n");
}

TEST(HookProtocol, AnswerWithoutReasonIsEmptyReason) {
  auto a = parse_answer(R"({"version":1,"verdict":"unselected"})", nullptr);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->verdict, Verdict::kUnselected);
  EXPECT_EQ(a->reason, "");
}

TEST(HookProtocol, AnswerDiagnostics) {
  EXPECT_EQ(why_answer("null"), "not a JSON object");
  EXPECT_EQ(why_answer(R"({"version":1})"), "field \"verdict\" is missing");
  EXPECT_EQ(why_answer(R"({"version":1,"verdict":"ok"})"),
            "field \"verdict\" must be \"enforced\", \"unselected\" or \"refused\"");
  EXPECT_EQ(why_answer(R"({"version":1,"verdict":"refused","reason":3})"),
            "field \"reason\" must be a string");
}

TEST(HookProtocol, LongReasonIsCutToFitTheHooksBound) {
  // Control characters escape to six bytes each: the cut must still fit.
  HookAnswer a{Verdict::kRefused, std::string(10000, '\x01')};
  const std::string line = render_answer(a);
  EXPECT_LE(line.size(), kMaxAnswerBytes);
  auto back = parse_answer(line, nullptr);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->verdict, Verdict::kRefused);
  EXPECT_TRUE(back->reason.ends_with("..."));
}

}  // namespace
}  // namespace bulkhead::hook
