// HTTP/1.1 client with Boost.Beast, shared by the Docker source (a unix socket) and the cluster
// source (etcd's JSON gateway over TCP, or TLS with client certificates). Blocking calls, each
// bounded in time, all interruptible from another thread, so a source's thread can be stopped
// while it waits on its server. One connection per request: the servers are local or few, and
// a fresh connection never carries state from a broken exchange.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace bulkhead::daemon::http {

struct TlsFiles {
  std::string ca_file;    // "" = the system's trust store
  std::string cert_file;  // client certificate (PEM), "" = none
  std::string key_file;   // its private key (PEM)
};

// Where a server listens.
struct Server {
  enum class Kind { unix_socket, tcp, tls } kind = Kind::unix_socket;
  std::string path;  // unix_socket
  std::string host;  // tcp, tls
  std::string port;  // tcp, tls
  TlsFiles tls;

  static Server unix_socket(std::string path);
  // "http://HOST:PORT" or "https://HOST:PORT" (an optional trailing "/"; no other path).
  // IPv6 hosts in brackets. `tls` applies to https only.
  static Result<Server> from_url(const std::string& url, const TlsFiles& tls = {});
  // The socket path, or the URL's scheme, host and port: how errors name the server.
  std::string describe() const;
};

struct Response {
  unsigned status = 0;
  std::string body;
};

enum class Method { get, post };

struct Limits {
  uint64_t max_body = 64ull << 20;  // a whole response body
  size_t max_line = 4u << 20;       // one line of a streamed body
};

class BodyStream;

class Client {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Client(Server server, std::chrono::milliseconds timeout = std::chrono::seconds(10),
                  Limits limits = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const Server& server() const { return server_; }

  // One request on a new connection; `body` is sent as application/json when not empty. Any
  // HTTP status is a value; errors are transport failures (TLS included), timeouts (ETIMEDOUT),
  // interruption (ECANCELED) and oversized bodies.
  Result<Response> request(Method method, const std::string& target, const std::string& body = "");
  Result<Response> get(const std::string& target) { return request(Method::get, target); }
  Result<Response> post(const std::string& target, const std::string& body) {
    return request(Method::post, target, body);
  }

  // Sends the request and keeps the connection for reading the body as it arrives (Docker's
  // events, etcd's watch). The response header must arrive within `header_timeout`. A status
  // other than 200 is an error.
  Result<std::unique_ptr<BodyStream>> open_stream(Method method, const std::string& target,
                                                  const std::string& body,
                                                  std::chrono::milliseconds header_timeout);

  // Makes the running call and every later one fail at once. Thread-safe; final.
  void interrupt();
  bool interrupted() const { return interrupted_.load(); }

 private:
  friend class BodyStream;
  struct Impl;

  Server server_;
  std::chrono::milliseconds timeout_;
  Limits limits_;
  std::atomic<bool> interrupted_{false};
  std::unique_ptr<Impl> impl_;
};

// The open body of a streamed response, read as newline-separated lines (both the Engine API and
// etcd's gateway write one JSON document per line). Must not outlive its client.
class BodyStream {
 public:
  ~BodyStream();
  // The next non-empty line, without its newline. Fails when the stream ends or breaks, when
  // `deadline` passes (code ETIMEDOUT; the connection is closed then), or when the client is
  // interrupted (code ECANCELED).
  Result<std::string> next_line(Client::Clock::time_point deadline);

 private:
  friend class Client;
  struct Impl;
  explicit BodyStream(Client& client);

  Client& client_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bulkhead::daemon::http
