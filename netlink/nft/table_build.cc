#include "netlink/nft/table_build.h"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <algorithm>

#include "netlink/nft/objects.h"
#include "netlink/nft/rule_build.h"

namespace bulkhead::netlink {
namespace {

using policy::AddrRange;
using policy::IpAddr;

// nft's byte order for the key (BYTEORDER_BIG_ENDIAN), so `nft list` prints addresses as such.
constexpr uint32_t kByteorderBigEndian = 2;
// Keeps each element message well below the 64 KiB limit of its element-list attribute.
constexpr size_t kElementsPerMessage = 1000;

uint16_t msg(int type) { return static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | type); }

void append_table_msg(NftBatch& batch, const TableKey& key, int type, uint16_t flags,
                      const std::string& verb) {
  TablePtr t(nftnl_table_alloc());
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, key.name.c_str());
  nftnl_table_set_u32(t.get(), NFTNL_TABLE_FLAGS, 0);
  nlmsghdr* nlh = batch.begin_message(msg(type), nfproto_of(key.family), flags,
                                      verb + " table " + table_ref(key));
  nftnl_table_nlmsg_build_payload(nlh, t.get());
  batch.end_message(nlh);
}

// A set (or map) of the table, by name: what every set message starts from.
SetPtr set_ref(const TableKey& key, const std::string& name) {
  SetPtr s(nftnl_set_alloc());
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, key.name.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, name.c_str());
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, nfproto_of(key.family));
  return s;
}

void add_key(nftnl_set* s, const IpAddr& a, bool interval_end, bool open_end) {
  nftnl_set_elem* e = nftnl_set_elem_alloc();
  nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, a.bytes.data(), a.family == 4 ? 4 : 16);
  if (interval_end) nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
  if (open_end) {
    // What nft writes for a range that runs to the top of the address space: a start without an
    // end element, marked so that nft prints it as a range.
    UdataPtr ud(nftnl_udata_buf_alloc(16));
    nftnl_udata_put_u32(ud.get(), NFTNL_UDATA_SET_ELEM_FLAGS, NFTNL_SET_ELEM_F_INTERVAL_OPEN);
    nftnl_set_elem_set(e, NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(ud.get()),
                       nftnl_udata_buf_len(ud.get()));
  }
  nftnl_set_elem_add(s, e);
}

// The first address after `a`, or nullopt when `a` is the last address of its family.
std::optional<IpAddr> next_addr(IpAddr a) {
  int n = a.family == 4 ? 4 : 16;
  for (int i = n - 1; i >= 0; --i) {
    if (++a.bytes[i] != 0) return a;
  }
  return std::nullopt;
}

// Element keys for `ranges`, as the kernel wants them for this set.
void add_range_keys(nftnl_set* s, const policy::NftSet& set, const AddrRange& r) {
  if (!set.interval) {
    add_key(s, r.first, false, false);
    return;
  }
  auto end = next_addr(r.last);
  add_key(s, r.first, false, !end.has_value());
  if (end) add_key(s, *end, true, false);
}

Status check_ranges(const policy::NftSet& set, const std::vector<AddrRange>& ranges,
                    const std::string& label) {
  for (const auto& r : ranges) {
    if (r.first.family != set.family || r.last.family != set.family) {
      return make_error(label, "element of the wrong address family", EINVAL);
    }
    if (!set.interval && r.first != r.last) {
      return make_error(label, "a range needs an interval set", EINVAL);
    }
    if (r.last < r.first) return make_error(label, "range ends before it starts", EINVAL);
  }
  return {};
}

Status append_elements(NftBatch& batch, const TableKey& key, int type, uint16_t flags,
                       const policy::NftSet& set, const std::vector<AddrRange>& ranges,
                       const std::string& verb) {
  const std::string label = verb + " element " + table_ref(key) + " " + set.name;
  if (auto st = check_ranges(set, ranges, label); !st.ok()) return st;
  for (size_t i = 0; i < ranges.size(); i += kElementsPerMessage) {
    SetPtr s = set_ref(key, set.name);
    size_t end = std::min(ranges.size(), i + kElementsPerMessage);
    for (size_t j = i; j < end; ++j) add_range_keys(s.get(), set, ranges[j]);
    std::string what = label + " { " + policy::range_to_string(ranges[i]) +
                       (end - i > 1 ? ", ... (" + std::to_string(end - i) + " elements)" : "") +
                       " }";
    nlmsghdr* nlh = batch.begin_message(msg(type), nfproto_of(key.family), flags, what);
    nftnl_set_elems_nlmsg_build_payload(nlh, s.get());
    batch.end_message(nlh);
  }
  return {};
}

}  // namespace

