#include "netlink/nft/rule_decode.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>

#include <cstring>
#include <optional>
#include <string>

#include "netlink/nft/objects.h"
#include "netlink/nft/rule_build.h"

namespace bulkhead::netlink {
namespace {

using policy::L4;
using policy::RuleKind;

enum class Source { none, meta, payload, ct_state, ct_state_masked };

struct Decoded {
  bool unknown = false;
  std::string why;
  std::optional<uint8_t> nfproto;
  std::optional<uint8_t> l4proto;
  bool loopback = false;
  bool loopback_in = false;  // iif rather than oif
  bool saddr = false;
  std::optional<uint32_t> ct_mask;
  std::string set;
  std::optional<uint16_t> port_eq, port_gte, port_lte;
  std::optional<uint8_t> type_gte, type_lte;
  bool counter = false;
  uint64_t packets = 0, bytes = 0;
  bool limit = false, limit_ok = false, log = false;
  uint32_t limit_rate = 0, limit_burst = 0;
  uint16_t log_group = 0;
  std::string log_prefix;
  std::optional<uint32_t> verdict;

  void fail(std::string w) {
    if (!unknown) why = std::move(w);
    unknown = true;
  }
  // Any match on the packet's family, protocol, addresses, ports or ICMP type.
  bool matches_packet() const {
    return nfproto || l4proto || !set.empty() || port_eq || port_gte || port_lte || type_gte ||
           type_lte;
  }
  bool accepts() const { return verdict && *verdict == static_cast<uint32_t>(NF_ACCEPT); }
  bool drops() const { return verdict && *verdict == static_cast<uint32_t>(NF_DROP); }
};

uint32_t get_u32(const nftnl_expr* e, uint16_t attr) {
  return nftnl_expr_is_set(e, attr) ? nftnl_expr_get_u32(e, attr) : 0;
}

class Walker {
 public:
  explicit Walker(Decoded& d) : d_(d) {}

  void step(const nftnl_expr* e) {
    const char* name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
    std::string n = name ? name : "";
    if (n == "meta") {
      src_ = Source::meta;
      meta_key_ = get_u32(e, NFTNL_EXPR_META_KEY);
      if (!nftnl_expr_is_set(e, NFTNL_EXPR_META_DREG)) d_.fail("meta set");
    } else if (n == "payload") {
      src_ = Source::payload;
      base_ = get_u32(e, NFTNL_EXPR_PAYLOAD_BASE);
      offset_ = get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET);
      len_ = get_u32(e, NFTNL_EXPR_PAYLOAD_LEN);
    } else if (n == "ct") {
      if (get_u32(e, NFTNL_EXPR_CT_KEY) != NFT_CT_STATE) d_.fail("ct key");
      src_ = Source::ct_state;
    } else if (n == "bitwise") {
      uint32_t len = 0;
      const void* mask = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_MASK, &len);
      if (src_ != Source::ct_state || mask == nullptr || len != 4) return d_.fail("bitwise");
      std::memcpy(&mask_, mask, 4);
      src_ = Source::ct_state_masked;
    } else if (n == "cmp") {
      cmp(e);
    } else if (n == "lookup") {
      lookup(e);
    } else if (n == "counter") {
      d_.counter = true;
      d_.packets = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
      d_.bytes = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
    } else if (n == "limit") {
      // Only what nft makes of `limit rate N/second burst B packets`.
      d_.limit = true;
      const uint64_t rate = nftnl_expr_get_u64(e, NFTNL_EXPR_LIMIT_RATE);
      d_.limit_ok = nftnl_expr_get_u64(e, NFTNL_EXPR_LIMIT_UNIT) == 1 &&
                    get_u32(e, NFTNL_EXPR_LIMIT_TYPE) == NFT_LIMIT_PKTS &&
                    get_u32(e, NFTNL_EXPR_LIMIT_FLAGS) == 0 && rate <= UINT32_MAX;
      d_.limit_rate = static_cast<uint32_t>(rate);
      d_.limit_burst = get_u32(e, NFTNL_EXPR_LIMIT_BURST);
    } else if (n == "log") {
      if (!nftnl_expr_is_set(e, NFTNL_EXPR_LOG_GROUP)) return d_.fail("log without group");
      d_.log = true;
      d_.log_group = nftnl_expr_get_u16(e, NFTNL_EXPR_LOG_GROUP);
      const char* prefix = nftnl_expr_is_set(e, NFTNL_EXPR_LOG_PREFIX)
                               ? nftnl_expr_get_str(e, NFTNL_EXPR_LOG_PREFIX)
                               : nullptr;
      d_.log_prefix = prefix ? prefix : "";
    } else if (n == "immediate") {
      if (get_u32(e, NFTNL_EXPR_IMM_DREG) != NFT_REG_VERDICT) return d_.fail("immediate data");
      d_.verdict = get_u32(e, NFTNL_EXPR_IMM_VERDICT);
    } else {
      d_.fail("expression " + n);
    }
  }

