// etcd's JSON gateway answers (range, watch) as values: pure, so they are unit tested and fuzzed
// without a server. Everything in them comes from the store, which other hosts write.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace bulkhead::daemon::etcd {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t lease = 0;
};

struct RangeResult {
  int64_t revision = 0;  // the store's revision the answer was read at
  std::vector<KeyValue> kvs;
};

struct Event {
  enum class Type { put, del } type = Type::put;
  KeyValue kv;  // for del: only key and mod_revision
};

struct WatchResponse {
  int64_t revision = 0;
  bool created = false;
  bool canceled = false;
  int64_t compact_revision = 0;  // > 0: the start revision was compacted away; list again
  std::string cancel_reason;
  std::vector<Event> events;
};

struct Lease {
  int64_t id = 0;
  int64_t ttl = 0;
};

Result<RangeResult> parse_range_response(const std::string& body);
// One line of the watch stream: {"result":{...}} or {"error":{...}}.
Result<WatchResponse> parse_watch_response(const std::string& line);
Result<int64_t> parse_put_response(const std::string& body);     // the revision
Result<int64_t> parse_delete_response(const std::string& body);  // how many keys went
Status parse_txn_response(const std::string& body);              // an error unless it succeeded
Result<Lease> parse_lease_grant_response(const std::string& body);
// The keepalive stream's first line; the remaining TTL, 0 when the lease no longer exists.
Result<int64_t> parse_keepalive_response(const std::string& body);

}  // namespace bulkhead::daemon::etcd
