// The etcd client against a real etcd on loopback: key-value calls, transactions, leases (keys
// vanish when the lease is not kept alive), watches from a revision, compaction, failover to
// the next URL, and TLS with client certificates.
#include "enforcer/sources/cluster/etcd_client.h"

#include <gtest/gtest.h>

#include "tests/support/etcd_fixture.h"

namespace bulkhead::daemon::etcd {
namespace {

using namespace std::chrono_literals;
using bulkhead::testing::EtcdServer;
using bulkhead::testing::wait_for;
using Clock = std::chrono::steady_clock;

std::unique_ptr<Client> connect(const EtcdServer& server, std::vector<std::string> extra = {}) {
  Config c;
  c.urls = std::move(extra);
  c.urls.push_back(server.url());
  c.tls = server.tls_files();
  c.timeout = 3s;
  auto client = Client::create(c);
  EXPECT_TRUE(client.ok()) << client.error().to_string();
  return client.ok() ? std::move(*client) : nullptr;
}

std::vector<std::string> keys(const RangeResult& r) {
  std::vector<std::string> out;
  for (const auto& kv : r.kvs) out.push_back(kv.key);
  return out;
}

TEST(EtcdClient, PutRangeAndDeleteRange) {
  ASSERT_TRUE(bulkhead::testing::have_etcd()) << "etcd is not installed (scripts/install-deps.sh)";
  EtcdServer server;
  auto c = connect(server);
  ASSERT_TRUE(c);
  auto rev = c->put("/t/a", "1");
  ASSERT_TRUE(rev.ok()) << rev.error().to_string();
  EXPECT_GT(*rev, 0);
  ASSERT_TRUE(c->put("/t/b", std::string("two\0bytes", 9)).ok());
  ASSERT_TRUE(c->put("/t0", "outside").ok());
  auto r = c->range("/t/", "/t0");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(keys(*r), (std::vector<std::string>{"/t/a", "/t/b"}));
  EXPECT_EQ(r->kvs[1].value, std::string("two\0bytes", 9));
  EXPECT_GE(r->revision, *rev + 2);
  auto only_keys = c->range("/t/", "/t0", true);
  ASSERT_TRUE(only_keys.ok());
  EXPECT_EQ(only_keys->kvs[0].value, "");
  auto deleted = c->delete_range("/t/", "/t0");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 2);
  EXPECT_TRUE(c->range("/t/", "/t0")->kvs.empty());
  EXPECT_EQ(c->range("/t0", "")->kvs.size(), 1u);
}

TEST(EtcdClient, TxnAppliesPutsAndDeletesTogether) {
  EtcdServer server;
  auto c = connect(server);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->put("/t/old", "x").ok());
  std::vector<Op> ops = {{Op::Kind::put, "/t/a", "1", 0},
                         {Op::Kind::put, "/t/b", "2", 0},
                         {Op::Kind::del, "/t/old", "", 0}};
  auto s = c->txn(ops);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(keys(*c->range("/t/", "/t0")), (std::vector<std::string>{"/t/a", "/t/b"}));
}

TEST(EtcdClient, KeysOfALeaseNotKeptAliveVanishAfterItsTtl) {
  EtcdServer server;
  auto c = connect(server);
  ASSERT_TRUE(c);
  auto lease = c->lease_grant(2);
  ASSERT_TRUE(lease.ok()) << lease.error().to_string();
  EXPECT_EQ(lease->ttl, 2);
  ASSERT_TRUE(c->put("/t/leased", "x", lease->id).ok());
  ASSERT_TRUE(c->put("/t/kept", "y").ok());
  EXPECT_EQ(c->range("/t/leased", "")->kvs.at(0).lease, lease->id);
  // Kept alive for longer than the TTL: the key stays.
  const auto until = Clock::now() + 3s;
  while (Clock::now() < until) {
    auto ttl = c->lease_keepalive(lease->id);
    ASSERT_TRUE(ttl.ok()) << ttl.error().to_string();
    EXPECT_GT(*ttl, 0);
    std::this_thread::sleep_for(500ms);
  }
  EXPECT_EQ(c->range("/t/leased", "")->kvs.size(), 1u);
  // Then left alone: gone within the TTL plus etcd's expiry check.
  const auto t0 = Clock::now();
  EXPECT_TRUE(wait_for(6s, [&] { return c->range("/t/leased", "")->kvs.empty(); }));
  EXPECT_GE(Clock::now() - t0, 1s);
  EXPECT_EQ(c->range("/t/kept", "")->kvs.size(), 1u);
  auto after = c->lease_keepalive(lease->id);
  ASSERT_TRUE(after.ok()) << after.error().to_string();
  EXPECT_EQ(*after, 0) << "an expired lease answers TTL 0";
}

