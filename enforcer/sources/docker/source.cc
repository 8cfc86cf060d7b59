#include "enforcer/sources/docker/source.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "enforcer/log/log.h"
#include "netlink/ns/netns.h"

namespace bulkhead::daemon {
namespace {

using docker::DockerClient;

// {"type":["container","network"]}, percent-encoded for the query string.
constexpr const char* kEventFilters = "%7B%22type%22%3A%5B%22container%22%2C%22network%22%5D%7D";

// Engine ids are hex; anything else is not put into a request path.
bool plausible_id(const std::string& id) {
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '_' || c == '.';
  });
}

// Docker answers 404 for a container that no longer exists; Podman, for one removed while it
// was being inspected, 500 "...: no such container".
bool gone(const docker::HttpResponse& res) {
  return res.status == 404 || (res.status == 500 && docker::parse_error_message(res.body).find(
                                                        "no such container") != std::string::npos);
}

std::string api(const std::string& path) { return std::string(docker::kApiPrefix) + path; }

Error http_error(const std::string& op, const docker::HttpResponse& res) {
  return make_error(
      op, "HTTP " + std::to_string(res.status) + ": " + docker::parse_error_message(res.body));
}

// Last line of defence for "never program the host's namespace": whatever the engine says, an
// endpoint whose namespace is the one bulkhead started in is not an endpoint. A namespace that
// cannot be found (the process just exited, or bulkhead cannot see the engine's pids) is
// reported rather than silently dropped.
void check_namespaces(docker::EndpointView& view) {
  policy::Endpoints keep;
  for (auto& ep : view.endpoints) {
    auto host = netlink::is_start_netns(ep.netns);
    if (!host.ok()) {
      view.unenforceable.push_back({ep.name, ep.netns + ": " + std::strerror(host.error().code)});
    } else if (*host) {
      view.unenforceable.push_back({ep.name, "its network namespace is the host's"});
    } else {
      keep.push_back(std::move(ep));
    }
  }
  view.endpoints = std::move(keep);
  std::sort(view.unenforceable.begin(), view.unenforceable.end(),
            [](const Unenforceable& a, const Unenforceable& b) { return a.name < b.name; });
}

}  // namespace

DockerSource::DockerSource(std::string socket_path)
    : DockerSource(Options{.socket_path = std::move(socket_path)}) {}

DockerSource::DockerSource(Options options) : options_(std::move(options)) {}

DockerSource::~DockerSource() { stop(); }

std::string DockerSource::name() const { return "docker:" + options_.socket_path; }

Status DockerSource::start(std::function<void()> changed) {
  if (thread_.joinable()) return make_error("start " + name(), "already started");
  changed_ = changed ? std::move(changed) : [] {};
  stopping_.store(false);
  client_ = std::make_unique<DockerClient>(options_.socket_path, options_.request_timeout);
  try {
    thread_ = std::thread(&DockerSource::run, this);
  } catch (const std::system_error& e) {
    return make_error("start " + name(), e.what(), e.code().value());
  }
  return {};
}

void DockerSource::stop() {
  {
    std::lock_guard lock(wait_mu_);
    stopping_.store(true);
  }
  wait_cv_.notify_all();
  if (client_) client_->interrupt();
  if (thread_.joinable()) thread_.join();
  client_.reset();
}

Snapshot DockerSource::snapshot() {
  std::lock_guard lock(mu_);
  return snapshot_;
}

void DockerSource::run() {
  auto backoff = options_.backoff_min;
  while (!stopping_.load()) {
    bool listed = false;
    Status s = session(*client_, listed);
    if (stopping_.load()) break;
    if (s.ok()) continue;  // the periodic resync: reconnect and list again at once
    // Only a new problem is logged and signalled: retries of the same one are not news.
    std::string error = s.error().to_string();
    bool is_new = false;
    {
      std::lock_guard lock(mu_);
      is_new = snapshot_.error != error;
      snapshot_.error = error;
    }
    if (is_new) {
      log::warn("docker source: engine unreachable, keeping the last known endpoints",
                {{"source", name()}, {"error", error}});
      changed_();
    }
    if (listed) backoff = options_.backoff_min;
    if (!sleep_unless_stopped(backoff)) break;
    backoff = std::min(backoff * 2, options_.backoff_max);
  }
}

bool DockerSource::sleep_unless_stopped(std::chrono::milliseconds d) {
  std::unique_lock lock(wait_mu_);
  return !wait_cv_.wait_for(lock, d, [this] { return stopping_.load(); });
}

