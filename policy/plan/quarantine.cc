#include "policy/plan/quarantine.h"

namespace bulkhead::policy {
namespace {

NftChain quarantine_chain(const char* name, Hook hook) {
  NftChain chain;
  chain.name = name;
  chain.hook = hook;
  chain.priority = 0;  // filter, as the compiled tables (docs/dataplane.md)
  NftRule lo;
  lo.kind = RuleKind::loopback_accept;
  lo.counter = false;
  chain.rules.push_back(lo);
  NftRule drop;
  drop.kind = RuleKind::final_drop;
  drop.counter = true;
  drop.comment = kQuarantineComment;
  chain.rules.push_back(drop);
  return chain;
}

}  // namespace

NftTable quarantine_table() {
  NftTable table;
  table.chains.push_back(quarantine_chain("ingress", Hook::input));
  table.chains.push_back(quarantine_chain("egress", Hook::output));
  return table;
}

bool is_quarantine_table(const NftTable& table) {
  if (table.chains.empty()) return false;
  for (const auto& c : table.chains) {
    if (c.rules.empty()) return false;
    const NftRule& last = c.rules.back();
    if (last.kind != RuleKind::final_drop || last.comment != kQuarantineComment) return false;
  }
  return true;
}

}  // namespace bulkhead::policy
