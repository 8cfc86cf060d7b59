#include "enforcer/sources/docker/json.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

namespace bulkhead::daemon::docker {
namespace {

using json = nlohmann::json;

// Linux caps pids at 2^22; anything larger is not a process this host can have.
constexpr int64_t kMaxPid = 1 << 22;

// Walks a document and remembers the first problem, so each parser reads like the schema it
// expects instead of a ladder of type checks.
class Reader {
 public:
  explicit Reader(std::string op) : op_(std::move(op)) {}

  bool failed() const { return !problem_.empty(); }
  Error error() const { return make_error(op_, problem_); }
  void fail(const std::string& what) {
    if (problem_.empty()) problem_ = what;
  }

  // A member that may be absent or null (nullptr then); any other non-object parent fails.
  const json* member(const json* obj, const char* key, const std::string& path) {
    if (obj == nullptr) return nullptr;
    if (!obj->is_object()) {
      fail(path + ": expected an object");
      return nullptr;
    }
    auto it = obj->find(key);
    if (it == obj->end() || it->is_null()) return nullptr;
    return &*it;
  }

  std::string string(const json* obj, const char* key, const std::string& path,
                     bool required = false) {
    const json* v = member(obj, key, path);
    if (v == nullptr) {
      if (required) fail(path + "." + key + ": missing");
      return {};
    }
    if (!v->is_string()) {
      fail(path + "." + key + ": expected a string");
      return {};
    }
    return v->get<std::string>();
  }

  bool boolean(const json* obj, const char* key, const std::string& path) {
    const json* v = member(obj, key, path);
    if (v == nullptr) return false;
    if (!v->is_boolean()) {
      fail(path + "." + key + ": expected true or false");
      return false;
    }
    return v->get<bool>();
  }

  // An integer in [lo, hi]; absent is 0.
  int64_t integer(const json* obj, const char* key, const std::string& path, int64_t lo,
                  int64_t hi) {
    const json* v = member(obj, key, path);
    if (v == nullptr) return 0;
    if (v->is_number_unsigned()) {
      auto u = v->get<uint64_t>();
      if (u > static_cast<uint64_t>(hi)) {
        fail(path + "." + key + ": out of range");
        return 0;
      }
      return static_cast<int64_t>(u);
    }
    if (!v->is_number_integer()) {
      fail(path + "." + key + ": expected an integer");
      return 0;
    }
    auto i = v->get<int64_t>();
    if (i < lo || i > hi) {
      fail(path + "." + key + ": out of range");
      return 0;
    }
    return i;
  }

  // An object of string values (labels, event attributes); absent or null is empty.
  policy::Labels string_map(const json* obj, const char* key, const std::string& path) {
    policy::Labels out;
    const json* v = member(obj, key, path);
    if (v == nullptr) return out;
    if (!v->is_object()) {
      fail(path + "." + key + ": expected an object");
      return out;
    }
    for (const auto& [k, val] : v->items()) {
      if (!val.is_string()) {
        fail(path + "." + key + "." + k + ": expected a string");
        return out;
      }
      out.emplace(k, val.get<std::string>());
    }
    return out;
  }

  std::vector<std::string> strings(const json* obj, const char* key, const std::string& path) {
    std::vector<std::string> out;
    const json* v = member(obj, key, path);
    if (v == nullptr) return out;
    if (!v->is_array()) {
      fail(path + "." + key + ": expected an array");
      return out;
    }
    for (const auto& s : *v) {
      if (!s.is_string()) {
        fail(path + "." + key + ": expected strings");
        return out;
      }
      out.push_back(s.get<std::string>());
    }
    return out;
  }