void append_add_set(NftBatch& batch, const TableKey& key, const policy::NftSet& set, uint32_t id) {
  SetPtr s = set_ref(key, set.name);
  bool v4 = set.family == 4;
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, v4 ? kTypeIpv4Addr : kTypeIpv6Addr);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, v4 ? 4 : 16);
  nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, set.interval ? NFT_SET_INTERVAL : 0);
  nftnl_set_set_u32(s.get(), NFTNL_SET_ID, id);
  UdataPtr ud(nftnl_udata_buf_alloc(64));
  nftnl_udata_put_u32(ud.get(), NFTNL_UDATA_SET_KEYBYTEORDER, kByteorderBigEndian);
  nftnl_set_set_data(s.get(), NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud.get()),
                     nftnl_udata_buf_len(ud.get()));
  nlmsghdr* nlh = batch.begin_message(msg(NFT_MSG_NEWSET), nfproto_of(key.family), NLM_F_CREATE,
                                      "add set " + table_ref(key) + " " + set.name);
  nftnl_set_nlmsg_build_payload(nlh, s.get());
  batch.end_message(nlh);
}

namespace {

// The bridge family numbers its hooks as inet does (NF_BR_PRE_ROUTING 0 ... NF_BR_LOCAL_OUT 3).
uint32_t hook_number(policy::Hook hook) {
  switch (hook) {
    case policy::Hook::input:
      return NF_INET_LOCAL_IN;
    case policy::Hook::output:
      return NF_INET_LOCAL_OUT;
    case policy::Hook::forward:
      return NF_INET_FORWARD;
    case policy::Hook::prerouting:
    case policy::Hook::none:
      break;
  }
  return NF_INET_PRE_ROUTING;
}

}  // namespace

void append_add_chain(NftBatch& batch, const TableKey& key, const policy::NftChain& chain) {
  ChainPtr c(nftnl_chain_alloc());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, key.name.c_str());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, chain.name.c_str());
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_FAMILY, nfproto_of(key.family));
  if (chain.hook != policy::Hook::none) {
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, "filter");
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, hook_number(chain.hook));
    nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, chain.priority);
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
  }
  nlmsghdr* nlh = batch.begin_message(msg(NFT_MSG_NEWCHAIN), nfproto_of(key.family), NLM_F_CREATE,
                                      "add chain " + table_ref(key) + " " + chain.name);
  nftnl_chain_nlmsg_build_payload(nlh, c.get());
  batch.end_message(nlh);
}

namespace {

// A map element's key as the kernel compares it: the address's bytes, or the interface name
// padded to IFNAMSIZ (what meta iifname loads).
Result<std::vector<uint8_t>> map_key(const policy::NftMap& map, const std::string& key) {
  if (map.key == policy::MapKey::ifname) {
    if (key.empty() || key.size() >= 16)
      return make_error("map " + map.name, "bad interface name " + key, EINVAL);
    std::vector<uint8_t> out(16, 0);
    std::copy(key.begin(), key.end(), out.begin());
    return out;
  }
  auto a = policy::IpAddr::parse(key);
  const int family = map.key == policy::MapKey::ipv4 ? 4 : 6;
  if (!a || a->family != family) return make_error("map " + map.name, "bad address " + key, EINVAL);
  return std::vector<uint8_t>(a->bytes.begin(), a->bytes.begin() + (family == 4 ? 4 : 16));
}

}  // namespace

