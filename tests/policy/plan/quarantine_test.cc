// The quarantine table's exact text (what `nft list table inet bulkhead` shows in a quarantined
// container) and the predicate the daemon uses to recognise it.
#include "policy/plan/quarantine.h"

#include <gtest/gtest.h>

#include "policy/plan/render.h"

namespace bulkhead::policy {
namespace {

TEST(Quarantine, ExactText) {
  EXPECT_EQ(render_nft(quarantine_table()),
            "table inet bulkhead {\n"
            "\tchain ingress {\n"
            "\t\ttype filter hook input priority filter; policy accept;\n"
            "\t\tiif \"lo\" accept\n"
            "\t\tcounter packets 0 bytes 0 drop comment \"bulkhead quarantine\"\n"
            "\t}\n"
            "\n"
            "\tchain egress {\n"
            "\t\ttype filter hook output priority filter; policy accept;\n"
            "\t\toif \"lo\" accept\n"
            "\t\tcounter packets 0 bytes 0 drop comment \"bulkhead quarantine\"\n"
            "\t}\n"
            "}\n");
}

TEST(Quarantine, RecognisedAndNotConfusedWithCompiledTables) {
  EXPECT_TRUE(is_quarantine_table(quarantine_table()));
  EXPECT_FALSE(is_quarantine_table(NftTable{}));
  NftTable compiled = quarantine_table();
  compiled.chains[1].rules.back().comment = "drop other egress (isolated by deny)";
  EXPECT_FALSE(is_quarantine_table(compiled));
  NftTable accept_last = quarantine_table();
  accept_last.chains[0].rules.back().kind = RuleKind::final_accept;
  EXPECT_FALSE(is_quarantine_table(accept_last));
}

}  // namespace
}  // namespace bulkhead::policy
