#include "netlink/nft/rule_build.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "netlink/nft/table_build.h"

namespace bulkhead::netlink {
namespace {

using policy::L4;
using policy::RuleKind;

class RuleBuilder {
 public:
  explicit RuleBuilder(nftnl_rule* r) : rule_(r) {}

  void meta(uint32_t key) {
    auto* e = add("meta");
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
  }
  void cmp(uint32_t op, const void* data, uint32_t len) {
    auto* e = add("cmp");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
    nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
  }
  void cmp_u8(uint32_t op, uint8_t v) { cmp(op, &v, sizeof(v)); }
  void cmp_u32(uint32_t op, uint32_t v) { cmp(op, &v, sizeof(v)); }
  void cmp_be16(uint32_t op, uint16_t v) {
    uint16_t be = htons(v);
    cmp(op, &be, sizeof(be));
  }
  void payload(uint32_t base, uint32_t offset, uint32_t len) {
    auto* e = add("payload");
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
  }
  void lookup(const std::string& set) {
    auto* e = add("lookup");
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
    nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set.c_str());
  }
  void ct_state_mask(uint32_t mask) {
    auto* e = add("ct");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
    uint32_t zero = 0;
    auto* b = add("bitwise");
    nftnl_expr_set_u32(b, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
    nftnl_expr_set_u32(b, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
    nftnl_expr_set_u32(b, NFTNL_EXPR_BITWISE_LEN, sizeof(uint32_t));
    nftnl_expr_set(b, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof(mask));
    nftnl_expr_set(b, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof(zero));
    cmp_u32(NFT_CMP_NEQ, 0);
  }
  void counter() {
    auto* e = add("counter");
    nftnl_expr_set_u64(e, NFTNL_EXPR_CTR_PACKETS, 0);
    nftnl_expr_set_u64(e, NFTNL_EXPR_CTR_BYTES, 0);
  }
  // limit rate R/second burst B packets: nft's packet limit, per rule.
  void limit_packets(uint32_t rate, uint32_t burst) {
    auto* e = add("limit");
    nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, rate);
    nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 1);  // seconds
    nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, burst);
    nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
    nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, 0);
  }
  void log_group(const std::string& prefix, uint16_t group) {
    auto* e = add("log");
    nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, prefix.c_str());
    nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, group);
  }
  void verdict(int v) {
    auto* e = add("immediate");
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, static_cast<uint32_t>(v));
  }
  // A verdict map lookup: the element's verdict (a jump) is the rule's.
  void lookup_verdict(const std::string& map) {
    auto* e = add("lookup");
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, map.c_str());
  }

 private:
  nftnl_expr* add(const char* name) {
    nftnl_expr* e = nftnl_expr_alloc(name);
    nftnl_rule_add_expr(rule_, e);  // the rule owns it from here
    return e;
  }
  nftnl_rule* rule_;
};

uint8_t ip_proto(L4 p) {
  switch (p) {
    case L4::tcp:
      return IPPROTO_TCP;
    case L4::udp:
      return IPPROTO_UDP;
    case L4::sctp:
      return IPPROTO_SCTP;
    case L4::icmp:
      return IPPROTO_ICMP;
    case L4::icmpv6:
      return IPPROTO_ICMPV6;
    case L4::any:
      break;
  }
  return 0;
}

uint8_t nfproto(int family) { return family == 6 ? NFPROTO_IPV6 : NFPROTO_IPV4; }

// What every kind's builder reads; each adds its match expressions and returns the verdict that
// ends the rule (NFT_CONTINUE: none). The counter, the verdict and the comment are common.
struct Context {
  const policy::NftRule& rule;
  bool input;   // an ingress-side chain: match the source address and iif
  bool bridge;  // a bridge table: the family is the frame's ethertype, not nfproto
  const SetFamilies& sets;
  const std::string& label;  // for errors: "add rule inet bulkhead ingress #5"
  RuleBuilder& b;
};

// meta nfproto ipv4|ipv6, or in a bridge table meta protocol ip|ip6 (nfproto is always bridge
// there).
void match_family(const Context& c, int family) {
  if (c.bridge) {
    c.b.meta(NFT_META_PROTOCOL);
    c.b.cmp_be16(NFT_CMP_EQ, family == 6 ? ETH_P_IPV6 : ETH_P_IP);
  } else {
    c.b.meta(NFT_META_NFPROTO);
    c.b.cmp_u8(NFT_CMP_EQ, nfproto(family));
  }
}

// ip saddr|daddr @set (ip6 the same), the address side given.
void match_set(const Context& c, int family, bool source, const std::string& set) {
  // ip saddr 12 / daddr 16; ip6 saddr 8 / daddr 24
  const uint32_t offset = family == 4 ? (source ? 12 : 16) : (source ? 8 : 24);
  c.b.payload(NFT_PAYLOAD_NETWORK_HEADER, offset, family == 4 ? 4 : 16);
  c.b.lookup(set);
}