TEST(EtcdClient, WatchFromARevisionDeliversLaterPutsAndDeletes) {
  EtcdServer server;
  auto c = connect(server);
  ASSERT_TRUE(c);
  auto r0 = c->put("/t/a", "1");
  ASSERT_TRUE(r0.ok());
  // Written before the watch starts, after the revision it starts from: must not be missed.
  ASSERT_TRUE(c->put("/t/b", "2").ok());
  ASSERT_TRUE(c->put("/other", "z").ok());
  auto w = c->watch("/t/", "/t0", *r0 + 1, 3s);
  ASSERT_TRUE(w.ok()) << w.error().to_string();
  auto w2 = connect(server);
  ASSERT_TRUE(w2->delete_range("/t/a").ok());
  ASSERT_TRUE(w2->put("/t/c", "3").ok());

  std::vector<std::string> seen;
  const auto deadline = Clock::now() + 5s;
  while (seen.size() < 3 && Clock::now() < deadline) {
    auto res = (*w)->next(deadline);
    ASSERT_TRUE(res.ok()) << res.error().to_string();
    for (const auto& ev : res->events)
      seen.push_back((ev.type == Event::Type::del ? "del " : "put ") + ev.kv.key +
                     (ev.type == Event::Type::put ? "=" + ev.kv.value : ""));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"put /t/b=2", "del /t/a", "put /t/c=3"}));
}

TEST(EtcdClient, AWatchFromACompactedRevisionSaysSo) {
  EtcdServer server;
  auto c = connect(server);
  ASSERT_TRUE(c);
  auto r1 = c->put("/t/a", "1");
  auto r2 = c->put("/t/a", "2");
  ASSERT_TRUE(r1.ok() && r2.ok());
  // Compaction is no call the daemon makes: the raw gateway does it here.
  http::Client raw(*http::Server::from_url(server.url()), 3s);
  auto res = raw.post("/v3/kv/compaction", R"({"revision":")" + std::to_string(*r2) + R"("})");
  ASSERT_TRUE(res.ok());
  ASSERT_EQ(res->status, 200u) << res->body;
  auto w = c->watch("/t/", "/t0", *r1, 3s);
  ASSERT_TRUE(w.ok());
  bool compacted = false;
  for (int i = 0; i < 3 && !compacted; ++i) {
    auto r = (*w)->next(Clock::now() + 3s);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    compacted = r->compact_revision == *r2;
  }
  EXPECT_TRUE(compacted);
}

TEST(EtcdClient, AnUnreachableFirstUrlFallsThroughToTheNext) {
  EtcdServer server;
  const std::string dead = "http://127.0.0.1:" + std::to_string(bulkhead::testing::free_port());
  auto c = connect(server, {dead});
  ASSERT_TRUE(c);
  auto rev = c->put("/t/a", "1");
  ASSERT_TRUE(rev.ok()) << rev.error().to_string();
  EXPECT_EQ(c->current_url(), server.url());
}

TEST(EtcdClient, AStoppedStoreIsATransportErrorNotAHang) {
  EtcdServer server;
  auto c = connect(server);
  ASSERT_TRUE(c);
  server.kill();
  const auto t0 = Clock::now();
  auto r = c->range("/t/", "/t0");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ECONNREFUSED) << r.error().to_string();
  EXPECT_LT(Clock::now() - t0, 1s);
}

TEST(EtcdClient, TlsWithClientCertificates) {
  EtcdServer server(/*tls=*/true);
  auto c = connect(server);
  ASSERT_TRUE(c);
  auto rev = c->put("/t/a", "secure");
  ASSERT_TRUE(rev.ok()) << rev.error().to_string();
  EXPECT_EQ(c->range("/t/a", "")->kvs.at(0).value, "secure");
  auto w = c->watch("/t/", "/t0", *rev, 3s);
  ASSERT_TRUE(w.ok()) << w.error().to_string();
  bool got = false;
  for (int i = 0; i < 3 && !got; ++i) {
    auto r = (*w)->next(Clock::now() + 3s);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    got = !r->events.empty() && r->events[0].kv.value == "secure";
  }
  EXPECT_TRUE(got);

  // Without a client certificate the server refuses the handshake.
  Config no_cert;
  no_cert.urls = {server.url()};
  no_cert.tls = {server.ca(), "", ""};
  auto anonymous = Client::create(no_cert);
  ASSERT_TRUE(anonymous.ok());
  EXPECT_FALSE((*anonymous)->range("/t/", "/t0").ok());
  // Nor does a server certificate signed by another CA pass: the system store does not know ours.
  Config no_ca;
  no_ca.urls = {server.url()};
  no_ca.tls = {"", server.client_cert(), server.client_key()};
  auto untrusting = Client::create(no_ca);
  ASSERT_TRUE(untrusting.ok());
  auto refused = (*untrusting)->range("/t/", "/t0");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().to_string().find("certificate verify failed"), std::string::npos)
      << refused.error().to_string();
}

}  // namespace
}  // namespace bulkhead::daemon::etcd
