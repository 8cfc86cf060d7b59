// The pure parts of the cluster source: the JSON of endpoint and node records, the key layout,
// base64, the policy digest, and etcd's gateway answers (as etcd 3.4 writes them).
#include "enforcer/sources/cluster/record.h"

#include <gtest/gtest.h>

#include "enforcer/sources/cluster/etcd_json.h"

namespace bulkhead::daemon::cluster {
namespace {

policy::Endpoint web() {
  policy::Endpoint ep;
  ep.name = "web-1";
  ep.netns = "/proc/42/ns/net";
  ep.labels = {{"app", "web"}, {"io.kubernetes.pod.namespace", "shop"}};
  ep.addresses = {*policy::IpAddr::parse("198.18.0.2"), *policy::IpAddr::parse("2001:db8::2")};
  ep.ports = {{"http", 8080, policy::Protocol::tcp},
              {"metrics", 9100, policy::Protocol::tcp},
              {"dns", 53, policy::Protocol::udp}};
  std::sort(ep.ports.begin(), ep.ports.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return ep;
}

KeyRef ref(std::string node, std::string name) {
  return KeyRef{KeyRef::Kind::endpoint, std::move(node), std::move(name)};
}

TEST(ClusterRecord, EndpointEncodesToTheDocumentedJson) {
  EXPECT_EQ(encode_endpoint(web(), "n1"),
            R"({"name":"web-1","node":"n1","labels":{"app":"web","io.kubernetes.pod.namespace":)"
            R"("shop"},"addresses":["198.18.0.2","2001:db8::2"],"ports":[{"name":"dns","port":53,)"
            R"("protocol":"udp"},{"name":"http","port":8080,"protocol":"tcp"},{"name":"metrics",)"
            R"("port":9100,"protocol":"tcp"}]})");
}

TEST(ClusterRecord, DecodeGivesARemoteEndpointNamedAtItsNode) {
  auto ep = decode_endpoint(encode_endpoint(web(), "n1"), ref("n1", "web-1"));
  ASSERT_TRUE(ep.ok()) << ep.error().to_string();
  EXPECT_EQ(ep->name, "web-1@n1");
  EXPECT_EQ(ep->node, "n1");
  EXPECT_EQ(ep->netns, "");  // never a namespace of this host
  EXPECT_EQ(ep->labels, web().labels);
  EXPECT_EQ(ep->addresses, web().addresses);
  ASSERT_EQ(ep->ports.size(), 3u);
  EXPECT_EQ(ep->ports[1].name, "http");
  EXPECT_EQ(ep->ports[1].port, 8080);
  EXPECT_EQ(ep->ports[1].proto, policy::Protocol::tcp);
  EXPECT_EQ(ep->ports[0].proto, policy::Protocol::udp);
}

TEST(ClusterRecord, DecodeRefusesRecordsThatAreNotWhatTheirKeySays) {
  const std::string good = encode_endpoint(web(), "n1");
  auto other_node = decode_endpoint(good, ref("n2", "web-1"));
  ASSERT_FALSE(other_node.ok());
  EXPECT_EQ(other_node.error().to_string(),
            "endpoint record web-1@n2: names web-1@n1, not what its key says");
  EXPECT_FALSE(decode_endpoint(good, ref("n1", "web-2")).ok());
  EXPECT_FALSE(decode_endpoint("not json", ref("n1", "web-1")).ok());
  EXPECT_FALSE(decode_endpoint("[]", ref("n1", "web-1")).ok());
  auto bad_addr =
      decode_endpoint(R"({"name":"a","node":"n1","addresses":["198.18.0.300"]})", ref("n1", "a"));
  ASSERT_FALSE(bad_addr.ok());
  EXPECT_EQ(bad_addr.error().to_string(), "endpoint record a@n1: bad address \"198.18.0.300\"");
  EXPECT_FALSE(decode_endpoint(
                   R"({"name":"a","node":"n1","ports":[{"name":"x","port":0,"protocol":"tcp"}]})",
                   ref("n1", "a"))
                   .ok());
  EXPECT_FALSE(decode_endpoint(
                   R"({"name":"a","node":"n1","ports":[{"name":"x","port":80,"protocol":"icmp"}]})",
                   ref("n1", "a"))
                   .ok());
  EXPECT_FALSE(
      decode_endpoint(R"({"name":"a","node":"n1","labels":{"k":1}})", ref("n1", "a")).ok());
  // Only name and node are required: a record without the rest is an endpoint without them.
  auto bare = decode_endpoint(R"({"name":"a","node":"n1"})", ref("n1", "a"));
  ASSERT_TRUE(bare.ok());
  EXPECT_TRUE(bare->addresses.empty());
}

TEST(ClusterRecord, NodeRecordRoundTrips) {
  NodeRecord n{"n1", std::string(64, 'a'), 12, kRecordVersion};
  const std::string json = encode_node(n);
  EXPECT_EQ(json, R"({"node":"n1","policy_digest":")" + std::string(64, 'a') +
                      R"(","endpoints":12,"version":1})");
  auto back = decode_node(json, KeyRef{KeyRef::Kind::node, "n1", ""});
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->policy_digest, n.policy_digest);
  EXPECT_EQ(back->endpoints, 12);
  EXPECT_FALSE(decode_node(json, KeyRef{KeyRef::Kind::node, "n2", ""}).ok());
}