// ct state established,related accept
Result<int> build_ct_established_accept(const Context& c) {
  c.b.ct_state_mask(kCtStateEstablishedRelated);
  return NF_ACCEPT;
}

// ct state invalid drop
Result<int> build_ct_invalid_drop(const Context& c) {
  c.b.ct_state_mask(kCtStateInvalid);
  return NF_DROP;
}

// iif lo accept (ingress) / oif lo accept (egress)
Result<int> build_loopback_accept(const Context& c) {
  c.b.meta(c.input ? NFT_META_IIF : NFT_META_OIF);
  c.b.cmp_u32(NFT_CMP_EQ, kLoopbackIfindex);
  return NF_ACCEPT;
}

// icmpv6 type 133-137 accept: nd-router-solicit (133) .. nd-redirect (137)
Result<int> build_icmpv6_nd_accept(const Context& c) {
  c.b.meta(NFT_META_NFPROTO);
  c.b.cmp_u8(NFT_CMP_EQ, NFPROTO_IPV6);
  c.b.meta(NFT_META_L4PROTO);
  c.b.cmp_u8(NFT_CMP_EQ, IPPROTO_ICMPV6);
  c.b.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1);
  c.b.cmp_u8(NFT_CMP_GTE, 133);
  c.b.cmp_u8(NFT_CMP_LTE, 137);
  return NF_ACCEPT;
}

// counter drop: a chain's last rule when something isolates its side
Result<int> build_final_drop(const Context&) { return NF_DROP; }

// counter accept: an audit chain's last rule
Result<int> build_final_accept(const Context&) { return NF_ACCEPT; }

// limit rate N/second burst B packets log prefix "..." group G: no verdict, the packet goes on.
Result<int> build_log(const Context& c) {
  const policy::NftRule& rule = c.rule;
  if (rule.counter) return make_error(c.label, "a log rule carries no counter", EINVAL);
  if (rule.log_rate == 0 || rule.log_burst == 0)
    return make_error(c.label, "a log rule needs a rate and a burst", EINVAL);
  if (rule.log_prefix.size() > policy::kLogPrefixMax ||
      rule.log_prefix.find('"') != std::string::npos)
    return make_error(c.label, "log prefix longer than 127 bytes or holding '\"'", EINVAL);
  c.b.limit_packets(rule.log_rate, rule.log_burst);
  c.b.log_group(rule.log_prefix, rule.log_group);
  return NFT_CONTINUE;
}

// The family an allow rule matches: its own, or its peer set's (which must agree).
Result<int> allow_family(const Context& c) {
  const policy::NftRule& rule = c.rule;
  if (rule.peer_set.empty()) return rule.family;
  auto it = c.sets.find(rule.peer_set);
  if (it == c.sets.end()) return make_error(c.label, "unknown set @" + rule.peer_set, ENOENT);
  if (rule.family != 0 && rule.family != it->second) {
    return make_error(c.label, "rule family differs from set @" + rule.peer_set, EINVAL);
  }
  return it->second;
}

// meta l4proto P, then th dport N or the range as cmp gte/lte, as nft writes them.
Status allow_l4(const Context& c) {
  const policy::NftRule& rule = c.rule;
  if (rule.proto == L4::any) {
    if (rule.port_first != 0)
      return make_error(c.label, "a port match needs tcp, udp or sctp", EINVAL);
    return {};
  }
  c.b.meta(NFT_META_L4PROTO);
  c.b.cmp_u8(NFT_CMP_EQ, ip_proto(rule.proto));
  const bool has_ports = rule.proto == L4::tcp || rule.proto == L4::udp || rule.proto == L4::sctp;
  if (!has_ports || rule.port_first == 0) return {};
  const uint16_t last = std::max(rule.port_first, rule.port_last);
  c.b.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
  if (last == rule.port_first) {
    c.b.cmp_be16(NFT_CMP_EQ, rule.port_first);
  } else {
    c.b.cmp_be16(NFT_CMP_GTE, rule.port_first);
    c.b.cmp_be16(NFT_CMP_LTE, last);
  }
  return {};
}

// [meta nfproto F] [ip saddr/daddr @set] [meta l4proto P [th dport ...]] accept
Result<int> build_allow(const Context& c) {
  const policy::NftRule& rule = c.rule;
  auto family = allow_family(c);
  if (!family.ok()) return family.error();
  // ICMP already implies its family; nft writes no nfproto match for it then.
  const bool implied = rule.peer_set.empty() && ((*family == 4 && rule.proto == L4::icmp) ||
                                                 (*family == 6 && rule.proto == L4::icmpv6));
  if (*family != 0 && !implied) match_family(c, *family);
  if (!rule.peer_set.empty()) match_set(c, *family, c.input, rule.peer_set);
  if (Status st = allow_l4(c); !st.ok()) return st.error();
  return NF_ACCEPT;
}

