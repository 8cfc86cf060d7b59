#include "enforcer/hook/runc_args.h"

#include <gtest/gtest.h>

namespace bulkhead::hook {
namespace {

TEST(RuncArgs, ShimCreateLine) {
  // As containerd-shim-runc-v2 calls a runtime for Docker.
  auto rc =
      parse_runc_args({"--root", "/var/run/docker/runtime-runc/moby", "--log", "/run/x/log.json",
                       "--log-format", "json", "--systemd-cgroup", "create", "--bundle",
                       "/run/x/abc", "--pid-file", "/run/x/init.pid", "abc"});
  EXPECT_EQ(rc.command, "create");
  EXPECT_EQ(rc.bundle, "/run/x/abc");
}

TEST(RuncArgs, BundleForms) {
  EXPECT_EQ(parse_runc_args({"run", "-b", "/b", "id"}).bundle, "/b");
  EXPECT_EQ(parse_runc_args({"create", "--bundle=/b", "id"}).bundle, "/b");
  EXPECT_EQ(parse_runc_args({"--root=/r", "create", "-b=/b", "id"}).bundle, "/b");
  EXPECT_FALSE(parse_runc_args({"create", "id"}).bundle.has_value());
}

TEST(RuncArgs, OtherCommandsAreNotTouched) {
  EXPECT_EQ(parse_runc_args({"--root", "/r", "state", "id"}).command, "state");
  EXPECT_FALSE(parse_runc_args({"start", "--bundle", "/b", "id"}).bundle.has_value());
  EXPECT_EQ(parse_runc_args({"--version"}).command, "");
  EXPECT_EQ(parse_runc_args({}).command, "");
}

}  // namespace
}  // namespace bulkhead::hook