TEST(ClusterRecord, KeysFollowTheLayout) {
  EXPECT_EQ(endpoint_key("/bulkhead/v1", "n1", "web-1"), "/bulkhead/v1/endpoints/n1/web-1");
  EXPECT_EQ(node_key("/bulkhead/v1", "n1"), "/bulkhead/v1/nodes/n1");
  auto e = parse_key("/bulkhead/v1", "/bulkhead/v1/endpoints/n1/web-1");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind, KeyRef::Kind::endpoint);
  EXPECT_EQ(e->node, "n1");
  EXPECT_EQ(e->name, "web-1");
  auto n = parse_key("/bulkhead/v1", "/bulkhead/v1/nodes/n-2.example");
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->kind, KeyRef::Kind::node);
  EXPECT_EQ(n->node, "n-2.example");
  EXPECT_FALSE(parse_key("/bulkhead/v1", "/bulkhead/v10/nodes/n1").has_value());
  EXPECT_FALSE(parse_key("/bulkhead/v1", "/bulkhead/v1/endpoints/n1").has_value());
  EXPECT_FALSE(parse_key("/bulkhead/v1", "/bulkhead/v1/endpoints/n1/").has_value());
  EXPECT_FALSE(parse_key("/bulkhead/v1", "/bulkhead/v1/nodes/bad node").has_value());
  EXPECT_FALSE(parse_key("/bulkhead/v1", "/bulkhead/v1/other/x").has_value());
  EXPECT_EQ(prefix_range_end("/bulkhead/v1/"), "/bulkhead/v10");
  EXPECT_EQ(prefix_range_end(std::string("a\xff", 2)), "b");
  EXPECT_TRUE(valid_node_name("node-1.example_x"));
  EXPECT_FALSE(valid_node_name(""));
  EXPECT_FALSE(valid_node_name("a/b"));
  EXPECT_FALSE(valid_node_name("a@b"));
  EXPECT_FALSE(valid_node_name(std::string(254, 'a')));
}

TEST(ClusterRecord, Base64RoundTripsAnyBytes) {
  EXPECT_EQ(base64_encode("/t/a"), "L3QvYQ==");
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(*base64_decode("aGVsbG8="), "hello");
  EXPECT_EQ(*base64_decode("L3QvYw=="), "/t/c");
  for (size_t n = 0; n < 40; ++n) {
    std::string bytes;
    for (size_t i = 0; i < n; ++i) bytes.push_back(static_cast<char>((i * 97 + n) & 0xff));
    auto back = base64_decode(base64_encode(bytes));
    ASSERT_TRUE(back.has_value()) << n;
    EXPECT_EQ(*back, bytes) << n;
  }
  EXPECT_FALSE(base64_decode("abc").has_value());
  EXPECT_FALSE(base64_decode("ab!d").has_value());
}

