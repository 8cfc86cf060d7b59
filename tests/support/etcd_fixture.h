// A real etcd (Debian's etcd-server) on loopback for one test: free ports, a temporary data
// directory, killed and removed at the end (docs/architecture.md, Tests). It can be killed and
// started again on the same data directory and ports, as a restarted store would be. With `tls`, it
// serves https with a throwaway CA and requires client certificates.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "enforcer/http/client.h"

namespace bulkhead::testing {

namespace http = ::bulkhead::daemon::http;

// A port nothing listens on right now (the kernel's pick for a socket bound to port 0).
inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

inline bool have_etcd() { return std::system("command -v etcd >/dev/null 2>&1") == 0; }

template <class Pred>
bool wait_for(std::chrono::milliseconds limit, Pred pred) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

class EtcdServer {
 public:
  explicit EtcdServer(bool tls = false) : tls_(tls) {
    char tmpl[] = "/tmp/bulkhead-etcd.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    client_port_ = free_port();
    peer_port_ = free_port();
    if (tls_) make_certs();
    start();
  }
  ~EtcdServer() {
    kill();
    std::filesystem::remove_all(dir_);
  }
  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;

  std::string url() const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(client_port_);
  }
  const std::string& dir() const { return dir_; }
  std::string ca() const { return dir_ + "/ca.pem"; }
  std::string client_cert() const { return dir_ + "/client.pem"; }
  std::string client_key() const { return dir_ + "/client-key.pem"; }
  http::TlsFiles tls_files() const {
    return tls_ ? http::TlsFiles{ca(), client_cert(), client_key()} : http::TlsFiles{};
  }

  // Starts etcd and waits (bounded) until it answers.
  void start() {
    ASSERT_EQ(pid_, -1);
    const std::string scheme = tls_ ? "https" : "http";
    const std::string client = scheme + "://127.0.0.1:" + std::to_string(client_port_);
    std::vector<std::string> args = {
        "etcd",
        "--data-dir",
        dir_ + "/data",
        "--listen-client-urls",
        client,
        "--advertise-client-urls",
        client,
        "--listen-peer-urls",
        "http://127.0.0.1:" + std::to_string(peer_port_),
        "--initial-advertise-peer-urls",
        "http://127.0.0.1:" + std::to_string(peer_port_),
        "--initial-cluster",
        "default=http://127.0.0.1:" + std::to_string(peer_port_),
    };
    if (tls_) {
      args.insert(args.end(),
                  {"--cert-file", dir_ + "/server.pem", "--key-file", dir_ + "/server-key.pem",
                   "--trusted-ca-file", ca(), "--client-cert-auth"});
    }
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      int log = ::open((dir_ + "/etcd.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (log >= 0) {
        ::dup2(log, 1);
        ::dup2(log, 2);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp("etcd", argv.data());
      ::_exit(127);
    }
    http::Server srv;
    if (tls_) {
      srv = *http::Server::from_url(url(), tls_files());
    } else {
      srv = *http::Server::from_url(url());
    }
    bool up = wait_for(std::chrono::seconds(20), [&] {
      http::Client c(srv, std::chrono::milliseconds(500));
      auto res = c.get("/health");
      return res.ok() && res->status == 200;
    });
    ASSERT_TRUE(up) << "etcd did not answer; log in " << dir_ << "/etcd.log";
  }

  // SIGKILL, as a crashed store.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  void make_certs() {
    // A CA, a server certificate for 127.0.0.1 and a client certificate, all throwaway.
    const std::string d = dir_;
    const std::string cmd =
        "(cd " + d +
        " && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=bulkhead-test-ca"
        " -keyout ca-key.pem -out ca.pem"
        " && openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server-key.pem"
        " -out server.csr"
        " && printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n'"
        " > server.ext"
        " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial"
        " -days 1 -extfile server.ext -out server.pem"
        " && openssl req -newkey rsa:2048 -nodes -subj /CN=bulkheadd -keyout client-key.pem"
        " -out client.csr"
        " && printf 'extendedKeyUsage=clientAuth\\n' > client.ext"
        " && openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial"
        " -days 1 -extfile client.ext -out client.pem) >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl failed in " << d;
  }

  bool tls_;
  std::string dir_;
  int client_port_ = 0;
  int peer_port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace bulkhead::testing
