// etcd v3 through its JSON gateway (etcd 3.4 serves it under /v3/): range, put, delete, txn,
// leases and watch, with base64 keys and values, over the shared HTTP client (plain TCP or TLS
// with client certificates). Blocking and interruptible like that client. Several URLs: a call
// that cannot reach one member tries the next, and the one that answered is used first next time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "enforcer/http/client.h"
#include "enforcer/sources/cluster/etcd_json.h"

namespace bulkhead::daemon::etcd {

struct Config {
  std::vector<std::string> urls;  // http://HOST:PORT or https://HOST:PORT
  http::TlsFiles tls;
  std::chrono::milliseconds timeout{5000};  // each request
};

struct Op {
  enum class Kind { put, del } kind = Kind::put;
  std::string key;
  std::string value;  // put
  int64_t lease = 0;  // put
};

// etcd's default limit on operations in one transaction is 128.
inline constexpr size_t kMaxTxnOps = 128;

class Watch;

class Client {
 public:
  static Result<std::unique_ptr<Client>> create(const Config& config);
  ~Client();

  Result<RangeResult> range(const std::string& key, const std::string& range_end,
                            bool keys_only = false);
  // Returns the revision of the write.
  Result<int64_t> put(const std::string& key, const std::string& value, int64_t lease = 0);
  // Returns how many keys were deleted. `range_end` "" deletes `key` alone.
  Result<int64_t> delete_range(const std::string& key, const std::string& range_end = "");
  // All of `ops` in one transaction (at most kMaxTxnOps).
  Status txn(const std::vector<Op>& ops);

  using Lease = etcd::Lease;
  Result<Lease> lease_grant(int64_t ttl_seconds);
  // One keepalive. Returns the lease's remaining TTL; 0 means the lease no longer exists.
  Result<int64_t> lease_keepalive(int64_t id);
  Status lease_revoke(int64_t id);

  // Watches [key, range_end) from `start_revision` (0: from now). The stream's first response
  // says `created`.
  Result<std::unique_ptr<Watch>> watch(const std::string& key, const std::string& range_end,
                                       int64_t start_revision,
                                       std::chrono::milliseconds header_timeout);

  // Ends the running call and every later one (ECANCELED). Thread-safe; final.
  void interrupt();
  // The member last answered, for messages.
  std::string current_url() const;

 private:
  explicit Client(std::vector<std::unique_ptr<http::Client>> members);
  // POSTs a JSON body to `path` on the current member, then on the others while the transport
  // fails. Returns the parsed JSON body of a 200 answer.
  Result<std::string> call(const std::string& path, const std::string& body);

  std::vector<std::unique_ptr<http::Client>> members_;
  size_t current_ = 0;
};

class Watch {
 public:
  ~Watch();
  // The next response; ETIMEDOUT when `deadline` passes first (the stream is then closed).
  Result<WatchResponse> next(http::Client::Clock::time_point deadline);

 private:
  friend class Client;
  explicit Watch(std::unique_ptr<http::BodyStream> stream) : stream_(std::move(stream)) {}
  std::unique_ptr<http::BodyStream> stream_;
};

}  // namespace bulkhead::daemon::etcd
