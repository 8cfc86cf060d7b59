#include "enforcer/http/client.h"

#include <openssl/ssl.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <exception>
#include <functional>
#include <limits>
#include <optional>

namespace bulkhead::daemon::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bh = beast::http;
using UnixStream = beast::basic_stream<asio::local::stream_protocol>;
using TcpStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using Done = std::function<void(beast::error_code)>;

// One connection of whichever transport the server needs. Exactly one stream is set.
struct Conn {
  explicit Conn(asio::io_context& ioc) : resolver(ioc) {}
  asio::ip::tcp::resolver resolver;
  asio::local::stream_protocol::endpoint unix_where;
  std::unique_ptr<UnixStream> unix_s;
  std::unique_ptr<TcpStream> tcp_s;
  std::unique_ptr<TlsStream> tls_s;

  template <class F>
  void with(F&& f) {
    if (unix_s)
      f(*unix_s);
    else if (tcp_s)
      f(*tcp_s);
    else
      f(*tls_s);
  }
  // Every operation on the connection, the TLS handshake included, is bounded by this deadline:
  // the TLS layer reads and writes through the TCP stream, whose timer it is.
  void expires_after(std::chrono::milliseconds d) {
    with([d](auto& s) { beast::get_lowest_layer(s).expires_after(d); });
  }
  void expires_at(Client::Clock::time_point t) {
    with([t](auto& s) { beast::get_lowest_layer(s).expires_at(t); });
  }
};

std::string op_name(Method m, const std::string& target) {
  // "GET /v1.40/events" without its query: errors stay readable.
  return std::string(m == Method::get ? "GET " : "POST ") + target.substr(0, target.find('?'));
}

Error transport_error(const std::string& op, const std::string& where,
                      const beast::error_code& ec) {
  if (ec == beast::error::timeout) return make_error(op, where, ETIMEDOUT);
  if (ec == asio::error::operation_aborted) return make_error(op, "interrupted", ECANCELED);
  if (ec.category() == asio::error::get_system_category()) return make_error(op, where, ec.value());
  return make_error(op, where + ": " + ec.message());
}

}  // namespace

Server Server::unix_socket(std::string path) {
  Server s;
  s.kind = Kind::unix_socket;
  s.path = std::move(path);
  return s;
}

Result<Server> Server::from_url(const std::string& url, const TlsFiles& tls) {
  Server s;
  std::string rest;
  if (url.rfind("http://", 0) == 0) {
    s.kind = Kind::tcp;
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    s.kind = Kind::tls;
    s.tls = tls;
    rest = url.substr(8);
  } else {
    return make_error(url, "not an http:// or https:// URL");
  }
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find('/') != std::string::npos) return make_error(url, "a URL with a path");
  size_t colon = rest.rfind(':');
  if (!rest.empty() && rest[0] == '[') {  // [v6]:port
    size_t close = rest.find(']');
    if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
      return make_error(url, "expected [ADDRESS]:PORT");
    s.host = rest.substr(1, close - 1);
    s.port = rest.substr(close + 2);
  } else {
    if (colon == std::string::npos) return make_error(url, "no port");
    s.host = rest.substr(0, colon);
    s.port = rest.substr(colon + 1);
  }
  if (s.host.empty()) return make_error(url, "no host");
  char* end = nullptr;
  long port = std::strtol(s.port.c_str(), &end, 10);
  if (s.port.empty() || *end != '\0' || port < 1 || port > 65535)
    return make_error(url, "bad port '" + s.port + "'");
  return s;
}

std::string Server::describe() const {
  if (kind == Kind::unix_socket) return path;
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return std::string(kind == Kind::tls ? "https://" : "http://") + h + ":" + port;
}

struct Client::Impl {
  asio::io_context ioc;
  std::optional<asio::ssl::context> ssl;
  std::string setup_error;  // the TLS files could not be loaded: every request fails with it

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

  void open(Conn& c, const Server& srv) {
    switch (srv.kind) {
      case Server::Kind::unix_socket:
        c.unix_s = std::make_unique<UnixStream>(ioc);
        break;
      case Server::Kind::tcp:
        c.tcp_s = std::make_unique<TcpStream>(ioc);
        break;
      case Server::Kind::tls:
        c.tls_s = std::make_unique<TlsStream>(ioc, *ssl);
        break;
    }
  }

