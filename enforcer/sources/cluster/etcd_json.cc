#include "enforcer/sources/cluster/etcd_json.h"

#include <nlohmann/json.hpp>

#include "enforcer/sources/cluster/record.h"

namespace bulkhead::daemon::etcd {
namespace {

using Json = nlohmann::json;
using cluster::base64_decode;

// The gateway writes int64 fields as JSON strings and leaves out fields at their zero value.
int64_t num(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    try {
      return std::stoll(it->get<std::string>());
    } catch (const std::exception&) {
      return 0;
    }
  }
  return 0;
}

// A string field, "" when absent or of another type: the store's content is not trusted to have
// the shape etcd gives it.
std::string text(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// {"error": {"message": ...}} or {"error": "..."}, as one line of text.
std::string error_message(const Json& e) {
  if (e.is_string()) return e.get<std::string>();
  if (e.is_object() && !text(e, "message").empty()) return text(e, "message");
  return e.dump();
}

bool flag(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

Result<KeyValue> parse_kv(const Json& j) {
  KeyValue kv;
  auto key = base64_decode(text(j, "key"));
  auto value = base64_decode(text(j, "value"));
  if (!key || !value) return make_error("etcd", "bad base64 in a key or value");
  kv.key = std::move(*key);
  kv.value = std::move(*value);
  kv.create_revision = num(j, "create_revision");
  kv.mod_revision = num(j, "mod_revision");
  kv.lease = num(j, "lease");
  return kv;
}

Result<Json> parse_object(const std::string& text, const char* what) {
  auto j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return make_error("etcd", std::string(what) + ": the answer is not a JSON object");
  return j;
}

}  // namespace

Result<RangeResult> parse_range_response(const std::string& body) {
  auto j = parse_object(body, "range");
  if (!j) return j.error();
  RangeResult r;
  if (auto h = j->find("header"); h != j->end() && h->is_object()) r.revision = num(*h, "revision");
  if (auto kvs = j->find("kvs"); kvs != j->end() && kvs->is_array()) {
    for (const auto& e : *kvs) {
      if (!e.is_object()) return make_error("etcd range", "a kv is not an object");
      auto kv = parse_kv(e);
      if (!kv) return kv.error();
      r.kvs.push_back(std::move(*kv));
    }
  }
  return r;
}

Result<WatchResponse> parse_watch_response(const std::string& line) {
  auto j = parse_object(line, "watch");
  if (!j) return j.error();
  if (auto e = j->find("error"); e != j->end()) return make_error("etcd watch", error_message(*e));
  auto res = j->find("result");
  if (res == j->end() || !res->is_object()) return make_error("etcd watch", "no result");
  WatchResponse w;
  if (auto h = res->find("header"); h != res->end() && h->is_object())
    w.revision = num(*h, "revision");
  w.created = flag(*res, "created");
  w.canceled = flag(*res, "canceled");
  w.compact_revision = num(*res, "compact_revision");
  w.cancel_reason = text(*res, "cancel_reason");
  if (auto evs = res->find("events"); evs != res->end() && evs->is_array()) {
    for (const auto& e : *evs) {
      if (!e.is_object() || !e.contains("kv") || !e["kv"].is_object())
        return make_error("etcd watch", "an event without kv");
      Event ev;
      ev.type = text(e, "type") == "DELETE" ? Event::Type::del : Event::Type::put;
      auto kv = parse_kv(e["kv"]);
      if (!kv) return kv.error();
      ev.kv = std::move(*kv);
      w.events.push_back(std::move(ev));
    }
  }
  return w;
}

Result<int64_t> parse_put_response(const std::string& body) {
  auto j = parse_object(body, "put");
  if (!j) return j.error();
  auto h = j->find("header");
  return h != j->end() && h->is_object() ? num(*h, "revision") : 0;
}

Result<int64_t> parse_delete_response(const std::string& body) {
  auto j = parse_object(body, "deleterange");
  if (!j) return j.error();
  return num(*j, "deleted");
}

Status parse_txn_response(const std::string& body) {
  auto j = parse_object(body, "txn");
  if (!j) return j.error();
  // bulkhead's transactions have no compare: they always take the success branch.
  if (!flag(*j, "succeeded")) return make_error("etcd txn", "not applied");
  return {};
}

Result<Lease> parse_lease_grant_response(const std::string& body) {
  auto j = parse_object(body, "lease grant");
  if (!j) return j.error();
  if (const std::string e = text(*j, "error"); !e.empty()) return make_error("etcd lease grant", e);
  Lease l{num(*j, "ID"), num(*j, "TTL")};
  if (l.id == 0) return make_error("etcd lease grant", "no lease ID in the answer");
  return l;
}

Result<int64_t> parse_keepalive_response(const std::string& body) {
  auto j = parse_object(body.substr(0, body.find('\n')), "lease keepalive");
  if (!j) return j.error();
  if (auto e = j->find("error"); e != j->end())
    return make_error("etcd lease keepalive", error_message(*e));
  auto res = j->find("result");
  if (res == j->end() || !res->is_object())
    return make_error("etcd lease keepalive", "no result in the answer");
  return num(*res, "TTL");
}

}  // namespace bulkhead::daemon::etcd