Status DockerSource::session(DockerClient& client, bool& listed) {
  listed = false;
  // Subscribe first, then list: whatever happens during the list waits in the stream.
  auto stream = client.open_stream(api(std::string("/events?filters=") + kEventFilters),
                                   options_.stream_open_timeout);
  if (!stream) return stream.error();
  if (Status s = reconcile(client); !s) return s;
  listed = true;
  const auto deadline = DockerClient::Clock::now() + options_.resync_interval;
  for (;;) {
    auto line = (*stream)->next_line(deadline);
    if (!line) {
      if (line.error().code == ETIMEDOUT && DockerClient::Clock::now() >= deadline) return {};
      return line.error();
    }
    auto event = docker::parse_event(*line);
    if (!event) {
      // The next list repairs whatever this event would have changed.
      log::warn("docker source: ignoring an event", {{"error", event.error().to_string()}});
      continue;
    }
    if (!docker::event_matters(*event)) continue;
    const std::string& id = event->type == "network" ? event->container_id : event->actor_id;
    if (event->type == "container" && (event->action == "destroy" || event->action == "remove")) {
      containers_.erase(id);
      unusable_.erase(id);
    } else if (Status s = refresh(client, id); !s) {
      return s;
    }
    log_event(*event, id);
    publish();
  }
}

Status DockerSource::reconcile(DockerClient& client) {
  const std::string op = "docker list";
  auto res = client.get(api("/containers/json"));
  if (!res) return res.error();
  if (res->status != 200) return http_error(op, *res);
  auto refs = docker::parse_container_list(res->body);
  if (!refs) return refs.error();

  std::map<std::string, docker::ContainerInfo> fresh;
  std::map<std::string, Unenforceable> unusable;
  for (const auto& ref : *refs) {
    std::string shown = ref.name.empty() ? ref.id.substr(0, 12) : ref.name;
    if (!plausible_id(ref.id)) {
      unusable[ref.id] = {shown, "the engine gave an invalid container id"};
      continue;
    }
    auto inspect = client.get(api("/containers/" + ref.id + "/json"));
    if (!inspect) return inspect.error();
    if (gone(*inspect)) continue;  // removed since the list
    if (inspect->status != 200) return http_error("docker inspect " + shown, *inspect);
    auto info = docker::parse_container_inspect(inspect->body);
    if (!info) {
      unusable[ref.id] = {shown, info.error().to_string()};
      continue;
    }
    fresh[ref.id] = std::move(*info);
  }
  containers_ = std::move(fresh);
  unusable_ = std::move(unusable);
  ++relists_;
  log::debug("docker list", {{"containers", std::to_string(containers_.size())},
                             {"unusable", std::to_string(unusable_.size())}});
  publish();
  return {};
}

Status DockerSource::refresh(DockerClient& client, const std::string& id) {
  if (!plausible_id(id)) return {};
  auto inspect = client.get(api("/containers/" + id + "/json"));
  if (!inspect) return inspect.error();
  if (gone(*inspect)) {
    containers_.erase(id);
    unusable_.erase(id);
    return {};
  }
  if (inspect->status != 200) return http_error("docker inspect " + id.substr(0, 12), *inspect);
  auto info = docker::parse_container_inspect(inspect->body);
  if (!info) {
    containers_.erase(id);
    unusable_[id] = {id.substr(0, 12), info.error().to_string()};
    return {};
  }
  unusable_.erase(id);
  containers_[id] = std::move(*info);
  return {};
}

void DockerSource::log_event(const docker::Event& event, const std::string& id) const {
  if (!spdlog::should_log(spdlog::level::debug)) return;
  auto it = containers_.find(id);
  log::debug(
      "docker event",
      {{"type", event.type},
       {"action", event.action},
       {"id", id.substr(0, 12)},
       {"name", it == containers_.end() ? "" : it->second.name},
       {"pid", it == containers_.end() ? "-" : std::to_string(it->second.pid)},
       {"addresses", it == containers_.end() ? "-" : std::to_string(it->second.addresses.size())}});
}

void DockerSource::publish() {
  std::vector<docker::ContainerInfo> all;
  all.reserve(containers_.size());
  for (const auto& [id, info] : containers_) all.push_back(info);
  docker::EndpointView view = docker::build_endpoints(all);
  for (const auto& [id, u] : unusable_) view.unenforceable.push_back(u);
  check_namespaces(view);
  {
    std::lock_guard lock(mu_);
    docker::EndpointView old{snapshot_.endpoints, snapshot_.unenforceable};
    if (snapshot_.ready && snapshot_.error.empty() && docker::same_view(old, view)) return;
    snapshot_.ready = true;
    snapshot_.error.clear();
    snapshot_.endpoints = std::move(view.endpoints);
    snapshot_.unenforceable = std::move(view.unenforceable);
  }
  changed_();
}

}  // namespace bulkhead::daemon
