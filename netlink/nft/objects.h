// Owning pointers for libnftnl objects.
#pragma once

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include <cstdint>
#include <memory>

namespace bulkhead::netlink {

struct NftnlDeleter {
  void operator()(nftnl_table* p) const { nftnl_table_free(p); }
  void operator()(nftnl_chain* p) const { nftnl_chain_free(p); }
  void operator()(nftnl_rule* p) const { nftnl_rule_free(p); }
  void operator()(nftnl_set* p) const { nftnl_set_free(p); }
  void operator()(nftnl_set_elem* p) const { nftnl_set_elem_free(p); }
  void operator()(nftnl_expr* p) const { nftnl_expr_free(p); }
  void operator()(nftnl_udata_buf* p) const { nftnl_udata_buf_free(p); }
  void operator()(nftnl_expr_iter* p) const { nftnl_expr_iter_destroy(p); }
};

using TablePtr = std::unique_ptr<nftnl_table, NftnlDeleter>;
using ChainPtr = std::unique_ptr<nftnl_chain, NftnlDeleter>;
using RulePtr = std::unique_ptr<nftnl_rule, NftnlDeleter>;
using SetPtr = std::unique_ptr<nftnl_set, NftnlDeleter>;
using SetElemPtr = std::unique_ptr<nftnl_set_elem, NftnlDeleter>;
using ExprPtr = std::unique_ptr<nftnl_expr, NftnlDeleter>;
using UdataPtr = std::unique_ptr<nftnl_udata_buf, NftnlDeleter>;
using ExprIterPtr = std::unique_ptr<nftnl_expr_iter, NftnlDeleter>;

// nft's datatype numbers (TYPE_IPADDR, TYPE_IP6ADDR) for a set's key: with these `nft list`
// prints "type ipv4_addr" / "type ipv6_addr".
inline constexpr uint32_t kTypeIpv4Addr = 7;
inline constexpr uint32_t kTypeIpv6Addr = 8;
inline constexpr uint32_t kTypeIfname = 41;

}  // namespace bulkhead::netlink
