#include "netlink/nft/read.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <vector>

#include "netlink/nft/objects.h"
#include "netlink/nft/rule_decode.h"

namespace bulkhead::netlink {
namespace {

using policy::AddrRange;
using policy::IpAddr;

std::string str_or_empty(const char* s) { return s ? s : ""; }

bool is_ours(const char* table) { return table && std::strcmp(table, policy::kTableName) == 0; }

// A dump request for `type`, optionally narrowed by `fill` (which adds table/set attributes).
template <class Fill>
Status dump(MnlSocket& sock, int type, const std::string& op, Fill fill,
            const std::function<bool(const nlmsghdr*)>& on_message,
            uint16_t family = NFPROTO_INET) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(buf.data(), static_cast<uint16_t>(type), family, NLM_F_DUMP, 0);
  fill(nlh);
  return sock.dump(nlh, on_message, op);
}

std::optional<IpAddr> prev_addr(IpAddr a) {
  int n = a.family == 4 ? 4 : 16;
  for (int i = n - 1; i >= 0; --i) {
    if (a.bytes[i]-- != 0) return a;
  }
  return std::nullopt;
}

IpAddr top_addr(int family) {
  IpAddr a;
  a.family = family;
  std::fill(a.bytes.begin(), a.bytes.begin() + (family == 4 ? 4 : 16), 0xff);
  return a;
}

struct Key {
  IpAddr addr;
  bool end = false;
};

// Interval elements come as start keys and end keys (the first address after a range); a start
// without an end runs to the top of the address space. A stray leading end key (which nft writes
// at address zero) closes nothing and is skipped.
std::vector<AddrRange> ranges_from_keys(std::vector<Key> keys, bool interval, int family) {
  std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
    if (a.addr != b.addr) return a.addr < b.addr;
    return a.end && !b.end;
  });
  std::vector<AddrRange> out;
  if (!interval) {
    for (const auto& k : keys) out.push_back({k.addr, k.addr});
    return out;
  }
  std::optional<IpAddr> start;
  for (const auto& k : keys) {
    if (k.end) {
      if (start) {
        auto last = prev_addr(k.addr);
        out.push_back({*start, last ? *last : k.addr});
        start.reset();
      }
    } else {
      if (start) {
        auto last = prev_addr(k.addr);
        out.push_back({*start, last ? *last : *start});
      }
      start = k.addr;
    }
  }
  if (start) out.push_back({*start, top_addr(family)});
  return out;
}

Result<bool> table_exists(MnlSocket& sock) {
  bool found = false;
  auto st = dump(
      sock, NFT_MSG_GETTABLE, "list tables inet", [](nlmsghdr*) {},
      [&](const nlmsghdr* nlh) {
        TablePtr t(nftnl_table_alloc());
        if (nftnl_table_nlmsg_parse(nlh, t.get()) < 0) return false;
        if (nftnl_table_get_u32(t.get(), NFTNL_TABLE_FAMILY) == NFPROTO_INET &&
            is_ours(nftnl_table_get_str(t.get(), NFTNL_TABLE_NAME))) {
          found = true;
        }
        return true;
      });
  if (!st.ok()) return st.error();
  return found;
}