  // Connects (and for TLS, verifies the server against the CA and the URL's host name).
  static void connect(Conn& c, const Server& srv, Done done) {
    if (c.unix_s) {
      // Throws for a path too long for sun_path: the caller turns it into an error value.
      c.unix_where = asio::local::stream_protocol::endpoint(srv.path);
      c.unix_s->async_connect(c.unix_where, std::move(done));
      return;
    }
    c.resolver.async_resolve(
        srv.host, srv.port,
        [&c, &srv, done](beast::error_code ec, asio::ip::tcp::resolver::results_type results) {
          if (ec) return done(ec);
          if (c.tcp_s) {
            c.tcp_s->async_connect(results, [done](beast::error_code ec,
                                                   const asio::ip::tcp::endpoint&) { done(ec); });
            return;
          }
          c.tls_s->next_layer().async_connect(
              results, [&c, &srv, done](beast::error_code ec, const asio::ip::tcp::endpoint&) {
                if (ec) return done(ec);
                // SNI, for servers that hold several certificates.
                SSL_set_tlsext_host_name(c.tls_s->native_handle(), srv.host.c_str());
                c.tls_s->set_verify_mode(asio::ssl::verify_peer);
                c.tls_s->set_verify_callback(asio::ssl::host_name_verification(srv.host));
                c.tls_s->async_handshake(asio::ssl::stream_base::client, done);
              });
        });
  }
};

struct BodyStream::Impl {
  explicit Impl(asio::io_context& ioc) : conn(ioc) {}
  Conn conn;
  beast::flat_buffer buffer;
  bh::response_parser<bh::buffer_body> parser;
  std::string pending;  // bytes received, not yet returned as lines
  std::array<char, 64 * 1024> chunk{};
  std::string op;
};

