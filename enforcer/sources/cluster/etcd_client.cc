#include "enforcer/sources/cluster/etcd_client.h"

#include <nlohmann/json.hpp>

#include "enforcer/sources/cluster/record.h"

namespace bulkhead::daemon::etcd {
namespace {

using Json = nlohmann::json;
using cluster::base64_encode;

// {"error":"etcdserver: ...","code":N,"message":"..."}, or the raw text.
std::string error_text(const http::Response& res) {
  auto j = Json::parse(res.body, nullptr, false);
  std::string msg;
  if (j.is_object()) {
    if (j.contains("message") && j["message"].is_string()) msg = j["message"].get<std::string>();
    if (msg.empty() && j.contains("error") && j["error"].is_string())
      msg = j["error"].get<std::string>();
  }
  if (msg.empty()) msg = res.body.substr(0, 200);
  return "HTTP " + std::to_string(res.status) + ": " + msg;
}

}  // namespace

Result<std::unique_ptr<Client>> Client::create(const Config& config) {
  if (config.urls.empty()) return make_error("etcd", "no URL");
  std::vector<std::unique_ptr<http::Client>> members;
  http::Limits limits;
  limits.max_line = 64u << 20;  // one watch response may carry a burst of thousands of events
  for (const auto& url : config.urls) {
    auto server = http::Server::from_url(url, config.tls);
    if (!server) return server.error();
    members.push_back(std::make_unique<http::Client>(*server, config.timeout, limits));
  }
  return std::unique_ptr<Client>(new Client(std::move(members)));
}

Client::Client(std::vector<std::unique_ptr<http::Client>> members) : members_(std::move(members)) {}

Client::~Client() = default;

void Client::interrupt() {
  for (auto& m : members_) m->interrupt();
}

std::string Client::current_url() const { return members_[current_]->server().describe(); }

Result<std::string> Client::call(const std::string& path, const std::string& body) {
  Error last;
  for (size_t i = 0; i < members_.size(); ++i) {
    const size_t idx = (current_ + i) % members_.size();
    auto res = members_[idx]->post(path, body);
    if (!res) {
      last = res.error();
      if (last.code == ECANCELED) return last;
      continue;  // unreachable member: try the next
    }
    current_ = idx;
    if (res->status != 200) return make_error("etcd " + path, error_text(*res));
    return std::move(res->body);
  }
  return last;
}

Result<RangeResult> Client::range(const std::string& key, const std::string& range_end,
                                  bool keys_only) {
  Json req = {{"key", base64_encode(key)}};
  if (!range_end.empty()) req["range_end"] = base64_encode(range_end);
  if (keys_only) req["keys_only"] = true;
  auto body = call("/v3/kv/range", req.dump());
  if (!body) return body.error();
  return parse_range_response(*body);
}

Result<int64_t> Client::put(const std::string& key, const std::string& value, int64_t lease) {
  Json req = {{"key", base64_encode(key)}, {"value", base64_encode(value)}};
  if (lease != 0) req["lease"] = std::to_string(lease);
  auto body = call("/v3/kv/put", req.dump());
  if (!body) return body.error();
  return parse_put_response(*body);
}

Result<int64_t> Client::delete_range(const std::string& key, const std::string& range_end) {
  Json req = {{"key", base64_encode(key)}};
  if (!range_end.empty()) req["range_end"] = base64_encode(range_end);
  auto body = call("/v3/kv/deleterange", req.dump());
  if (!body) return body.error();
  return parse_delete_response(*body);
}

Status Client::txn(const std::vector<Op>& ops) {
  if (ops.empty()) return {};
  if (ops.size() > kMaxTxnOps) return make_error("etcd txn", "too many operations");
  Json success = Json::array();
  for (const auto& op : ops) {
    if (op.kind == Op::Kind::put) {
      Json put = {{"key", base64_encode(op.key)}, {"value", base64_encode(op.value)}};
      if (op.lease != 0) put["lease"] = std::to_string(op.lease);
      success.push_back({{"request_put", put}});
    } else {
      success.push_back({{"request_delete_range", {{"key", base64_encode(op.key)}}}});
    }
  }
  auto body = call("/v3/kv/txn", Json{{"success", success}}.dump());
  if (!body) return body.error();
  return parse_txn_response(*body);
}

Result<Client::Lease> Client::lease_grant(int64_t ttl_seconds) {
  auto body = call("/v3/lease/grant", Json{{"TTL", std::to_string(ttl_seconds)}}.dump());
  if (!body) return body.error();
  return parse_lease_grant_response(*body);
}

Result<int64_t> Client::lease_keepalive(int64_t id) {
  // A streaming call on the gateway: one request, one {"result":...} line, then the end.
  auto body = call("/v3/lease/keepalive", Json{{"ID", std::to_string(id)}}.dump());
  if (!body) return body.error();
  return parse_keepalive_response(*body);
}

Status Client::lease_revoke(int64_t id) {
  auto body = call("/v3/lease/revoke", Json{{"ID", std::to_string(id)}}.dump());
  if (!body) return body.error();
  return {};
}

Result<std::unique_ptr<Watch>> Client::watch(const std::string& key, const std::string& range_end,
                                             int64_t start_revision,
                                             std::chrono::milliseconds header_timeout) {
  Json create = {{"key", base64_encode(key)}};
  if (!range_end.empty()) create["range_end"] = base64_encode(range_end);
  if (start_revision > 0) create["start_revision"] = std::to_string(start_revision);
  const std::string body = Json{{"create_request", create}}.dump();
  Error last;
  for (size_t i = 0; i < members_.size(); ++i) {
    const size_t idx = (current_ + i) % members_.size();
    auto stream = members_[idx]->open_stream(http::Method::post, "/v3/watch", body, header_timeout);
    if (!stream) {
      last = stream.error();
      if (last.code == ECANCELED) return last;
      continue;
    }
    current_ = idx;
    return std::unique_ptr<Watch>(new Watch(std::move(*stream)));
  }
  return last;
}

Watch::~Watch() = default;

Result<WatchResponse> Watch::next(http::Client::Clock::time_point deadline) {
  auto line = stream_->next_line(deadline);
  if (!line) return line.error();
  return parse_watch_response(*line);
}

}  // namespace bulkhead::daemon::etcd
