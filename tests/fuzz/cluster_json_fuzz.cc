// What other hosts write into etcd, as the cluster source reads it: the gateway's answers
// (enforcer/sources/cluster/etcd_json.cc), then every key and record in them
// (enforcer/sources/cluster/record.cc). A host's records are only as trusted as etcd's access
// control; a malformed one must be refused, never crash the daemons that read it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "enforcer/sources/cluster/etcd_json.h"
#include "enforcer/sources/cluster/record.h"

using namespace bulkhead::daemon;

namespace {

void decode(const std::string& key, const std::string& value) {
  auto ref = cluster::parse_key("/bulkhead/v1", key);
  if (!ref) return;
  if (ref->kind == cluster::KeyRef::Kind::node) {
    (void)cluster::decode_node(value, *ref);
    return;
  }
  if (auto ep = cluster::decode_endpoint(value, *ref); ep.ok())
    (void)cluster::encode_endpoint(*ep, ref->node);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<etcd::KeyValue> kvs;
  if (auto r = etcd::parse_range_response(text); r.ok()) kvs = std::move(r->kvs);
  if (auto w = etcd::parse_watch_response(text); w.ok())
    for (auto& e : w->events) kvs.push_back(std::move(e.kv));
  (void)etcd::parse_put_response(text);
  (void)etcd::parse_delete_response(text);
  (void)etcd::parse_txn_response(text);
  (void)etcd::parse_lease_grant_response(text);
  (void)etcd::parse_keepalive_response(text);
  for (const auto& kv : kvs) decode(kv.key, kv.value);
  // The input as a record itself, so the fuzzer need not learn base64 to reach the decoders.
  decode("/bulkhead/v1/endpoints/n1/web", text);
  decode("/bulkhead/v1/nodes/n1", text);
  (void)cluster::base64_decode(text);
  return 0;
}
