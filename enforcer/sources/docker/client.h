// The Engine API client (Docker, or Podman's Docker-compatible service): the shared HTTP client
// (enforcer/http/client.h) over the engine's unix socket, GET only.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "enforcer/http/client.h"

namespace bulkhead::daemon::docker {

// Both Docker (20.10 and later) and Podman 4 answer this version; older prefixes are refused by
// current Docker releases, unprefixed paths mean "the newest" and may change shape.
inline constexpr std::string_view kApiPrefix = "/v1.40";

using HttpResponse = http::Response;
using BodyStream = http::BodyStream;

class DockerClient : public http::Client {
 public:
  explicit DockerClient(std::string socket_path,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : http::Client(http::Server::unix_socket(std::move(socket_path)), timeout) {}

  const std::string& socket_path() const { return server().path; }

  // GET `target` (a path with query, kApiPrefix included by the caller) on a new connection.
  Result<HttpResponse> get(const std::string& target) { return http::Client::get(target); }

  // GET `target` and keep the connection for reading its body as it arrives (the events stream).
  Result<std::unique_ptr<BodyStream>> open_stream(const std::string& target,
                                                  std::chrono::milliseconds header_timeout) {
    return http::Client::open_stream(http::Method::get, target, "", header_timeout);
  }
};

}  // namespace bulkhead::daemon::docker