 private:
  std::string op_;
  std::string problem_;
};

std::optional<json> parse(std::string_view text) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return std::nullopt;
  return doc;
}

std::string strip_slash(std::string name) {
  if (!name.empty() && name.front() == '/') name.erase(0, 1);
  return name;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Either spelling (NET_ADMIN, CAP_NET_ADMIN) in either case. SYS_ADMIN also allows changing the
// namespace's firewall; ALL includes both.
bool grants_net_admin(const std::vector<std::string>& caps) {
  return std::any_of(caps.begin(), caps.end(), [](const std::string& c) {
    std::string u = upper(c);
    if (u.rfind("CAP_", 0) == 0) u.erase(0, 4);
    return u == "NET_ADMIN" || u == "SYS_ADMIN" || u == "ALL";
  });
}

}  // namespace

Result<std::vector<ContainerRef>> parse_container_list(std::string_view text) {
  Reader r("docker list");
  auto doc = parse(text);
  if (!doc) return make_error("docker list", "not JSON");
  if (!doc->is_array()) return make_error("docker list", "expected an array");
  std::vector<ContainerRef> out;
  for (size_t i = 0; i < doc->size(); ++i) {
    const json* c = &(*doc)[i];
    std::string path = "[" + std::to_string(i) + "]";
    if (!c->is_object()) return make_error("docker list", path + ": expected an object");
    ContainerRef ref;
    ref.id = r.string(c, "Id", path, /*required=*/true);
    auto names = r.strings(c, "Names", path);
    if (!names.empty()) ref.name = strip_slash(names.front());
    ref.state = r.string(c, "State", path);
    ref.labels = r.string_map(c, "Labels", path);
    ref.network_mode =
        r.string(r.member(c, "HostConfig", path), "NetworkMode", path + ".HostConfig");
    if (r.failed()) return r.error();
    if (ref.id.empty()) return make_error("docker list", path + ".Id: empty");
    out.push_back(std::move(ref));
  }
  return out;
}

Result<ContainerInfo> parse_container_inspect(std::string_view text) {
  Reader r("docker inspect");
  auto parsed = parse(text);
  if (!parsed) return make_error("docker inspect", "not JSON");
  const json* doc = &*parsed;
  if (!doc->is_object()) return make_error("docker inspect", "expected an object");
  ContainerInfo info;
  info.id = r.string(doc, "Id", "", /*required=*/true);
  info.name = strip_slash(r.string(doc, "Name", "", /*required=*/true));

  const json* config = r.member(doc, "Config", "");
  info.labels = r.string_map(config, "Labels", "Config");

  const json* state = r.member(doc, "State", "");
  info.running = r.boolean(state, "Running", "State");
  info.pid = r.integer(state, "Pid", "State", 0, kMaxPid);

  const json* host = r.member(doc, "HostConfig", "");
  info.network_mode = r.string(host, "NetworkMode", "HostConfig");
  info.privileged = r.boolean(host, "Privileged", "HostConfig");
  info.net_admin = grants_net_admin(r.strings(host, "CapAdd", "HostConfig"));

  const json* settings = r.member(doc, "NetworkSettings", "");
  const json* networks = r.member(settings, "Networks", "NetworkSettings");
  if (networks != nullptr && !networks->is_object()) {
    r.fail("NetworkSettings.Networks: expected an object");
  } else if (networks != nullptr) {
    for (const auto& [net, ep] : networks->items()) {
      std::string path = "NetworkSettings.Networks." + net;
      for (const char* key : {"IPAddress", "GlobalIPv6Address"}) {
        std::string text_addr = r.string(&ep, key, path);
        if (text_addr.empty()) continue;
        auto addr = policy::IpAddr::parse(text_addr);
        if (!addr) {
          r.fail(path + "." + key + ": not an IP address: " + text_addr.substr(0, 64));
          continue;
        }
        info.addresses.push_back(*addr);
      }
    }
  }
  if (r.failed()) return r.error();
  if (info.id.empty()) return make_error("docker inspect", "Id: empty");
  if (info.name.empty()) return make_error("docker inspect", "Name: empty");
  std::sort(info.addresses.begin(), info.addresses.end());
  info.addresses.erase(std::unique(info.addresses.begin(), info.addresses.end()),
                       info.addresses.end());
  return info;
}

Result<Event> parse_event(std::string_view text) {
  Reader r("docker event");
  auto parsed = parse(text);
  if (!parsed) return make_error("docker event", "not JSON");
  const json* doc = &*parsed;
  if (!doc->is_object()) return make_error("docker event", "expected an object");
  Event e;
  e.type = r.string(doc, "Type", "", /*required=*/true);
  e.action = r.string(doc, "Action", "", /*required=*/true);
  const json* actor = r.member(doc, "Actor", "");
  if (actor == nullptr) r.fail("Actor: missing");
  e.actor_id = r.string(actor, "ID", "Actor");
  auto attributes = r.string_map(actor, "Attributes", "Actor");
  e.time_nano = r.integer(doc, "timeNano", "", 0, std::numeric_limits<int64_t>::max());
  if (r.failed()) return r.error();
  if (e.type == "network") {
    // Docker names the network as the actor and the container in an attribute; Podman makes the
    // container the actor.
    auto it = attributes.find("container");
    e.container_id = it != attributes.end() ? it->second : e.actor_id;
  }
  e.attributes = std::move(attributes);
  return e;
}

bool version_is_podman(std::string_view body) {
  auto parsed = parse(body);
  if (!parsed || !parsed->is_object()) return false;
  auto components = parsed->find("Components");
  if (components == parsed->end() || !components->is_array()) return false;
  for (const auto& c : *components) {
    if (!c.is_object()) continue;
    auto name = c.find("Name");
    if (name != c.end() && name->is_string() && name->get<std::string>() == "Podman Engine")
      return true;
  }
  return false;
}

std::string parse_error_message(std::string_view body) {
  constexpr size_t kMax = 200;
  auto parsed = parse(body);
  if (parsed && parsed->is_object()) {
    auto it = parsed->find("message");
    if (it != parsed->end() && it->is_string()) return it->get<std::string>().substr(0, kMax);
  }
  std::string s(body.substr(0, kMax));
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

bool event_matters(const Event& e) {
  // Podman says "remove" where Docker says "destroy".
  static constexpr std::array<std::string_view, 10> kContainer = {
      "create",  "start",  "restart", "die",    "stop",
      "destroy", "remove", "rename",  "update", "unpause"};
  if (e.type == "container") {
    return std::find(kContainer.begin(), kContainer.end(), e.action) != kContainer.end();
  }
  if (e.type == "network") {
    return (e.action == "connect" || e.action == "disconnect") && !e.container_id.empty();
  }
  return false;
}

}  // namespace bulkhead::daemon::docker