Status read_sets(MnlSocket& sock, policy::NftTable& table) {
  const std::string ref = std::string("inet ") + policy::kTableName;
  auto st = dump(
      sock, NFT_MSG_GETSET, "list sets " + ref,
      [](nlmsghdr* nlh) {
        SetPtr s(nftnl_set_alloc());
        nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, policy::kTableName);
        nftnl_set_nlmsg_build_payload(nlh, s.get());
      },
      [&](const nlmsghdr* nlh) {
        SetPtr s(nftnl_set_alloc());
        if (nftnl_set_nlmsg_parse(nlh, s.get()) < 0) return false;
        if (!is_ours(nftnl_set_get_str(s.get(), NFTNL_SET_TABLE))) return true;
        policy::NftSet set;
        set.name = str_or_empty(nftnl_set_get_str(s.get(), NFTNL_SET_NAME));
        uint32_t type = nftnl_set_get_u32(s.get(), NFTNL_SET_KEY_TYPE);
        uint32_t len = nftnl_set_get_u32(s.get(), NFTNL_SET_KEY_LEN);
        // Anything but our two key types reads as family 0, which never equals a desired set.
        set.family = (type == kTypeIpv4Addr && len == 4)    ? 4
                     : (type == kTypeIpv6Addr && len == 16) ? 6
                                                            : 0;
        uint32_t flags = nftnl_set_get_u32(s.get(), NFTNL_SET_FLAGS);
        if (flags & NFT_SET_ANONYMOUS) return true;
        set.interval = (flags & NFT_SET_INTERVAL) != 0;
        table.sets.push_back(std::move(set));
        return true;
      });
  if (!st.ok()) return st;

  for (auto& set : table.sets) {
    std::vector<Key> keys;
    bool bad = false;
    std::pair<std::vector<Key>*, bool*> ctx{&keys, &bad};
    auto est = dump(
        sock, NFT_MSG_GETSETELEM, "list set " + ref + " " + set.name,
        [&](nlmsghdr* nlh) {
          SetPtr s(nftnl_set_alloc());
          nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, policy::kTableName);
          nftnl_set_set_str(s.get(), NFTNL_SET_NAME, set.name.c_str());
          nftnl_set_elems_nlmsg_build_payload(nlh, s.get());
        },
        [&](const nlmsghdr* nlh) {
          SetPtr s(nftnl_set_alloc());
          if (nftnl_set_elems_nlmsg_parse(nlh, s.get()) < 0) return false;
          nftnl_set_elem_foreach(
              s.get(),
              [](nftnl_set_elem* e, void* data) -> int {
                auto* ctx = static_cast<std::pair<std::vector<Key>*, bool*>*>(data);
                uint32_t len = 0;
                auto* key =
                    static_cast<const uint8_t*>(nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len));
                if (key == nullptr || (len != 4 && len != 16)) {
                  *ctx->second = true;
                  return 0;
                }
                Key k;
                k.addr.family = len == 4 ? 4 : 6;
                std::memcpy(k.addr.bytes.data(), key, len);
                if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS)) {
                  k.end =
                      nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END;
                }
                ctx->first->push_back(k);
                return 0;
              },
              &ctx);
          return true;
        });
    if (!est.ok()) return est;
    if (bad) set.family = 0;
    set.elements =
        ranges_from_keys(std::move(keys), set.interval, set.family == 0 ? 4 : set.family);
  }
  std::sort(table.sets.begin(), table.sets.end(),
            [](const policy::NftSet& a, const policy::NftSet& b) { return a.name < b.name; });
  return {};
}

Status read_chains_and_rules(MnlSocket& sock, policy::NftTable& table) {
  const std::string ref = std::string("inet ") + policy::kTableName;
  auto st = dump(
      sock, NFT_MSG_GETCHAIN, "list chains " + ref, [](nlmsghdr*) {},
      [&](const nlmsghdr* nlh) {
        ChainPtr c(nftnl_chain_alloc());
        if (nftnl_chain_nlmsg_parse(nlh, c.get()) < 0) return false;
        if (nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_FAMILY) != NFPROTO_INET ||
            !is_ours(nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TABLE))) {
          return true;
        }
        policy::NftChain chain;
        chain.name = str_or_empty(nftnl_chain_get_str(c.get(), NFTNL_CHAIN_NAME));
        if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_HOOKNUM)) {
          uint32_t hook = nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_HOOKNUM);
          chain.hook = hook == NF_INET_LOCAL_OUT ? policy::Hook::output : policy::Hook::input;
          chain.priority = nftnl_chain_get_s32(c.get(), NFTNL_CHAIN_PRIO);
          if (hook != NF_INET_LOCAL_IN && hook != NF_INET_LOCAL_OUT) chain.priority = INT32_MIN;
        } else {
          chain.priority = INT32_MIN;  // not a base chain: never equal to one we want
        }
        table.chains.push_back(std::move(chain));
        return true;
      });
  if (!st.ok()) return st;

  std::map<std::string, size_t> index;
  for (size_t i = 0; i < table.chains.size(); ++i) index[table.chains[i].name] = i;
  st = dump(
      sock, NFT_MSG_GETRULE, "list rules " + ref,
      [](nlmsghdr* nlh) {
        RulePtr r(nftnl_rule_alloc());
        nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, policy::kTableName);
        nftnl_rule_nlmsg_build_payload(nlh, r.get());
      },
      [&](const nlmsghdr* nlh) {
        RulePtr r(nftnl_rule_alloc());
        if (nftnl_rule_nlmsg_parse(nlh, r.get()) < 0) return false;
        if (!is_ours(nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE))) return true;
        auto it = index.find(str_or_empty(nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN)));
        if (it == index.end()) return true;
        auto& chain = table.chains[it->second];
        chain.rules.push_back(decode_rule(r.get(), chain.hook));
        return true;
      });
  if (!st.ok()) return st;
  for (auto& chain : table.chains) recognise_final_accepts(chain.rules);
  std::stable_sort(table.chains.begin(), table.chains.end(),
                   [](const policy::NftChain& a, const policy::NftChain& b) {
                     if (a.hook != b.hook) return a.hook == policy::Hook::input;
                     return a.name < b.name;
                   });
  return {};
}