// [family] ip saddr|daddr vmap @map, or iifname vmap @map: the map's element decides.
Result<int> build_dispatch(const Context& c) {
  const policy::NftRule& rule = c.rule;
  if (rule.peer_set.empty()) return make_error(c.label, "a dispatch needs a map", EINVAL);
  if (rule.kind == RuleKind::vmap_iifname) {
    c.b.meta(NFT_META_IIFNAME);
  } else {
    if (rule.family != 4 && rule.family != 6)
      return make_error(c.label, "an address dispatch needs a family", EINVAL);
    match_family(c, rule.family);
    const bool source = rule.kind == RuleKind::vmap_saddr;
    const uint32_t offset = rule.family == 4 ? (source ? 12 : 16) : (source ? 8 : 24);
    c.b.payload(NFT_PAYLOAD_NETWORK_HEADER, offset, rule.family == 4 ? 4 : 16);
  }
  c.b.lookup_verdict(rule.peer_set);
  return NFT_CONTINUE;
}

// meta protocol arp arp saddr ip @set accept (the sender protocol address, offset 14 of an
// Ethernet/IPv4 ARP header)
Result<int> build_arp_sender_allow(const Context& c) {
  if (!c.bridge) return make_error(c.label, "an ARP match needs a bridge table", EINVAL);
  c.b.meta(NFT_META_PROTOCOL);
  c.b.cmp_be16(NFT_CMP_EQ, ETH_P_ARP);
  c.b.payload(NFT_PAYLOAD_NETWORK_HEADER, 14, 4);
  c.b.lookup(c.rule.peer_set);
  return NF_ACCEPT;
}

using Builder = Result<int> (*)(const Context&);

// One builder per kind of rule, as nft's netlink_linearize.c has one per statement. A kind
// missing here fails its apply as "unknown rule kind"; the kernel tests build every kind.
constexpr std::pair<RuleKind, Builder> kBuilders[] = {
    {RuleKind::ct_established_accept, build_ct_established_accept},
    {RuleKind::ct_invalid_drop, build_ct_invalid_drop},
    {RuleKind::loopback_accept, build_loopback_accept},
    {RuleKind::icmpv6_nd_accept, build_icmpv6_nd_accept},
    {RuleKind::allow, build_allow},
    {RuleKind::final_drop, build_final_drop},
    {RuleKind::log, build_log},
    {RuleKind::final_accept, build_final_accept},
    {RuleKind::vmap_saddr, build_dispatch},
    {RuleKind::vmap_daddr, build_dispatch},
    {RuleKind::vmap_iifname, build_dispatch},
    {RuleKind::arp_sender_allow, build_arp_sender_allow},
};

Result<int> build_kind(const Context& c) {
  for (const auto& [kind, build] : kBuilders)
    if (kind == c.rule.kind) return build(c);
  return make_error(c.label, "unknown rule kind", EINVAL);
}

// The TLV layout nft uses, so `nft list` prints comment "...". The kernel keeps at most 256 bytes
// of rule userdata.
Status set_comment(nftnl_rule* r, const std::string& comment, const std::string& label) {
  if (comment.empty()) return {};
  if (comment.size() + 3 > 256) return make_error(label, "comment longer than 253 bytes");
  UdataPtr ud(nftnl_udata_buf_alloc(256));
  nftnl_udata_put_strz(ud.get(), NFTNL_UDATA_RULE_COMMENT, comment.c_str());
  nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud.get()),
                      nftnl_udata_buf_len(ud.get()));
  return {};
}

}  // namespace

Result<RulePtr> build_rule(const policy::NftTable& table, const policy::NftChain& chain,
                           size_t index, const SetFamilies& sets) {
  const policy::NftRule& rule = chain.rules[index];
  const TableKey key = key_of(table);
  const std::string label =
      "add rule " + table_ref(key) + " " + chain.name + " #" + std::to_string(index + 1);
  RulePtr r(nftnl_rule_alloc());
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, nfproto_of(key.family));
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, key.name.c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain.name.c_str());
  RuleBuilder b(r.get());
  const bool bridge = table.family == policy::TableFamily::bridge;
  auto verdict = build_kind(
      {rule, policy::side_of(chain) == policy::ChainSide::ingress, bridge, sets, label, b});
  if (!verdict.ok()) return verdict.error();
  if (rule.counter) b.counter();
  if (*verdict == NF_ACCEPT && chain.accept_returns) *verdict = NFT_RETURN;
  if (*verdict != NFT_CONTINUE) b.verdict(*verdict);
  if (Status st = set_comment(r.get(), rule.comment, label); !st.ok()) return st.error();
  return r;
}

}  // namespace bulkhead::netlink
