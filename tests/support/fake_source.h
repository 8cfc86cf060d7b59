// An endpoint source whose snapshot the test sets, and a SourceFactory that hands the daemon
// such sources: for the daemon's unit tests, without files, engines or etcd.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "enforcer/daemon/source_set.h"
#include "enforcer/sources/source.h"

namespace bulkhead::testing {

class FakeSource final : public daemon::Source {
 public:
  explicit FakeSource(std::string name = "fake") : name_(std::move(name)) {}

  std::string name() const override { return name_; }
  Status start(std::function<void()> changed) override {
    changed_ = std::move(changed);
    if (start_error_) return *start_error_;
    return {};
  }
  void stop() override {}
  daemon::Snapshot snapshot() override {
    std::lock_guard lock(mu_);
    return snap_;
  }

  // Replaces what the source knows and signals the change, as a real source does.
  void set(daemon::Snapshot snap) {
    {
      std::lock_guard lock(mu_);
      snap_ = std::move(snap);
    }
    if (changed_) changed_();
  }
  void fail_start(Error e) { start_error_ = std::move(e); }

 private:
  std::string name_;
  std::function<void()> changed_;
  std::optional<Error> start_error_;
  std::mutex mu_;
  daemon::Snapshot snap_;
};

// Hands the daemon the sources added to it (once), or an error.
class FakeSourceFactory final : public daemon::SourceFactory {
 public:
  // The source stays reachable through the returned pointer while the daemon owns it.
  FakeSource* add(daemon::Snapshot snap, std::string name = "fake") {
    auto src = std::make_unique<FakeSource>(std::move(name));
    src->set(std::move(snap));
    FakeSource* raw = src.get();
    pending_.push_back(std::move(src));
    return raw;
  }
  void fail(Error e) { error_ = std::move(e); }

  Result<daemon::Sources> make(const daemon::Options&) override {
    if (error_) return *error_;
    daemon::Sources out;
    for (auto& s : pending_) out.all.push_back(std::move(s));
    pending_.clear();
    return out;
  }

 private:
  std::vector<std::unique_ptr<FakeSource>> pending_;
  std::optional<Error> error_;
};

}  // namespace bulkhead::testing