 private:
  void cmp(const nftnl_expr* e) {
    uint32_t op = get_u32(e, NFTNL_EXPR_CMP_OP);
    uint32_t len = 0;
    auto* data = static_cast<const uint8_t*>(nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len));
    if (data == nullptr) return d_.fail("cmp without data");
    switch (src_) {
      case Source::meta:
        if (op != NFT_CMP_EQ) return d_.fail("meta cmp op");
        if (meta_key_ == NFT_META_NFPROTO && len == 1) {
          d_.nfproto = data[0];
        } else if (meta_key_ == NFT_META_L4PROTO && len == 1) {
          d_.l4proto = data[0];
        } else if ((meta_key_ == NFT_META_IIF || meta_key_ == NFT_META_OIF) && len == 4) {
          uint32_t ifindex;
          std::memcpy(&ifindex, data, 4);
          if (ifindex != kLoopbackIfindex) return d_.fail("interface other than lo");
          d_.loopback = true;
          d_.loopback_in = meta_key_ == NFT_META_IIF;
        } else {
          d_.fail("meta key " + std::to_string(meta_key_));
        }
        break;
      case Source::payload:
        if (base_ == NFT_PAYLOAD_TRANSPORT_HEADER && offset_ == 2 && len_ == 2 && len == 2) {
          uint16_t port;
          std::memcpy(&port, data, 2);
          port = ntohs(port);
          if (op == NFT_CMP_EQ)
            d_.port_eq = port;
          else if (op == NFT_CMP_GTE)
            d_.port_gte = port;
          else if (op == NFT_CMP_LTE)
            d_.port_lte = port;
          else
            d_.fail("port cmp op");
        } else if (base_ == NFT_PAYLOAD_TRANSPORT_HEADER && offset_ == 0 && len_ == 1 && len == 1) {
          if (op == NFT_CMP_GTE)
            d_.type_gte = data[0];
          else if (op == NFT_CMP_LTE)
            d_.type_lte = data[0];
          else
            d_.fail("type cmp op");
        } else {
          d_.fail("payload cmp");
        }
        break;
      case Source::ct_state_masked: {
        uint32_t v;
        if (op != NFT_CMP_NEQ || len != 4) return d_.fail("ct cmp");
        std::memcpy(&v, data, 4);
        if (v != 0) return d_.fail("ct cmp value");
        d_.ct_mask = mask_;
        break;
      }
      default:
        d_.fail("cmp on unknown source");
    }
  }

  void lookup(const nftnl_expr* e) {
    if (src_ != Source::payload || base_ != NFT_PAYLOAD_NETWORK_HEADER) return d_.fail("lookup");
    if (get_u32(e, NFTNL_EXPR_LOOKUP_FLAGS) != 0) return d_.fail("inverted lookup");
    bool v4 = len_ == 4 && (offset_ == 12 || offset_ == 16);
    bool v6 = len_ == 16 && (offset_ == 8 || offset_ == 24);
    if (!v4 && !v6) return d_.fail("lookup key");
    const char* set = nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);
    d_.set = set ? set : "";
    d_.saddr = offset_ == 12 || offset_ == 8;
  }

  Decoded& d_;
  Source src_ = Source::none;
  uint32_t meta_key_ = 0, base_ = 0, offset_ = 0, len_ = 0, mask_ = 0;
};

