// What one bulkheadd tells the others through etcd (docs/cluster.md): the key layout, the JSON of
// an endpoint record and of a node record, and the policy digest that lets nodes notice they run
// different policies. Pure functions, so they are tested without a store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "policy/model/endpoint.h"

namespace bulkhead::daemon::cluster {

inline constexpr const char* kDefaultPrefix = "/bulkhead/v1";
// The record format; a node that reads a higher one still reads the fields it knows.
inline constexpr int kRecordVersion = 1;

// Node names go into keys: letters, digits, '.', '_' and '-', at most 253 bytes.
bool valid_node_name(std::string_view node);

// PREFIX/endpoints/NODE/NAME, PREFIX/endpoints/NODE/ (every endpoint of a node), PREFIX/nodes/NODE.
std::string endpoint_key(const std::string& prefix, const std::string& node,
                         const std::string& name);
std::string node_endpoints_prefix(const std::string& prefix, const std::string& node);
std::string node_key(const std::string& prefix, const std::string& node);
// The end of the range that holds every key starting with `prefix` (etcd's range_end).
std::string prefix_range_end(std::string prefix);

struct KeyRef {
  enum class Kind { endpoint, node } kind = Kind::endpoint;
  std::string node;
  std::string name;  // endpoint only
};
// Which record a key under `prefix` names; nullopt for anything else.
std::optional<KeyRef> parse_key(const std::string& prefix, std::string_view key);

// Inside a daemon a remote endpoint is called NAME@NODE, so it never collides with a local one.
std::string remote_name(const std::string& name, const std::string& node);

// {"name","node","labels":{},"addresses":[],"ports":[{"name","port","protocol"}]}, keys in
// that order, so an unchanged endpoint always encodes to the same bytes (only changes are put).
std::string encode_endpoint(const policy::Endpoint& ep, const std::string& node);
// The record as a remote endpoint: named NAME@NODE, `node` set, no namespace. The record's own
// name and node must be those of its key (`ref`).
Result<policy::Endpoint> decode_endpoint(std::string_view json, const KeyRef& ref);

struct NodeRecord {
  std::string node;
  std::string policy_digest;
  int64_t endpoints = 0;
  int version = kRecordVersion;
};
std::string encode_node(const NodeRecord& n);
Result<NodeRecord> decode_node(std::string_view json, const KeyRef& ref);

// Lowercase hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);
// The policy digest: SHA-256 over the sorted SHA-256 hex digests of each file's contents, each
// followed by "\n". Independent of the files' paths and of their order. The daemon hashes the
// texts its policy load read (policy::PolicyLoad::texts), so the digest is of what it enforces.
std::string policy_digest(const std::vector<std::string>& contents);

// Standard base64 (with padding), as etcd's JSON gateway carries keys and values.
std::string base64_encode(std::string_view data);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace bulkhead::daemon::cluster