namespace {

bh::request<bh::string_body> make_request(Method m, const std::string& target,
                                          const std::string& body, const Server& srv) {
  bh::request<bh::string_body> req{m == Method::get ? bh::verb::get : bh::verb::post, target, 11};
  // A unix-socket engine ignores Host, but HTTP/1.1 requires one.
  const std::string host =
      srv.host.find(':') != std::string::npos ? "[" + srv.host + "]" : srv.host;
  req.set(bh::field::host,
          srv.kind == Server::Kind::unix_socket ? "localhost" : host + ":" + srv.port);
  req.set(bh::field::user_agent, "bulkhead");
  if (!body.empty()) {
    req.set(bh::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  return req;
}

}  // namespace

Client::Client(Server server, std::chrono::milliseconds timeout, Limits limits)
    : server_(std::move(server)),
      timeout_(timeout),
      limits_(limits),
      impl_(std::make_unique<Impl>()) {
  if (server_.kind != Server::Kind::tls) return;
  try {
    impl_->ssl.emplace(asio::ssl::context::tls_client);
    auto& ctx = *impl_->ssl;
    ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                    asio::ssl::context::no_tlsv1_1);
    ctx.set_verify_mode(asio::ssl::verify_peer);
    const TlsFiles& t = server_.tls;
    if (t.ca_file.empty()) {
      ctx.set_default_verify_paths();
    } else {
      impl_->setup_error = "CA file " + t.ca_file;
      ctx.load_verify_file(t.ca_file);
    }
    if (!t.cert_file.empty()) {
      impl_->setup_error = "certificate file " + t.cert_file;
      ctx.use_certificate_chain_file(t.cert_file);
      impl_->setup_error = "key file " + t.key_file;
      ctx.use_private_key_file(t.key_file, asio::ssl::context::pem);
    }
    impl_->setup_error.clear();
  } catch (const std::exception& e) {
    impl_->setup_error += std::string(": ") + e.what();
  }
}

Client::~Client() = default;

void Client::interrupt() {
  interrupted_.store(true);
  impl_->ioc.stop();
}

Result<Response> Client::request(Method method, const std::string& target,
                                 const std::string& body) {
  const std::string op = op_name(method, target);
  const std::string where = server_.describe();
  if (!impl_->setup_error.empty()) return make_error(op, where + ": " + impl_->setup_error);
  try {
    Conn c(impl_->ioc);
    impl_->open(c, server_);
    auto req = make_request(method, target, body, server_);
    beast::flat_buffer buffer;
    bh::response_parser<bh::string_body> parser;
    parser.body_limit(limits_.max_body);
    c.expires_after(timeout_);  // one deadline for the whole exchange
    beast::error_code ec = impl_->run(interrupted_, [&](Done done) {
      Impl::connect(c, server_, [&, done](beast::error_code ec) {
        if (ec) return done(ec);
        c.with([&, done](auto& s) {
          bh::async_write(s, req, [&s, &buffer, &parser, done](beast::error_code ec, size_t) {
            if (ec) return done(ec);
            bh::async_read(s, buffer, parser, [done](beast::error_code ec, size_t) { done(ec); });
          });
        });
      });
    });
    if (ec) return transport_error(op, where, ec);
    auto res = parser.release();
    return Response{res.result_int(), std::move(res.body())};
  } catch (const std::exception& e) {  // a socket path too long for sun_path, bad_alloc
    return make_error(op, e.what());
  }
}

Result<std::unique_ptr<BodyStream>> Client::open_stream(Method method, const std::string& target,
                                                        const std::string& body,
                                                        std::chrono::milliseconds header_timeout) {
  const std::string op = op_name(method, target);
  const std::string where = server_.describe();
  if (!impl_->setup_error.empty()) return make_error(op, where + ": " + impl_->setup_error);
  try {
    std::unique_ptr<BodyStream> stream(new BodyStream(*this));
    BodyStream::Impl& s = *stream->impl_;
    s.op = op;
    impl_->open(s.conn, server_);
    // The stream never ends by itself. Not boost::none: Boost 1.74 then refuses any body with a
    // Content-Length.
    s.parser.body_limit(std::numeric_limits<uint64_t>::max());
    auto req = make_request(method, target, body, server_);
    s.conn.expires_after(header_timeout);
    beast::error_code ec = impl_->run(interrupted_, [&](Done done) {
      Impl::connect(s.conn, server_, [&, done](beast::error_code ec) {
        if (ec) return done(ec);
        s.conn.with([&, done](auto& st) {
          bh::async_write(st, req, [&st, &s, done](beast::error_code ec, size_t) {
            if (ec) return done(ec);
            bh::async_read_header(st, s.buffer, s.parser,
                                  [done](beast::error_code ec, size_t) { done(ec); });
          });
        });
      });
    });
    if (ec) return transport_error(op, where, ec);
    unsigned status = s.parser.get().result_int();
    if (status != 200) {
      return make_error(
          op, "HTTP " + std::to_string(status) + " " + std::string(s.parser.get().reason()));
    }
    return stream;
  } catch (const std::exception& e) {
    return make_error(op, e.what());
  }
}

BodyStream::BodyStream(Client& client)
    : client_(client), impl_(std::make_unique<Impl>(client.impl_->ioc)) {}

BodyStream::~BodyStream() = default;

Result<std::string> BodyStream::next_line(Client::Clock::time_point deadline) {
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
      if (s.pending.size() > client_.limits_.max_line) return make_error(s.op, "line too long");
      if (s.parser.is_done()) return make_error(s.op, "stream ended");
      s.parser.get().body().data = s.chunk.data();
      s.parser.get().body().size = s.chunk.size();
      s.conn.expires_at(deadline);
      beast::error_code ec = client_.impl_->run(client_.interrupted_, [&](Done done) {
        s.conn.with([&, done](auto& st) {
          bh::async_read_some(st, s.buffer, s.parser,
                              [done](beast::error_code ec, size_t) { done(ec); });
        });
      });
      if (ec == bh::error::need_buffer) ec = {};  // the chunk is full: not a failure
      if (ec == bh::error::end_of_stream) return make_error(s.op, "stream ended");
      if (ec) return transport_error(s.op, client_.server_.describe(), ec);
      s.pending.append(s.chunk.data(), s.chunk.size() - s.parser.get().body().size);
    }
  } catch (const std::exception& e) {
    return make_error(s.op, e.what());
  }
}

}  // namespace bulkhead::daemon::http