std::string read_comment(const nftnl_rule* rule) {
  if (!nftnl_rule_is_set(rule, NFTNL_RULE_USERDATA)) return {};
  uint32_t len = 0;
  auto* p = static_cast<const uint8_t*>(nftnl_rule_get_data(rule, NFTNL_RULE_USERDATA, &len));
  // TLVs: type (1 byte), length (1 byte), value.
  for (uint32_t i = 0; p != nullptr && i + 2 <= len;) {
    uint8_t type = p[i], l = p[i + 1];
    if (i + 2 + l > len) break;
    if (type == NFTNL_UDATA_RULE_COMMENT) {
      const char* s = reinterpret_cast<const char*>(p + i + 2);
      return std::string(s, strnlen(s, l));
    }
    i += 2 + l;
  }
  return {};
}

L4 to_l4(uint8_t proto, bool& ok) {
  ok = true;
  switch (proto) {
    case IPPROTO_TCP:
      return L4::tcp;
    case IPPROTO_UDP:
      return L4::udp;
    case IPPROTO_SCTP:
      return L4::sctp;
    case IPPROTO_ICMP:
      return L4::icmp;
    case IPPROTO_ICMPV6:
      return L4::icmpv6;
    default:
      ok = false;
      return L4::any;
  }
}

// One decoder per kind of rule, the inverse of rule_build.cc's builders: each checks that the
// expressions are exactly what its builder writes, fills in `out`, or fails `d` saying why.

// limit rate N/second burst B packets log prefix "..." group G, and nothing else.
void decode_log(Decoded& d, bool, policy::NftRule& out) {
  if (!d.log || !d.limit || !d.limit_ok || d.verdict || d.counter || d.matches_packet() ||
      d.loopback || d.ct_mask)
    return d.fail("log rule");
  out.kind = RuleKind::log;
  out.log_rate = d.limit_rate;
  out.log_burst = d.limit_burst;
  out.log_group = d.log_group;
  out.log_prefix = d.log_prefix;
}

// ct state established,related accept
void decode_ct_established_accept(Decoded& d, bool, policy::NftRule& out) {
  if (d.matches_packet() || d.loopback) return d.fail("ct state with other matches");
  if (*d.ct_mask != kCtStateEstablishedRelated || !d.accepts()) return d.fail("ct state");
  out.kind = RuleKind::ct_established_accept;
}

// ct state invalid drop
void decode_ct_invalid_drop(Decoded& d, bool, policy::NftRule& out) {
  if (d.matches_packet() || d.loopback) return d.fail("ct state with other matches");
  if (*d.ct_mask != kCtStateInvalid || !d.drops()) return d.fail("ct state");
  out.kind = RuleKind::ct_invalid_drop;
}

// iif lo accept on ingress, oif lo accept on egress
void decode_loopback_accept(Decoded& d, bool input, policy::NftRule& out) {
  if (d.matches_packet() || !d.accepts() || d.loopback_in != input) return d.fail("loopback rule");
  out.kind = RuleKind::loopback_accept;
}

// meta nfproto ipv6 meta l4proto ipv6-icmp icmpv6 type 133-137 accept
void decode_icmpv6_nd_accept(Decoded& d, bool, policy::NftRule& out) {
  if (d.nfproto == NFPROTO_IPV6 && d.l4proto == IPPROTO_ICMPV6 && d.type_gte == 133 &&
      d.type_lte == 137 && d.set.empty() && !d.port_eq && !d.port_gte && !d.port_lte && d.accepts())
    out.kind = RuleKind::icmpv6_nd_accept;
  else
    d.fail("icmp type match");
}

// [counter] drop, matching nothing
void decode_final_drop(Decoded& d, bool, policy::NftRule& out) {
  if (d.matches_packet()) return d.fail("drop with matches");
  out.kind = RuleKind::final_drop;
}

