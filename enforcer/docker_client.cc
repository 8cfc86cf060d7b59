#include "enforcer/docker_client.h"

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <exception>
#include <functional>
#include <limits>

namespace bulkhead::daemon::docker {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Socket = beast::basic_stream<asio::local::stream_protocol>;
using Done = std::function<void(beast::error_code)>;

// A list of thousands of containers stays far below this; a larger body is not an engine's.
constexpr uint64_t kMaxBody = 64ull << 20;
constexpr size_t kMaxLine = 4u << 20;

http::request<http::empty_body> make_request(const std::string& target) {
  http::request<http::empty_body> req{http::verb::get, target, 11};
  // The engine ignores Host, but HTTP/1.1 requires one.
  req.set(http::field::host, "localhost");
  req.set(http::field::user_agent, "bulkhead");
  return req;
}

// "GET /v1.40/events" without its query: errors stay readable.
std::string op_name(const std::string& target) {
  return "GET " + target.substr(0, target.find('?'));
}

Error transport_error(const std::string& op, const std::string& socket_path,
                      const beast::error_code& ec) {
  if (ec == beast::error::timeout) return make_error(op, socket_path, ETIMEDOUT);
  if (ec == asio::error::operation_aborted) return make_error(op, "interrupted", ECANCELED);
  if (ec.category() == asio::error::get_system_category()) {
    return make_error(op, socket_path, ec.value());
  }
  return make_error(op, socket_path + ": " + ec.message());
}

}  // namespace

struct DockerClient::Impl {
  asio::io_context ioc;

  // Runs the operations that `start` begins until they call `done`. An interrupted run leaves
  // its handlers queued; they are never run, because every later run fails first.
  beast::error_code run(const std::atomic<bool>& interrupted,
                        const std::function<void(Done)>& start) {
    ioc.restart();
    if (interrupted.load()) return asio::error::operation_aborted;
    bool finished = false;
    beast::error_code result;
    start([&finished, &result](beast::error_code ec) {
      finished = true;
      result = ec;
    });
    ioc.run();
    if (interrupted.load() || !finished) return asio::error::operation_aborted;
    return result;
  }
};

struct BodyStream::Impl {
  explicit Impl(asio::io_context& ioc) : stream(ioc) {}
  Socket stream;
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  std::string pending;  // bytes received, not yet returned as lines
  std::array<char, 64 * 1024> chunk{};
  std::string op;
};

DockerClient::DockerClient(std::string socket_path, std::chrono::milliseconds timeout)
    : socket_path_(std::move(socket_path)), timeout_(timeout), impl_(std::make_unique<Impl>()) {}

DockerClient::~DockerClient() = default;

void DockerClient::interrupt() {
  interrupted_.store(true);
  impl_->ioc.stop();
}

Result<HttpResponse> DockerClient::get(const std::string& target) {
  const std::string op = op_name(target);
  try {
    Socket stream(impl_->ioc);
    auto req = make_request(target);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxBody);
    asio::local::stream_protocol::endpoint where(socket_path_);
    stream.expires_after(timeout_);  // one deadline for the whole exchange
    beast::error_code ec = impl_->run(interrupted_, [&](Done done) {
      stream.async_connect(where, [&, done](beast::error_code ec) {
        if (ec) return done(ec);
        http::async_write(stream, req, [&, done](beast::error_code ec, size_t) {
          if (ec) return done(ec);
          http::async_read(stream, buffer, parser,
                           [done](beast::error_code ec, size_t) { done(ec); });
        });
      });
    });
    if (ec) return transport_error(op, socket_path_, ec);
    auto res = parser.release();
    return HttpResponse{res.result_int(), std::move(res.body())};
  } catch (const std::exception& e) {  // a socket path too long for sun_path, bad_alloc
    return make_error(op, e.what());
  }
}

Result<std::unique_ptr<BodyStream>> DockerClient::open_stream(
    const std::string& target, std::chrono::milliseconds header_timeout) {
  const std::string op = op_name(target);
  try {
    std::unique_ptr<BodyStream> body(new BodyStream(*this));
    BodyStream::Impl& s = *body->impl_;
    s.op = op;
    // The events stream never ends by itself. Not boost::none: Boost 1.74 then refuses any body
    // with a Content-Length.
    s.parser.body_limit(std::numeric_limits<uint64_t>::max());
    auto req = make_request(target);
    asio::local::stream_protocol::endpoint where(socket_path_);
    s.stream.expires_after(header_timeout);
    beast::error_code ec = impl_->run(interrupted_, [&](Done done) {
      s.stream.async_connect(where, [&, done](beast::error_code ec) {
        if (ec) return done(ec);
        http::async_write(s.stream, req, [&, done](beast::error_code ec, size_t) {
          if (ec) return done(ec);
          http::async_read_header(s.stream, s.buffer, s.parser,
                                  [done](beast::error_code ec, size_t) { done(ec); });
        });
      });
    });
    if (ec) return transport_error(op, socket_path_, ec);
    unsigned status = s.parser.get().result_int();
    if (status != 200) {
      return make_error(
          op, "HTTP " + std::to_string(status) + " " + std::string(s.parser.get().reason()));
    }
    return body;
  } catch (const std::exception& e) {
    return make_error(op, e.what());
  }
}

BodyStream::BodyStream(DockerClient& client)
    : client_(client), impl_(std::make_unique<Impl>(client.impl_->ioc)) {}

BodyStream::~BodyStream() = default;

Result<std::string> BodyStream::next_line(DockerClient::Clock::time_point deadline) {
  Impl& s = *impl_;
  try {
    for (;;) {
      size_t nl = s.pending.find('\n');
      if (nl != std::string::npos) {
        std::string line = s.pending.substr(0, nl);
        s.pending.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        return line;
      }
      if (s.pending.size() > kMaxLine) return make_error(s.op, "line too long");
      if (s.parser.is_done()) return make_error(s.op, "stream ended");
      s.parser.get().body().data = s.chunk.data();
      s.parser.get().body().size = s.chunk.size();
      s.stream.expires_at(deadline);
      beast::error_code ec = client_.impl_->run(client_.interrupted_, [&](Done done) {
        http::async_read_some(s.stream, s.buffer, s.parser,
                              [done](beast::error_code ec, size_t) { done(ec); });
      });
      if (ec == http::error::need_buffer) ec = {};  // the chunk is full: not a failure
      if (ec == http::error::end_of_stream) return make_error(s.op, "stream ended");
      if (ec) return transport_error(s.op, client_.socket_path_, ec);
      s.pending.append(s.chunk.data(), s.chunk.size() - s.parser.get().body().size);
    }
  } catch (const std::exception& e) {
    return make_error(s.op, e.what());
  }
}

}  // namespace bulkhead::daemon::docker
