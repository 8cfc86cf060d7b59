// The start gate's prefetch against a fake engine on a unix socket: from Docker a create event
// makes the watch list that container, and what it holds is the list's answer (not the event's
// attributes); from Podman it holds the event's attributes, less Podman's own keys, which it
// marks hidden; a destroy event forgets it. The real engine is in tests/scripts/hook_docker.sh.
#include "enforcer/daemon/created_watch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace bulkhead::daemon {
namespace {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;
using namespace std::chrono_literals;

const std::string kId = std::string(64, 'a');

std::string event(const std::string& action) {
  // The attributes carry a label the list does not: from Docker the watch must not take labels
  // from here.
  return R"({"Type":"container","Action":")" + action + R"(","Actor":{"ID":")" + kId +
         R"(","Attributes":{"app":"from-the-event","containerExitCode":"0","image":"busybox",)"
         R"("name":"web","podId":""}},"timeNano":1})" +
         "\n";
}

enum class Engine { docker, podman };

std::string chunk(const std::string& data) {
  char size[16];
  std::snprintf(size, sizeof size, "%zx", data.size());
  return std::string(size) + "\r\n" + data + "\r\n";
}

// Serves connections one after another: the events stream gets `events` with a pause between
// them and is then held open; /version says which engine it is; a list gets one container.
class FakeEngine {
 public:
  explicit FakeEngine(std::vector<std::string> events, Engine engine = Engine::docker)
      : events_(std::move(events)), engine_(engine) {
    char tmpl[] = "/tmp/bhcw.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/engine.sock";
    acceptor_ = std::make_unique<local::acceptor>(ioc_, local::endpoint(path_));
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeEngine() {
    stopping_ = true;
    // A blocking accept is not woken by closing its acceptor: a connection wakes it.
    boost::system::error_code ec;
    local::socket waker(ioc_);
    waker.connect(local::endpoint(path_), ec);
    for (auto& t : held_) t.join();
    thread_.join();
    std::filesystem::remove_all(dir_);
  }
  const std::string& path() const { return path_; }
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void serve() {
    while (!stopping_) {
      auto peer = std::make_shared<local::socket>(ioc_);
      boost::system::error_code ec;
      acceptor_->accept(*peer, ec);
      if (ec || stopping_) return;
      asio::streambuf head;
      asio::read_until(*peer, head, "\r\n\r\n", ec);
      std::string line;
      std::istream in(&head);
      std::getline(in, line);
      {
        std::lock_guard lock(mu_);
        requests_.push_back(line);
      }
      if (line.find("/events") != std::string::npos) {
        held_.emplace_back([this, peer] { stream_events(*peer); });
        continue;
      }
      const std::string body =
          line.find("/version") == std::string::npos
              ? R"([{"Id":")" + kId + R"(","Names":["/web"],"Labels":{"app":"web"}}])"
          : engine_ == Engine::podman
              ? R"({"Components":[{"Name":"Podman Engine","Version":"4.3.1"}]})"
              : R"({"Components":[{"Name":"Engine","Version":"28.2.2"}]})";
      const std::string resp =
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
          "Content-Length: " +
          std::to_string(body.size()) + "\r\n\r\n" + body;
      asio::write(*peer, asio::buffer(resp), ec);
    }
  }
  void stream_events(local::socket& peer) {
    boost::system::error_code ec;
    asio::write(peer,
                asio::buffer(std::string("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                         "Transfer-Encoding: chunked\r\n\r\n")),
                ec);
    for (const auto& e : events_) {
      std::this_thread::sleep_for(300ms);
      asio::write(peer, asio::buffer(chunk(e)), ec);
    }
    while (!stopping_) std::this_thread::sleep_for(10ms);
  }

  asio::io_context ioc_;
  std::vector<std::string> events_;
  Engine engine_;
  std::string dir_;
  std::string path_;
  std::unique_ptr<local::acceptor> acceptor_;
  std::thread thread_;
  std::vector<std::thread> held_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::vector<std::string> requests_;
};

template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 200; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

TEST(CreatedWatch, ACreateEventPrefetchesTheListEntry) {
  FakeEngine engine({event("create")});
  CreatedWatch watch(engine.path(), 1s);
  ASSERT_TRUE(eventually([&] { return watch.find(kId).has_value(); }));
  auto c = watch.find(kId);
  EXPECT_EQ(c->name, "web");
  EXPECT_EQ(c->labels, (policy::Labels{{"app", "web"}}));  // the list's, not the event's
  EXPECT_TRUE(c->hidden.empty());
  auto requests = engine.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_NE(requests[0].find("/version"), std::string::npos) << requests[0];
  EXPECT_NE(requests[1].find("/events?filters="), std::string::npos) << requests[1];
  EXPECT_EQ(requests[2], "GET " + list_target({kId}) + " HTTP/1.1\r");
}

TEST(CreatedWatch, FromPodmanTheCreateEventsLabelsAreHeldWithoutAList) {
  FakeEngine engine({event("create")}, Engine::podman);
  CreatedWatch watch(engine.path(), 1s);
  ASSERT_TRUE(eventually([&] { return watch.find(kId).has_value(); }));
  auto c = watch.find(kId);
  EXPECT_EQ(c->name, "web");
  EXPECT_EQ(c->labels, (policy::Labels{{"app", "from-the-event"}}));
  EXPECT_EQ(c->hidden, (std::set<std::string>{"containerExitCode", "image", "name", "podId"}));
  for (const auto& r : engine.requests())
    EXPECT_EQ(r.find("/containers/json"), std::string::npos) << r;
}

TEST(CreatedWatch, FromPodmanAFindWaitsForALateCreateEvent) {
  // The fake sends its event 300 ms after the stream opens, as Podman's come late.
  FakeEngine engine({event("create")}, Engine::podman);
  CreatedWatch watch(engine.path(), 1s);
  std::this_thread::sleep_for(150ms);  // it learns which engine this is as it connects
  auto c = watch.find(kId, std::chrono::steady_clock::now() + 3s);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->labels, (policy::Labels{{"app", "from-the-event"}}));
}

TEST(CreatedWatch, FromDockerAFindDoesNotWaitTheGateListsInstead) {
  FakeEngine engine({event("create")});
  CreatedWatch watch(engine.path(), 1s);
  std::this_thread::sleep_for(150ms);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(watch.find(kId, t0 + 3s).has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 100ms);  // a wait would have found it
}

TEST(CreatedWatch, ADestroyEventForgetsIt) {
  FakeEngine engine({event("create"), event("destroy")});
  CreatedWatch watch(engine.path(), 1s);
  ASSERT_TRUE(eventually([&] { return watch.find(kId).has_value(); }));
  EXPECT_TRUE(eventually([&] { return !watch.find(kId).has_value(); }));
  EXPECT_EQ(watch.held(), 0u);
}

TEST(CreatedWatch, AnEngineThatIsNotThereHoldsNothingAndStopsPromptly) {
  const auto t0 = std::chrono::steady_clock::now();
  {
    CreatedWatch watch("/tmp/bulkhead-no-such-engine.sock", 1s);
    std::this_thread::sleep_for(50ms);
    EXPECT_FALSE(watch.find(kId).has_value());
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
}

}  // namespace
}  // namespace bulkhead::daemon