// [meta nfproto F] [ip saddr/daddr @set] [meta l4proto P [th dport ...]] accept. A bare `counter
// accept` reads as an allow rule that matches everything; recognise_final_accepts tells an audit
// chain's final accept apart afterwards.
void decode_allow(Decoded& d, bool input, policy::NftRule& out) {
  out.kind = RuleKind::allow;
  if (d.nfproto) {
    if (*d.nfproto == NFPROTO_IPV4)
      out.family = 4;
    else if (*d.nfproto == NFPROTO_IPV6)
      out.family = 6;
    else
      d.fail("nfproto");
  }
  out.peer_set = d.set;
  if (!d.set.empty() && d.saddr != input) d.fail("address direction");
  if (d.l4proto) {
    bool ok;
    out.proto = to_l4(*d.l4proto, ok);
    if (!ok) d.fail("l4proto");
  }
  if (d.port_eq) {
    out.port_first = out.port_last = *d.port_eq;
    if (d.port_gte || d.port_lte) d.fail("ports");
  } else if (d.port_gte && d.port_lte) {
    out.port_first = *d.port_gte;
    out.port_last = *d.port_lte;
  } else if (d.port_gte || d.port_lte) {
    d.fail("half-open port range");
  }
}

using Decoder = void (*)(Decoded&, bool input, policy::NftRule& out);

// The decoder of the kind a rule claims by the expression that only that kind writes, asked in
// this order: the limit or log of a log rule, the ct state mask, the loopback interface, an ICMP
// type range, then the verdict alone. The decoder then checks the rest. No kind claims
// final_accept: its expressions are an allow rule's (recognise_final_accepts).
Decoder claimed_decoder(const Decoded& d) {
  if (d.log || d.limit) return decode_log;
  if (d.ct_mask) {
    return *d.ct_mask == kCtStateInvalid ? decode_ct_invalid_drop : decode_ct_established_accept;
  }
  if (d.loopback) return decode_loopback_accept;
  if (d.type_gte || d.type_lte) return decode_icmpv6_nd_accept;
  if (d.drops()) return decode_final_drop;
  if (d.accepts()) return decode_allow;
  return nullptr;
}

// What a rule bulkhead did not write reads as: an allow rule that says so, which never equals a
// desired rule, so it is always drift.
policy::NftRule unrecognised(const nftnl_rule* rule, const Decoded& d) {
  const uint64_t handle =
      nftnl_rule_is_set(rule, NFTNL_RULE_HANDLE) ? nftnl_rule_get_u64(rule, NFTNL_RULE_HANDLE) : 0;
  policy::NftRule out;
  out.kind = RuleKind::allow;
  out.counter = d.counter;
  out.packets = d.packets;
  out.bytes = d.bytes;
  out.comment = "unrecognised rule handle " + std::to_string(handle) + " (" + d.why + ")";
  return out;
}

}  // namespace

policy::NftRule decode_rule(const nftnl_rule* rule, policy::Hook hook) {
  Decoded d;
  Walker w(d);
  ExprIterPtr it(nftnl_expr_iter_create(rule));
  for (nftnl_expr* e = nftnl_expr_iter_next(it.get()); e != nullptr;
       e = nftnl_expr_iter_next(it.get())) {
    w.step(e);
  }

  policy::NftRule out;
  out.counter = d.counter;
  out.packets = d.packets;
  out.bytes = d.bytes;
  out.comment = read_comment(rule);
  if (!d.verdict && !d.log) d.fail("no verdict");
  if (!d.unknown) {
    if (Decoder decode = claimed_decoder(d))
      decode(d, hook == policy::Hook::input, out);
    else
      d.fail("verdict");
  }
  return d.unknown ? unrecognised(rule, d) : out;
}

void recognise_final_accepts(std::vector<policy::NftRule>& rules) {
  for (size_t i = 1; i < rules.size(); ++i) {
    policy::NftRule& r = rules[i];
    const bool bare_accept = r.kind == RuleKind::allow && r.family == 0 && r.peer_set.empty() &&
                             r.proto == L4::any && r.port_first == 0 && r.counter;
    if (bare_accept && rules[i - 1].kind == RuleKind::log) r.kind = RuleKind::final_accept;
  }
}

}  // namespace bulkhead::netlink
