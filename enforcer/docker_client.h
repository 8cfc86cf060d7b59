// HTTP/1.1 to the Engine API over its unix socket (Docker, or Podman's Docker-compatible
// service), with Boost.Beast. Blocking calls, each bounded in time, and all of them interruptible
// from another thread, so a source's thread can be stopped while it waits on the engine.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace bulkhead::daemon::docker {

// Both Docker (20.10 and later) and Podman 4 answer this version; older prefixes are refused by
// current Docker releases, unprefixed paths mean "the newest" and may change shape.
inline constexpr std::string_view kApiPrefix = "/v1.40";

struct HttpResponse {
  unsigned status = 0;
  std::string body;
};

class BodyStream;

class DockerClient {
 public:
  using Clock = std::chrono::steady_clock;

  explicit DockerClient(std::string socket_path,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~DockerClient();
  DockerClient(const DockerClient&) = delete;
  DockerClient& operator=(const DockerClient&) = delete;

  const std::string& socket_path() const { return socket_path_; }

  // GET `target` (a path with query, kApiPrefix included by the caller) on a new connection.
  // Any HTTP status is a value; errors are transport failures, timeouts and oversized bodies.
  Result<HttpResponse> get(const std::string& target);

  // GET `target` and keep the connection for reading its body as it arrives (the events stream).
  // The response header must arrive within `header_timeout`. A status other than 200 is an error.
  Result<std::unique_ptr<BodyStream>> open_stream(const std::string& target,
                                                  std::chrono::milliseconds header_timeout);

  // Makes the running call and every later one fail at once. Thread-safe; final.
  void interrupt();
  bool interrupted() const { return interrupted_.load(); }

 private:
  friend class BodyStream;
  struct Impl;

  std::string socket_path_;
  std::chrono::milliseconds timeout_;
  std::atomic<bool> interrupted_{false};
  std::unique_ptr<Impl> impl_;
};

// The open body of a streamed response, read as newline-separated lines (the Engine API writes
// one JSON document per line). Must not outlive its client.
class BodyStream {
 public:
  ~BodyStream();
  // The next line, without its newline. Fails when the stream ends or breaks, when `deadline`
  // passes (code ETIMEDOUT), or when the client is interrupted (code ECANCELED).
  Result<std::string> next_line(DockerClient::Clock::time_point deadline);

 private:
  friend class DockerClient;
  struct Impl;
  explicit BodyStream(DockerClient& client);

  DockerClient& client_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bulkhead::daemon::docker
