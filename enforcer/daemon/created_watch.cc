#include "enforcer/daemon/created_watch.h"

#include <algorithm>
#include <cerrno>
#include <set>

#include "enforcer/log/log.h"
#include "enforcer/sources/docker/json.h"

namespace bulkhead::daemon {
namespace {

using namespace std::chrono_literals;

// {"type":["container"],"event":["create","destroy","remove"]}, percent-encoded. Podman says
// "remove" where Docker says "destroy".
constexpr const char* kCreateFilters =
    "%7B%22type%22%3A%5B%22container%22%5D%2C%22event%22%3A%5B%22create%22%2C%22destroy%22%2C%"
    "22remove%22%5D%7D";

// The attributes Podman writes over a container's labels of the same name.
const std::set<std::string> kPodmanAttributes = {"containerExitCode", "image", "name", "podId"};

}  // namespace

ListedContainer entry_of_podman_create(const std::string& id, const policy::Labels& attributes) {
  ListedContainer c{id, "", {}, kPodmanAttributes};
  for (const auto& [k, v] : attributes)
    if (kPodmanAttributes.count(k) == 0) c.labels.emplace(k, v);
  if (auto name = attributes.find("name"); name != attributes.end()) c.name = name->second;
  return c;
}

Result<std::map<std::string, ListedContainer>> list_by_id(docker::DockerClient& client,
                                                          const std::vector<std::string>& ids) {
  auto resp = client.get(list_target(ids));
  if (!resp.ok()) return resp.error();
  if (resp->status != 200)
    return make_error("engine list", "answered " + std::to_string(resp->status) + ": " +
                                         docker::parse_error_message(resp->body));
  auto list = docker::parse_container_list(resp->body);
  if (!list.ok()) return list.error();
  std::map<std::string, ListedContainer> found;
  // The engine's id filter also matches prefixes: take the exact ones.
  for (auto& c : *list)
    if (std::find(ids.begin(), ids.end(), c.id) != ids.end())
      found[c.id] = {c.id, std::move(c.name), std::move(c.labels), {}};
  return found;
}

CreatedWatch::CreatedWatch(std::string socket, std::chrono::milliseconds timeout)
    : events_(std::make_unique<docker::DockerClient>(socket, timeout)),
      list_(std::make_unique<docker::DockerClient>(std::move(socket), timeout)),
      thread_(&CreatedWatch::run, this) {}

CreatedWatch::~CreatedWatch() {
  {
    std::lock_guard lock(wait_mu_);
    stopping_.store(true);
  }
  wait_cv_.notify_all();
  events_->interrupt();
  list_->interrupt();
  thread_.join();
}

std::optional<ListedContainer> CreatedWatch::find(const std::string& id) const {
  return find(id, std::chrono::steady_clock::now());  // a deadline reached: no wait
}

std::optional<ListedContainer> CreatedWatch::find(
    const std::string& id, std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  auto it = held_.find(id);
  if (it == held_.end() && podman_.load())
    held_cv_.wait_until(lock, deadline, [&] { return (it = held_.find(id)) != held_.end(); });
  if (it == held_.end()) return std::nullopt;
  return it->second;
}

size_t CreatedWatch::held() const {
  std::lock_guard lock(mu_);
  return held_.size();
}

void CreatedWatch::run() {
  while (!stopping_.load()) {
    // Asked at every connection: the engine behind the socket may have been replaced.
    auto version = list_->get(std::string(docker::kApiPrefix) + "/version");
    const bool podman = version.ok() && docker::version_is_podman(version->body);
    podman_.store(podman);
    auto stream = events_->open_stream(
        std::string(docker::kApiPrefix) + "/events?filters=" + kCreateFilters, 2s);
    // An engine that is not up yet: the gate lists by itself meanwhile.
    if (stream.ok()) {
      log::debug("start gate: following create events", {{"engine", podman ? "podman" : "docker"}});
      follow(**stream, podman);
    }
    if (!pause(500ms)) return;
  }
}

void CreatedWatch::follow(docker::BodyStream& stream, bool podman) {
  while (!stopping_.load()) {
    auto line = stream.next_line(docker::DockerClient::Clock::now() + 10min);
    if (!line) {
      if (line.error().code != ETIMEDOUT || stopping_.load()) return;
      continue;  // a quiet engine: the stream was closed; the caller reconnects
    }
    auto event = docker::parse_event(*line);
    if (!event || event->type != "container") continue;
    log::debug("start gate: engine event", {{"id", event->actor_id}, {"action", event->action}});
    if (event->action == "create" && podman)
      hold(entry_of_podman_create(event->actor_id, event->attributes));
    else if (event->action == "create")
      prefetch(event->actor_id);
    else
      forget(event->actor_id);
  }
}

void CreatedWatch::prefetch(const std::string& id) {
  auto found = list_by_id(*list_, {id});
  if (!found.ok()) {
    log::debug("start gate: prefetch failed", {{"id", id}, {"error", found.error().to_string()}});
    return;
  }
  auto it = found->find(id);
  if (it == found->end()) return;  // removed already
  hold(std::move(it->second));
}

void CreatedWatch::hold(ListedContainer c) {
  {
    std::lock_guard lock(mu_);
    const std::string id = c.id;
    if (held_.emplace(id, std::move(c)).second) order_.push_back(id);
    while (held_.size() > kMaxHeld) {
      held_.erase(order_.front());
      order_.pop_front();
    }
  }
  held_cv_.notify_all();
}

void CreatedWatch::forget(const std::string& id) {
  std::lock_guard lock(mu_);
  if (held_.erase(id) == 0) return;
  order_.erase(std::find(order_.begin(), order_.end(), id));
}

bool CreatedWatch::pause(std::chrono::milliseconds d) {
  std::unique_lock lock(wait_mu_);
  return !wait_cv_.wait_for(lock, d, [this] { return stopping_.load(); });
}

}  // namespace bulkhead::daemon
