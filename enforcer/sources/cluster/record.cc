#include "enforcer/sources/cluster/record.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>

#include "policy/model/resolve.h"

namespace bulkhead::daemon::cluster {
namespace {

using Json = nlohmann::ordered_json;

// A record is one container's description: anything far beyond these sizes is not one.
constexpr size_t kMaxLabels = 256;
constexpr size_t kMaxAddresses = 64;
constexpr size_t kMaxPorts = 1024;

std::optional<policy::Protocol> parse_protocol(const std::string& p) {
  if (p == "tcp") return policy::Protocol::tcp;
  if (p == "udp") return policy::Protocol::udp;
  if (p == "sctp") return policy::Protocol::sctp;
  return std::nullopt;
}

std::string what(const KeyRef& ref) {
  return ref.kind == KeyRef::Kind::node ? "node record " + ref.node
                                        : "endpoint record " + ref.name + "@" + ref.node;
}

}  // namespace

bool valid_node_name(std::string_view node) {
  return !node.empty() && node.size() <= 253 && std::all_of(node.begin(), node.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

std::string endpoint_key(const std::string& prefix, const std::string& node,
                         const std::string& name) {
  return node_endpoints_prefix(prefix, node) + name;
}

std::string node_endpoints_prefix(const std::string& prefix, const std::string& node) {
  return prefix + "/endpoints/" + node + "/";
}

std::string node_key(const std::string& prefix, const std::string& node) {
  return prefix + "/nodes/" + node;
}

std::string prefix_range_end(std::string prefix) {
  // The smallest key greater than every key with this prefix: the prefix with its last byte
  // below 0xff incremented and what follows dropped; "\0" (the whole keyspace) if none is.
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last < 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');
}

std::optional<KeyRef> parse_key(const std::string& prefix, std::string_view key) {
  const std::string head = prefix + "/";
  if (key.substr(0, head.size()) != head) return std::nullopt;
  std::string_view rest = key.substr(head.size());
  KeyRef ref;
  if (rest.substr(0, 10) == "endpoints/") {
    rest.remove_prefix(10);
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    ref.kind = KeyRef::Kind::endpoint;
    ref.node = std::string(rest.substr(0, slash));
    ref.name = std::string(rest.substr(slash + 1));
    if (!valid_node_name(ref.node) || ref.name.empty()) return std::nullopt;
    return ref;
  }
  if (rest.substr(0, 6) == "nodes/") {
    ref.kind = KeyRef::Kind::node;
    ref.node = std::string(rest.substr(6));
    if (!valid_node_name(ref.node)) return std::nullopt;
    return ref;
  }
  return std::nullopt;
}

std::string remote_name(const std::string& name, const std::string& node) {
  return name + "@" + node;
}

std::string encode_endpoint(const policy::Endpoint& ep, const std::string& node) {
  Json j;
  j["name"] = ep.name;
  j["node"] = node;
  Json labels = Json::object();
  for (const auto& [k, v] : ep.labels) labels[k] = v;  // std::map: sorted
  j["labels"] = labels;
  Json addrs = Json::array();
  for (const auto& a : ep.addresses) addrs.push_back(a.to_string());
  j["addresses"] = addrs;
  Json ports = Json::array();
  for (const auto& p : ep.ports)
    ports.push_back(
        {{"name", p.name}, {"port", p.port}, {"protocol", policy::protocol_name(p.proto)}});
  j["ports"] = ports;
  return j.dump();
}

Result<policy::Endpoint> decode_endpoint(std::string_view json, const KeyRef& ref) {
  const std::string op = what(ref);
  auto j = Json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error(op, "not a JSON object");
  auto str = [&](const char* k) -> std::optional<std::string> {
    auto it = j.find(k);
    if (it == j.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  auto name = str("name");
  auto node = str("node");
  if (!name || !node) return make_error(op, "\"name\" and \"node\" must be strings");
  if (*name != ref.name || *node != ref.node)
    return make_error(op, "names " + *name + "@" + *node + ", not what its key says");
  policy::Endpoint ep;
  ep.name = remote_name(ref.name, ref.node);
  ep.node = ref.node;
  if (auto it = j.find("labels"); it != j.end()) {
    if (!it->is_object() || it->size() > kMaxLabels)
      return make_error(
          op, "\"labels\" must be an object of at most " + std::to_string(kMaxLabels) + " strings");
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) return make_error(op, "label " + k + " is not a string");
      ep.labels[k] = v.get<std::string>();
    }
  }
  if (auto it = j.find("addresses"); it != j.end()) {
    if (!it->is_array() || it->size() > kMaxAddresses)
      return make_error(op, "\"addresses\" must be a list of at most " +
                                std::to_string(kMaxAddresses) + " addresses");
    for (const auto& a : *it) {
      auto ip = a.is_string() ? policy::IpAddr::parse(a.get<std::string>()) : std::nullopt;
      if (!ip) return make_error(op, "bad address " + a.dump());
      ep.addresses.push_back(*ip);
    }
  }
  if (auto it = j.find("ports"); it != j.end()) {
    if (!it->is_array() || it->size() > kMaxPorts)
      return make_error(
          op, "\"ports\" must be a list of at most " + std::to_string(kMaxPorts) + " ports");
    for (const auto& p : *it) {
      if (!p.is_object()) return make_error(op, "a port is not an object");
      auto pname = p.find("name");
      auto pnum = p.find("port");
      auto pproto = p.find("protocol");
      if (pname == p.end() || !pname->is_string() || pname->get<std::string>().empty() ||
          pnum == p.end() || !pnum->is_number_integer() || pproto == p.end() ||
          !pproto->is_string())
        return make_error(op, "a port needs \"name\", \"port\" and \"protocol\": " + p.dump());
      const int64_t n = pnum->get<int64_t>();
      auto proto = parse_protocol(pproto->get<std::string>());
      if (n < 1 || n > 65535 || !proto) return make_error(op, "bad port " + p.dump());
      ep.ports.push_back({pname->get<std::string>(), static_cast<uint16_t>(n), *proto});
    }
    std::sort(ep.ports.begin(), ep.ports.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
  }
  return ep;
}

std::string encode_node(const NodeRecord& n) {
  Json j;
  j["node"] = n.node;
  j["policy_digest"] = n.policy_digest;
  j["endpoints"] = n.endpoints;
  j["version"] = n.version;
  return j.dump();
}

Result<NodeRecord> decode_node(std::string_view json, const KeyRef& ref) {
  const std::string op = what(ref);
  auto j = Json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error(op, "not a JSON object");
  NodeRecord n;
  auto node = j.find("node");
  if (node == j.end() || !node->is_string() || node->get<std::string>() != ref.node)
    return make_error(op, "\"node\" must be the node of its key");
  n.node = ref.node;
  if (auto it = j.find("policy_digest"); it != j.end() && it->is_string())
    n.policy_digest = it->get<std::string>();
  if (auto it = j.find("endpoints"); it != j.end() && it->is_number_integer())
    n.endpoints = it->get<int64_t>();
  if (auto it = j.find("version"); it != j.end() && it->is_number_integer())
    n.version = it->get<int>();
  return n;
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 0xf]);
  }
  return out;
}

std::string policy_digest(const std::vector<std::string>& contents) {
  std::vector<std::string> digests;
  digests.reserve(contents.size());
  for (const auto& c : contents) digests.push_back(sha256_hex(c));
  std::sort(digests.begin(), digests.end());
  std::string all;
  for (const auto& d : digests) all += d + "\n";
  return sha256_hex(all);
}

std::string base64_encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(std::max(n, 0)));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  if (text.empty()) return std::string();
  std::string out(3 * (text.size() / 4), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes.
  size_t pad = 0;
  if (text.back() == '=') ++pad;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

}  // namespace bulkhead::daemon::cluster
