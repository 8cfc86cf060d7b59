#include "enforcer/hook/bundle_config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace bulkhead::hook {
namespace {

const HookEntry kHook{
    "/usr/libexec/bulkhead/bulkhead-hook", {"bulkhead-hook", "--engine", "docker"}, 10};

TEST(BundleConfig, AfterTheEngineSetkeyHook) {
  const std::string config =
      R"({"ociVersion":"1.0.2","hooks":{"prestart":[)"
      R"({"path":"/proc/1/exe","args":["libnetwork-setkey","-exec-root=/r","abc","def"]},)"
      R"({"path":"/other"}]}})";
  auto out = add_prestart_hook(config, kHook);
  ASSERT_TRUE(out.ok()) << out.error().to_string();
  const auto j = nlohmann::json::parse(*out);
  const auto& pre = j["hooks"]["prestart"];
  ASSERT_EQ(pre.size(), 3u);
  EXPECT_EQ(pre[0]["args"][0], "libnetwork-setkey");
  EXPECT_EQ(pre[1]["path"], kHook.path);
  EXPECT_EQ(pre[1]["args"], nlohmann::json(kHook.args));
  EXPECT_EQ(pre[1]["timeout"], 10);
  EXPECT_EQ(pre[2]["path"], "/other");
  EXPECT_EQ(j["ociVersion"], "1.0.2");
  // A second create of the same bundle adds nothing.
  auto again = add_prestart_hook(*out, kHook);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *out);
}

TEST(BundleConfig, NoHooksYet) {
  auto out = add_prestart_hook(R"({"process":{}})", kHook);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(nlohmann::json::parse(*out)["hooks"]["prestart"][0]["path"], kHook.path);
}

TEST(BundleConfig, IllTypedIsAnError) {
  EXPECT_FALSE(add_prestart_hook("[]", kHook).ok());
  EXPECT_FALSE(add_prestart_hook("{", kHook).ok());
  EXPECT_FALSE(add_prestart_hook(R"({"hooks":[]})", kHook).ok());
  EXPECT_FALSE(add_prestart_hook(R"({"hooks":{"prestart":{}}})", kHook).ok());
  EXPECT_FALSE(add_prestart_hook(R"({"hooks":{"prestart":[1]}})", kHook).ok());
}

}  // namespace
}  // namespace bulkhead::hook