TEST(ClusterRecord, PolicyDigestDependsOnContentsOnly) {
  const std::string a = "apiVersion: bulkhead/v1\nkind: Policy\n";
  const std::string b = "kind: NetworkPolicy\n";
  EXPECT_EQ(policy_digest({a, b}), policy_digest({b, a}));
  EXPECT_NE(policy_digest({a, b}), policy_digest({a, b + " "}));
  EXPECT_NE(policy_digest({a}), policy_digest({a, a}));
  EXPECT_EQ(policy_digest({a}).size(), 64u);
  // The documented definition: SHA-256 over the sorted per-file hex digests, one per line.
  std::string da = sha256_hex(a), db = sha256_hex(b);
  if (db < da) std::swap(da, db);
  EXPECT_EQ(policy_digest({a, b}), sha256_hex(da + "\n" + db + "\n"));
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(EtcdGateway, WatchResponsesAsEtcdWritesThem) {
  // Lines captured from etcd 3.4's gateway: a creation, a put, a delete, a compaction.
  auto created = etcd::parse_watch_response(
      R"({"result":{"header":{"cluster_id":"1","member_id":"2","revision":"3","raft_term":"2"},"created":true}})");
  ASSERT_TRUE(created.ok());
  EXPECT_TRUE(created->created);
  EXPECT_EQ(created->revision, 3);
  EXPECT_TRUE(created->events.empty());

  auto put = etcd::parse_watch_response(
      R"({"result":{"header":{"revision":"4"},"events":[{"kv":{"key":"L3QvYw==","create_revision":"4","mod_revision":"4","version":"1","value":"eA==","lease":"7587899158663994375"}}]}})");
  ASSERT_TRUE(put.ok()) << put.error().to_string();
  ASSERT_EQ(put->events.size(), 1u);
  EXPECT_EQ(put->events[0].type, etcd::Event::Type::put);
  EXPECT_EQ(put->events[0].kv.key, "/t/c");
  EXPECT_EQ(put->events[0].kv.value, "x");
  EXPECT_EQ(put->events[0].kv.mod_revision, 4);
  EXPECT_EQ(put->events[0].kv.lease, 7587899158663994375);

  auto del = etcd::parse_watch_response(
      R"({"result":{"header":{"revision":"5"},"events":[{"type":"DELETE","kv":{"key":"L3QvYw==","mod_revision":"5"}}]}})");
  ASSERT_TRUE(del.ok());
  ASSERT_EQ(del->events.size(), 1u);
  EXPECT_EQ(del->events[0].type, etcd::Event::Type::del);
  EXPECT_EQ(del->events[0].kv.key, "/t/c");

  auto compacted = etcd::parse_watch_response(
      R"({"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"5"}})");
  ASSERT_TRUE(compacted.ok());
  EXPECT_TRUE(compacted->canceled);
  EXPECT_EQ(compacted->compact_revision, 5);

  EXPECT_FALSE(etcd::parse_watch_response(R"({"error":{"grpc_code":14,"message":"x"}})").ok());
  EXPECT_FALSE(etcd::parse_watch_response("{").ok());
}

TEST(EtcdGateway, RangeResponsesAsEtcdWritesThem) {
  auto r = etcd::parse_range_response(
      R"({"header":{"revision":"2"},"kvs":[{"key":"L3QvYQ==","create_revision":"2","mod_revision":"2","version":"1","value":"aGVsbG8=","lease":"7"}],"count":"1"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->revision, 2);
  ASSERT_EQ(r->kvs.size(), 1u);
  EXPECT_EQ(r->kvs[0].key, "/t/a");
  EXPECT_EQ(r->kvs[0].value, "hello");
  EXPECT_EQ(r->kvs[0].lease, 7);
  auto empty = etcd::parse_range_response(R"({"header":{"revision":"9"}})");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->kvs.empty());
  EXPECT_EQ(empty->revision, 9);
}

// The store's content comes from other hosts: fields of an unexpected type are refused or read as
// absent, never an exception out of the watcher's thread (which would end the daemon).
TEST(EtcdGateway, FieldsOfAnotherTypeNeverThrow) {
  auto kv = etcd::parse_range_response(R"({"kvs":[{"key":5,"value":["x"]}]})");
  ASSERT_TRUE(kv.ok());
  ASSERT_EQ(kv->kvs.size(), 1u);
  EXPECT_EQ(kv->kvs[0].key, "");
  auto err = etcd::parse_watch_response(R"({"error":{"message":7}})");
  ASSERT_FALSE(err.ok());
  EXPECT_NE(err.error().to_string().find(R"({"message":7})"), std::string::npos);
  auto ev = etcd::parse_watch_response(
      R"({"result":{"cancel_reason":1,"events":[{"type":3,"kv":{"key":"L3QvYQ=="}}]}})");
  ASSERT_TRUE(ev.ok());
  ASSERT_EQ(ev->events.size(), 1u);
  EXPECT_EQ(ev->events[0].type, etcd::Event::Type::put);
  EXPECT_EQ(ev->cancel_reason, "");
  EXPECT_FALSE(etcd::parse_keepalive_response(R"({"error":{"message":[]}})").ok());
  EXPECT_FALSE(etcd::parse_lease_grant_response(R"({"error":{"x":1},"ID":"0"})").ok());
  EXPECT_FALSE(etcd::parse_txn_response(R"({"succeeded":"true"})").ok());
}

}  // namespace
}  // namespace bulkhead::daemon::cluster