Status append_map(NftBatch& batch, const TableKey& key, const policy::NftMap& map, uint32_t id) {
  SetPtr s = set_ref(key, map.name);
  const bool ifname = map.key == policy::MapKey::ifname;
  nftnl_set_set_u32(
      s.get(), NFTNL_SET_KEY_TYPE,
      ifname ? kTypeIfname : (map.key == policy::MapKey::ipv4 ? kTypeIpv4Addr : kTypeIpv6Addr));
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, map.key == policy::MapKey::ipv4 ? 4 : 16);
  nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, NFT_SET_MAP);
  nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
  nftnl_set_set_u32(s.get(), NFTNL_SET_ID, id);
  UdataPtr ud(nftnl_udata_buf_alloc(64));
  // Strings are host-endian to nft; addresses big-endian.
  nftnl_udata_put_u32(ud.get(), NFTNL_UDATA_SET_KEYBYTEORDER, ifname ? 1 : kByteorderBigEndian);
  nftnl_set_set_data(s.get(), NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud.get()),
                     nftnl_udata_buf_len(ud.get()));
  nlmsghdr* nlh = batch.begin_message(msg(NFT_MSG_NEWSET), nfproto_of(key.family), NLM_F_CREATE,
                                      "add map " + table_ref(key) + " " + map.name);
  nftnl_set_nlmsg_build_payload(nlh, s.get());
  batch.end_message(nlh);
  return {};
}

Status append_map_elements(NftBatch& batch, const TableKey& key, const policy::NftMap& map,
                           const std::vector<policy::MapElement>& elements, bool add) {
  const std::string verb = add ? "add" : "delete";
  for (size_t i = 0; i < elements.size(); i += kElementsPerMessage) {
    SetPtr s = set_ref(key, map.name);
    const size_t end = std::min(elements.size(), i + kElementsPerMessage);
    for (size_t j = i; j < end; ++j) {
      auto k = map_key(map, elements[j].key);
      if (!k.ok()) return k.error();
      nftnl_set_elem* e = nftnl_set_elem_alloc();
      nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, k->data(), static_cast<uint32_t>(k->size()));
      if (add) {
        nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, static_cast<uint32_t>(NFT_JUMP));
        nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, elements[j].chain.c_str());
      }
      nftnl_set_elem_add(s.get(), e);
    }
    const std::string what =
        verb + " element " + table_ref(key) + " " + map.name + " { " + elements[i].key +
        " : jump " + elements[i].chain +
        (end - i > 1 ? ", ... (" + std::to_string(end - i) + " elements)" : "") + " }";
    nlmsghdr* nlh = batch.begin_message(msg(add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM),
                                        nfproto_of(key.family), add ? NLM_F_CREATE : 0, what);
    nftnl_set_elems_nlmsg_build_payload(nlh, s.get());
    batch.end_message(nlh);
  }
  return {};
}

void append_delete_set(NftBatch& batch, const TableKey& key, const std::string& name) {
  SetPtr s = set_ref(key, name);
  nlmsghdr* nlh = batch.begin_message(msg(NFT_MSG_DELSET), nfproto_of(key.family), 0,
                                      "delete set " + table_ref(key) + " " + name);
  nftnl_set_nlmsg_build_payload(nlh, s.get());
  batch.end_message(nlh);
}

namespace {
void append_chain_msg(NftBatch& batch, const TableKey& key, const std::string& chain, int type,
                      const std::string& verb) {
  ChainPtr c(nftnl_chain_alloc());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, key.name.c_str());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, chain.c_str());
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_FAMILY, nfproto_of(key.family));
  nlmsghdr* nlh = batch.begin_message(msg(type), nfproto_of(key.family), 0,
                                      verb + " chain " + table_ref(key) + " " + chain);
  nftnl_chain_nlmsg_build_payload(nlh, c.get());
  batch.end_message(nlh);
}
}  // namespace

void append_flush_chain(NftBatch& batch, const TableKey& key, const std::string& chain) {
  // A rule deletion naming only the chain deletes all of its rules.
  RulePtr r(nftnl_rule_alloc());
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, nfproto_of(key.family));
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, key.name.c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain.c_str());
  nlmsghdr* nlh = batch.begin_message(msg(NFT_MSG_DELRULE), nfproto_of(key.family), 0,
                                      "flush chain " + table_ref(key) + " " + chain);
  nftnl_rule_nlmsg_build_payload(nlh, r.get());
  batch.end_message(nlh);
}

void append_delete_chain(NftBatch& batch, const TableKey& key, const std::string& chain) {
  append_chain_msg(batch, key, chain, NFT_MSG_DELCHAIN, "delete");
}

