// Two cluster sources in one process, nodes n1 and n2, against a real etcd: what n1 publishes
// reaches n2 within 2 s; a stopped n1's endpoints vanish after its lease TTL; a restarted n1
// removes its stale keys; a store that goes away leaves n2 with its last snapshot and an error,
// and when it comes back n2 reconnects and n1 publishes again; a lost lease is replaced; a burst
// of 1,000 endpoints reaches n2 in a few coalesced signals.
#include "enforcer/sources/cluster/source.h"

#include <gtest/gtest.h>

#include <atomic>

#include "tests/support/etcd_fixture.h"

namespace bulkhead::daemon {
namespace {

using namespace std::chrono_literals;
using bulkhead::testing::EtcdServer;
using bulkhead::testing::wait_for;
using Clock = std::chrono::steady_clock;

policy::Endpoint local(const std::string& name, const std::string& addr) {
  policy::Endpoint ep;
  ep.name = name;
  ep.netns = "/run/netns/" + name;
  ep.labels = {{"app", "web"}};
  ep.addresses = {*policy::IpAddr::parse(addr)};
  ep.ports = {{"http", 80, policy::Protocol::tcp}};
  return ep;
}

ClusterSource::Options options(const EtcdServer& etcd, const std::string& node, int ttl = 2) {
  ClusterSource::Options o;
  o.urls = {etcd.url()};
  o.tls = etcd.tls_files();
  o.prefix = "/bulkhead-test";
  o.node = node;
  o.lease_ttl_s = ttl;
  o.backoff_min = 50ms;
  o.backoff_max = 500ms;
  o.request_timeout = 2s;
  return o;
}

std::vector<std::string> names(const Snapshot& s) {
  std::vector<std::string> out;
  for (const auto& ep : s.endpoints) out.push_back(ep.name);
  return out;
}

bool has(ClusterSource& s, const std::string& name) {
  auto n = names(s.snapshot());
  return std::find(n.begin(), n.end(), name) != n.end();
}

std::unique_ptr<etcd::Client> raw_client(const EtcdServer& server) {
  auto c = etcd::Client::create({{server.url()}, server.tls_files(), 2s});
  return c.ok() ? std::move(*c) : nullptr;
}

TEST(ClusterSource, PublishedEndpointsReachTheOtherNodeAndLeaveWithTheLease) {
  ASSERT_TRUE(bulkhead::testing::have_etcd()) << "etcd is not installed (scripts/install-deps.sh)";
  EtcdServer etcd;
  ClusterSource a(options(etcd, "n1")), b(options(etcd, "n2"));
  ASSERT_TRUE(a.start({}).ok());
  ASSERT_TRUE(b.start({}).ok());
  ASSERT_TRUE(wait_for(3s, [&] { return b.snapshot().ready; }));
  EXPECT_TRUE(b.snapshot().error.empty()) << b.snapshot().error;

  const auto t0 = Clock::now();
  a.publish({local("x", "198.18.0.2")}, "digest-a");
  b.publish({local("y", "198.18.0.3")}, "digest-b");
  ASSERT_TRUE(wait_for(2s, [&] { return has(b, "x@n1"); })) << "x@n1 not at n2 within 2 s";
  const auto took = Clock::now() - t0;
  std::cout << "[ metric ] n1 -> n2 propagation: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
  auto snap = b.snapshot();
  EXPECT_EQ(names(snap), (std::vector<std::string>{"x@n1"})) << "n2's own endpoints stay out";
  const auto& x = snap.endpoints[0];
  EXPECT_EQ(x.node, "n1");
  EXPECT_EQ(x.netns, "");
  EXPECT_EQ(x.labels, (policy::Labels{{"app", "web"}}));
  ASSERT_EQ(x.addresses.size(), 1u);
  EXPECT_EQ(x.addresses[0].to_string(), "198.18.0.2");
  ASSERT_EQ(x.ports.size(), 1u);
  EXPECT_EQ(x.ports[0].port, 80);
  ASSERT_TRUE(wait_for(2s, [&] { return has(a, "y@n2"); }));

  // Node records, both directions, with each node's digest.
  ASSERT_TRUE(wait_for(2s, [&] { return b.status().nodes.size() == 2; }));
  auto st = b.status();
  EXPECT_TRUE(st.connected);
  EXPECT_EQ(st.remote_endpoints, 1u);
  EXPECT_GT(st.revision, 0);
  EXPECT_EQ(st.nodes[0].node, "n1");
  EXPECT_EQ(st.nodes[0].policy_digest, "digest-a");
  EXPECT_EQ(st.nodes[0].endpoints, 1);
  EXPECT_EQ(st.nodes[1].policy_digest, "digest-b");

  // Only changes are written: a departed endpoint is deleted, a new one put.
  a.publish({local("z", "198.18.0.4")}, "digest-a");
  ASSERT_TRUE(wait_for(2s, [&] { return names(b.snapshot()) == std::vector<std::string>{"z@n1"}; }))
      << "departed x@n1 or new z@n1 not seen by n2";

  // n1 stops (its keepalive with it): its keys vanish after the TTL (2 s) plus etcd's check.
  a.stop();
  const auto stopped = Clock::now();
  EXPECT_TRUE(has(b, "z@n1")) << "a stopped daemon does not revoke its lease";
  ASSERT_TRUE(wait_for(6s, [&] { return b.snapshot().endpoints.empty(); }))
      << "z@n1 outlived n1's lease";
  EXPECT_GE(Clock::now() - stopped, 1s);
  EXPECT_TRUE(wait_for(2s, [&] { return b.status().nodes.size() == 1; }));
  EXPECT_TRUE(b.snapshot().error.empty());
}

TEST(ClusterSource, ARestartedNodeDeletesItsStaleKeysAndTakesOverTheRest) {
  EtcdServer etcd;
  auto store = raw_client(etcd);
  ASSERT_TRUE(store);
  ClusterSource b(options(etcd, "n2", 30));
  ASSERT_TRUE(b.start({}).ok());
  {
    ClusterSource a(options(etcd, "n1", 30));
    ASSERT_TRUE(a.start({}).ok());
    a.publish({local("x", "198.18.0.2"), local("y", "198.18.0.3")}, "d");
    ASSERT_TRUE(wait_for(2s, [&] { return names(b.snapshot()).size() == 2; }));
  }  // stopped; its 30 s lease keeps both keys
  ClusterSource a2(options(etcd, "n1", 30));
  ASSERT_TRUE(a2.start({}).ok());
  a2.publish({local("x", "198.18.0.2")}, "d");
  // Long before the old lease runs out: y is deleted as stale, x moves to the new lease.
  ASSERT_TRUE(wait_for(2s, [&] { return names(b.snapshot()) == std::vector<std::string>{"x@n1"}; }))
      << "stale y@n1 still at n2";
  ASSERT_TRUE(wait_for(2s, [&] {
    auto kv = store->range("/bulkhead-test/endpoints/n1/x", "");
    return kv.ok() && kv->kvs.size() == 1 && kv->kvs[0].lease == a2.lease_id() &&
           a2.lease_id() != 0;
  }));
}

TEST(ClusterSource, StoreDownKeepsTheLastSnapshotThenReconnectsAndPublishesAgain) {
  EtcdServer etcd;
  ClusterSource a(options(etcd, "n1", 4)), b(options(etcd, "n2", 4));
  std::atomic<int> b_changes{0};
  ASSERT_TRUE(a.start({}).ok());
  ASSERT_TRUE(b.start([&] { ++b_changes; }).ok());
  a.publish({local("x", "198.18.0.2")}, "d");
  ASSERT_TRUE(wait_for(2s, [&] { return has(b, "x@n1"); }));

  etcd.kill();
  ASSERT_TRUE(wait_for(5s, [&] { return !b.snapshot().error.empty(); }))
      << "n2 did not notice the store going away";
  auto down = b.snapshot();
  EXPECT_TRUE(down.ready);
  EXPECT_EQ(names(down), (std::vector<std::string>{"x@n1"})) << "peers flushed while etcd is down";
  EXPECT_FALSE(b.status().connected);
  std::this_thread::sleep_for(1500ms);  // several failed retries later: still the same
  EXPECT_EQ(names(b.snapshot()), (std::vector<std::string>{"x@n1"}));
  EXPECT_TRUE(wait_for(5s, [&] { return !a.status().connected; }));

  etcd.start();  // same data directory, same ports
  ASSERT_TRUE(wait_for(10s, [&] { return b.status().connected && a.status().connected; }))
      << "n2: " << b.status().error << "; n1: " << a.status().error;
  EXPECT_TRUE(b.snapshot().error.empty());
  EXPECT_TRUE(has(b, "x@n1"));
  a.publish({local("x", "198.18.0.2"), local("w", "198.18.0.5")}, "d");
  ASSERT_TRUE(wait_for(2s, [&] { return has(b, "w@n1"); }));
  // n1's keys are held by a live lease: still there after more than the TTL.
  std::this_thread::sleep_for(5s);
  EXPECT_EQ(names(b.snapshot()), (std::vector<std::string>{"w@n1", "x@n1"}));
  EXPECT_GT(b_changes.load(), 0);
}

TEST(ClusterSource, ALostLeaseIsReplacedAndEverythingPublishedAgain) {
  EtcdServer etcd;
  auto store = raw_client(etcd);
  ASSERT_TRUE(store);
  ClusterSource a(options(etcd, "n1", 3)), b(options(etcd, "n2", 3));
  ASSERT_TRUE(a.start({}).ok());
  ASSERT_TRUE(b.start({}).ok());
  a.publish({local("x", "198.18.0.2")}, "d");
  ASSERT_TRUE(wait_for(2s, [&] { return has(b, "x@n1") && a.lease_id() != 0; }));
  const int64_t old_lease = a.lease_id();
  // As if the lease had expired while n1 could not reach the store.
  ASSERT_TRUE(store->lease_revoke(old_lease).ok());
  ASSERT_TRUE(wait_for(2s, [&] { return !has(b, "x@n1"); }));
  // The next keepalive (every TTL/3 = 1 s) finds the lease gone: new lease, republished.
  ASSERT_TRUE(wait_for(4s, [&] { return has(b, "x@n1"); })) << "x@n1 not republished";
  EXPECT_NE(a.lease_id(), old_lease);
  EXPECT_TRUE(wait_for(2s, [&] { return b.status().nodes.size() == 1; }));
}

TEST(ClusterSource, AnUnreachableStoreAtStartTurnsReadyWithAnErrorAfterTheWait) {
  auto o = ClusterSource::Options{};
  o.urls = {"http://127.0.0.1:" + std::to_string(bulkhead::testing::free_port())};
  o.node = "n1";
  o.ready_wait = 700ms;
  o.backoff_min = 50ms;
  ClusterSource s(o);
  std::atomic<int> changes{0};
  const auto t0 = Clock::now();
  ASSERT_TRUE(s.start([&] { ++changes; }).ok());
  EXPECT_FALSE(s.snapshot().ready);
  ASSERT_TRUE(wait_for(3s, [&] { return s.snapshot().ready; }));
  const auto took = Clock::now() - t0;
  EXPECT_GE(took, 600ms);
  EXPECT_LT(took, 2s);
  auto snap = s.snapshot();
  EXPECT_TRUE(snap.endpoints.empty());
  EXPECT_NE(snap.error.find("Connection refused"), std::string::npos) << snap.error;
  EXPECT_TRUE(wait_for(1s, [&] { return changes.load() > 0; }));
  EXPECT_FALSE(s.status().connected);
}

TEST(ClusterSource, AThousandEndpointsInABurstArriveInFewSignals) {
  EtcdServer etcd;
  ClusterSource a(options(etcd, "n1", 10)), b(options(etcd, "n2", 10));
  std::atomic<int> b_changes{0};
  ASSERT_TRUE(a.start({}).ok());
  ASSERT_TRUE(b.start([&] { ++b_changes; }).ok());
  ASSERT_TRUE(wait_for(3s, [&] { return b.snapshot().ready; }));
  std::this_thread::sleep_for(300ms);  // the start's own signals are over
  const int before = b_changes.load();
  policy::Endpoints burst;
  for (int i = 0; i < 1000; ++i)
    burst.push_back(local("c" + std::to_string(i), "198.18." + std::to_string(10 + i / 250) + "." +
                                                       std::to_string(1 + i % 250)));
  const auto t0 = Clock::now();
  a.publish(burst, "d");
  ASSERT_TRUE(wait_for(10s, [&] { return b.snapshot().endpoints.size() == 1000; }));
  const auto took = Clock::now() - t0;
  std::this_thread::sleep_for(300ms);  // a last coalesced signal may still be due
  const int signals = b_changes.load() - before;
  std::cout << "[ metric ] 1000 endpoints n1 -> n2: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms, "
            << signals << " changed signals\n";
  EXPECT_LT(took, 2s);
  EXPECT_GE(signals, 1);
  EXPECT_LE(signals, 10);
}

TEST(ClusterSource, ReadOnlyModePublishesNothing) {
  EtcdServer etcd;
  auto store = raw_client(etcd);
  ASSERT_TRUE(store);
  auto o = options(etcd, "n1");
  o.publish = false;
  ClusterSource a(o);
  ASSERT_TRUE(a.start({}).ok());
  a.publish({local("x", "198.18.0.2")}, "d");
  ASSERT_TRUE(wait_for(3s, [&] { return a.snapshot().ready; }));
  // An observation window, not a wait for an outcome: a publishing source puts its first keys
  // into etcd right after it turns ready; in read-only mode nothing may appear meanwhile.
  std::this_thread::sleep_for(500ms);
  auto all = store->range("/bulkhead-test/", "/bulkhead-test0");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->kvs.empty());
  EXPECT_EQ(a.lease_id(), 0);
}

TEST(ClusterSource, WorksOverTlsWithClientCertificates) {
  EtcdServer etcd(/*tls=*/true);
  ClusterSource a(options(etcd, "n1")), b(options(etcd, "n2"));
  ASSERT_TRUE(a.start({}).ok());
  ASSERT_TRUE(b.start({}).ok());
  a.publish({local("x", "198.18.0.2")}, "d");
  ASSERT_TRUE(wait_for(3s, [&] { return has(b, "x@n1"); })) << b.snapshot().error;
}

}  // namespace
}  // namespace bulkhead::daemon