// A set's elements as the kernel holds them: sorted without duplicates, interval sets merged.
// A compiled set is in that form already and keeps its shared list (no copy per drift check).
policy::SetElements kernel_elements(const policy::NftSet& s) {
  const auto& list = s.elements.list();
  if (s.interval) {
    auto merged = policy::normalize_ranges(list);
    if (merged == list) return s.elements;
    return merged;
  }
  auto not_ascending = [](const policy::AddrRange& a, const policy::AddrRange& b) {
    return !(a < b);
  };
  if (std::adjacent_find(list.begin(), list.end(), not_ascending) == list.end()) return s.elements;
  auto l = list;
  std::sort(l.begin(), l.end());
  l.erase(std::unique(l.begin(), l.end()), l.end());
  return l;
}

}  // namespace

Result<std::optional<policy::NftTable>> read_table(MnlSocket& sock) {
  auto exists = table_exists(sock);
  if (!exists.ok()) return exists.error();
  if (!*exists) return std::optional<policy::NftTable>();
  policy::NftTable table;
  if (auto st = read_sets(sock, table); !st.ok()) return st.error();
  if (auto st = read_chains_and_rules(sock, table); !st.ok()) return st.error();
  return std::optional<policy::NftTable>(std::move(table));
}

policy::NftTable kernel_form(const policy::NftTable& desired) {
  policy::NftTable t = desired;
  std::map<std::string, int> families;
  for (auto& s : t.sets) {
    families[s.name] = s.family;
    s.elements = kernel_elements(s);
  }
  std::sort(t.sets.begin(), t.sets.end(),
            [](const policy::NftSet& a, const policy::NftSet& b) { return a.name < b.name; });
  std::sort(t.maps.begin(), t.maps.end(),
            [](const policy::NftMap& a, const policy::NftMap& b) { return a.name < b.name; });
  for (auto& m : t.maps) std::sort(m.elements.begin(), m.elements.end());
  for (auto& c : t.chains) {
    for (auto& r : c.rules) {
      r.packets = r.bytes = 0;
      if (r.kind != policy::RuleKind::allow) {
        policy::NftRule base;
        base.kind = r.kind;
        base.counter = r.counter;
        base.comment = r.comment;
        base.log_rate = r.log_rate;
        base.log_burst = r.log_burst;
        base.log_group = r.log_group;
        base.log_prefix = r.log_prefix;
        // The host layer's dispatches and ARP match keep the map or set they look up.
        base.peer_set = r.peer_set;
        if (r.kind == policy::RuleKind::vmap_saddr || r.kind == policy::RuleKind::vmap_daddr)
          base.family = r.family;
        r = base;
        continue;
      }
      if (!r.peer_set.empty()) {
        auto it = families.find(r.peer_set);
        if (it != families.end()) r.family = it->second;
      }
      // ICMP implies its family: the kernel holds no family match for it (nft writes none).
      if (r.peer_set.empty() && ((r.family == 4 && r.proto == policy::L4::icmp) ||
                                 (r.family == 6 && r.proto == policy::L4::icmpv6))) {
        r.family = 0;
      }
      bool ports =
          r.proto == policy::L4::tcp || r.proto == policy::L4::udp || r.proto == policy::L4::sctp;
      if (!ports || r.port_first == 0) {
        r.port_first = r.port_last = 0;
      } else if (r.port_last < r.port_first) {
        r.port_last = r.port_first;
      }
    }
  }
  return t;
}

Result<std::map<std::string, ChainDrops>> read_drop_counters(MnlSocket& sock,
                                                            const TableKey& key) {
  std::map<std::string, ChainDrops> out;
  const uint16_t family = nfproto_of(key.family);
  auto st = dump(
      sock, NFT_MSG_GETRULE, "list rules " + table_ref(key),
      [&](nlmsghdr* nlh) {
        RulePtr r(nftnl_rule_alloc());
        nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, key.name.c_str());
        nftnl_rule_nlmsg_build_payload(nlh, r.get());
      },
      [&](const nlmsghdr* nlh) {
        RulePtr r(nftnl_rule_alloc());
        if (nftnl_rule_nlmsg_parse(nlh, r.get()) < 0) return false;
        if (str_or_empty(nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE)) != key.name) return true;
        const policy::NftRule rule = decode_rule(r.get(), policy::Hook::none);
        if (!rule.counter) return true;
        ChainDrops& d = out[str_or_empty(nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN))];
        if (rule.kind == policy::RuleKind::final_drop) d.dropped += rule.packets;
        if (rule.kind == policy::RuleKind::ct_invalid_drop) d.invalid += rule.packets;
        return true;
      },
      family);
  if (!st.ok()) {
    if (st.error().code == ENOENT) return out;  // no such table: nothing dropped
    return st.error();
  }
  return out;
}

}  // namespace bulkhead::netlink