Status append_rules(NftBatch& batch, const policy::NftTable& table, const policy::NftChain& chain) {
  const TableKey key = key_of(table);
  SetFamilies families;
  for (const auto& s : table.sets) families[s.name] = s.family;
  for (size_t i = 0; i < chain.rules.size(); ++i) {
    auto r = build_rule(table, chain, i, families);
    if (!r.ok()) return r.error();
    nlmsghdr* nlh = batch.begin_message(
        msg(NFT_MSG_NEWRULE), nfproto_of(key.family), NLM_F_APPEND | NLM_F_CREATE,
        "add rule " + table_ref(key) + " " + chain.name + " #" + std::to_string(i + 1));
    nftnl_rule_nlmsg_build_payload(nlh, r->get());
    batch.end_message(nlh);
  }
  return {};
}

uint16_t nfproto_of(policy::TableFamily family) {
  return family == policy::TableFamily::bridge ? NFPROTO_BRIDGE : NFPROTO_INET;
}

std::string table_ref(const TableKey& key) {
  return std::string(key.family == policy::TableFamily::bridge ? "bridge " : "inet ") + key.name;
}

Status append_replace_table(NftBatch& batch, const policy::NftTable& table) {
  const TableKey key = key_of(table);
  SetFamilies families;
  for (const auto& s : table.sets) families[s.name] = s.family;
  // Build every rule before touching the batch: a plan error must not leave a half batch.
  std::vector<RulePtr> rules;
  std::vector<std::string> labels;
  for (const auto& chain : table.chains) {
    for (size_t i = 0; i < chain.rules.size(); ++i) {
      auto r = build_rule(table, chain, i, families);
      if (!r.ok()) return r.error();
      rules.push_back(std::move(r).value());
      labels.push_back("add rule " + table_ref(key) + " " + chain.name + " #" +
                       std::to_string(i + 1));
    }
  }
  for (const auto& s : table.sets) {
    if (auto st =
            check_ranges(s, s.elements.list(), "add element " + table_ref(key) + " " + s.name);
        !st.ok()) {
      return st;
    }
  }

  append_table_msg(batch, key, NFT_MSG_NEWTABLE, NLM_F_CREATE, "add");
  append_table_msg(batch, key, NFT_MSG_DELTABLE, 0, "delete");
  append_table_msg(batch, key, NFT_MSG_NEWTABLE, NLM_F_CREATE, "add");
  uint32_t id = 1;
  for (const auto& s : table.sets) {
    append_add_set(batch, key, s, id++);
    if (auto st = append_elements(batch, key, NFT_MSG_NEWSETELEM, NLM_F_CREATE, s,
                                  s.elements.list(), "add");
        !st.ok()) {
      return st;
    }
  }
  // Every chain before any map element or rule: a jump names a chain that may come later.
  for (const auto& chain : table.chains) append_add_chain(batch, key, chain);
  for (const auto& m : table.maps) {
    if (auto st = append_map(batch, key, m, id++); !st.ok()) return st;
    if (auto st = append_map_elements(batch, key, m, m.elements, true); !st.ok()) return st;
  }
  size_t k = 0;
  for (const auto& chain : table.chains) {
    for (size_t i = 0; i < chain.rules.size(); ++i, ++k) {
      nlmsghdr* nlh = batch.begin_message(msg(NFT_MSG_NEWRULE), nfproto_of(key.family),
                                          NLM_F_APPEND | NLM_F_CREATE, labels[k]);
      nftnl_rule_nlmsg_build_payload(nlh, rules[k].get());
      batch.end_message(nlh);
    }
  }
  return {};
}

void append_delete_table(NftBatch& batch, const TableKey& key) {
  append_table_msg(batch, key, NFT_MSG_NEWTABLE, NLM_F_CREATE, "add");
  append_table_msg(batch, key, NFT_MSG_DELTABLE, 0, "delete");
}

Status append_element_changes(NftBatch& batch, const TableKey& key, const policy::NftSet& set,
                              const std::vector<AddrRange>& remove,
                              const std::vector<AddrRange>& add) {
  if (auto st = append_elements(batch, key, NFT_MSG_DELSETELEM, 0, set, remove, "delete");
      !st.ok()) {
    return st;
  }
  return append_elements(batch, key, NFT_MSG_NEWSETELEM, NLM_F_CREATE, set, add, "add");
}

}  // namespace bulkhead::netlink
