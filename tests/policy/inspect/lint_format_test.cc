#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "policy/inspect/lint.h"
#include "policy/load/load.h"

namespace bulkhead::policy {
namespace {

class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    std::string tmpl = ::testing::TempDir() + "bulkhead-fmt-XXXXXX";
    const char* dir = mkdtemp(tmpl.data());
    dir_ = dir ? dir : "";
    path_ = dir_ + "/p.yaml";
    std::ofstream(path_) << text;
  }
  ~TempFile() {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string dir_, path_;
};

Diagnostic diag(const std::string& file, int line, int col, Severity s, const std::string& msg,
                const std::string& rule) {
  return Diagnostic{SourcePos{file, line, col}, s, msg, rule};
}

TEST(FormatText, SortsAndShowsTheSourceLineWithACaret) {
  TempFile f("apiVersion: bulkhead/v1\nkind: Policy\n\tmode: x\n");
  Diagnostics ds = {
      diag(f.path(), 3, 8, Severity::warning, "odd mode", "invalid-value"),
      diag(f.path(), 2, 7, Severity::error, "bad kind", "unknown-kind"),
  };
  EXPECT_EQ(format_text(ds), f.path() + ":2:7: error: bad kind [unknown-kind]\n" +
                                 "kind: Policy\n" + "      ^\n" + f.path() +
                                 ":3:8: warning: odd mode [invalid-value]\n" + "\tmode: x\n" +
                                 "\t      ^\n");
}

TEST(FormatText, UnreadableFilesAndOutOfRangeLinesPrintNoExcerpt) {
  TempFile f("one line\n");
  Diagnostics ds = {
      diag("zz-missing/x.yaml", 1, 1, Severity::error, "cannot read file", "unreadable-file"),
      diag(f.path(), 9, 1, Severity::error, "past the end", "r"),
      diag(f.path(), 0, 0, Severity::warning, "whole file", "w"),
  };
  // Absolute paths sort before the relative "zz-missing/x.yaml".
  EXPECT_EQ(format_text(ds),
            f.path() + ": warning: whole file [w]\n" + f.path() +
                ":9:1: error: past the end [r]\n" +
                "zz-missing/x.yaml:1:1: error: cannot read file [unreadable-file]\n");
}

TEST(FormatText, RealLoaderOutput) {
  TempFile f(
      "apiVersion: bulkhead/v1\nkind: Policy\nmetadata: {name: p}\nspec:\n  groups:\n"
      "    a: {selector: \"app in (x\"}\n");
  auto l = load_policies({f.path()});
  EXPECT_EQ(format_text(l.diagnostics),
            f.path() +
                ":6:29: error: invalid selector: expected ',' or ')' in the value list "
                "[invalid-selector]\n" +
                "    a: {selector: \"app in (x\"}\n" + std::string(28, ' ') + "^\n");
}

TEST(FormatJson, ArrayOfObjects) {
  Diagnostics ds = {diag("b.yaml", 1, 2, Severity::warning, "w \"q\"", "r2"),
                    diag("a.yaml", 5, 6, Severity::error, "e", "r1")};
  auto j = nlohmann::json::parse(format_json(ds));
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0], (nlohmann::json{{"file", "a.yaml"},
                                  {"line", 5},
                                  {"column", 6},
                                  {"severity", "error"},
                                  {"message", "e"},
                                  {"rule", "r1"},
                                  {"suppressed", false}}));
  EXPECT_EQ(j[1]["message"], "w \"q\"");
  EXPECT_EQ(j[1]["severity"], "warning");
  EXPECT_EQ(format_json({}), "[]\n");
}

TEST(FormatSarif, Structure) {
  Diagnostics ds = {diag("dir/my policy.yaml", 3, 4, Severity::error, "bad", "wrong-type"),
                    diag("a.yaml", 1, 1, Severity::warning, "meh", "shadowed-rule"),
                    diag("a.yaml", 2, 1, Severity::error, "bad too", "wrong-type")};
  auto j = nlohmann::json::parse(format_sarif(ds));
  EXPECT_EQ(j["version"], "2.1.0");
  EXPECT_EQ(j["$schema"], "https://json.schemastore.org/sarif-2.1.0.json");
  ASSERT_EQ(j["runs"].size(), 1u);
  const auto& run = j["runs"][0];
  EXPECT_EQ(run["tool"]["driver"]["name"], "bulkhead");
  const auto& rules = run["tool"]["driver"]["rules"];
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0]["id"], "shadowed-rule");
  EXPECT_EQ(rules[0]["shortDescription"]["text"],
            "A rule whose peers and ports another rule already allows.");
  EXPECT_EQ(rules[0]["defaultConfiguration"]["level"], "warning");
  EXPECT_EQ(rules[1]["id"], "wrong-type");
  EXPECT_EQ(rules[1]["shortDescription"]["text"],
            "A value of the wrong type (e.g. a map where a list belongs).");
  const auto& results = run["results"];
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0]["ruleId"], "shadowed-rule");
  EXPECT_EQ(results[0]["ruleIndex"], 0);
  EXPECT_EQ(results[0]["level"], "warning");
  EXPECT_EQ(results[0]["message"]["text"], "meh");
  const auto& last = results[2];
  EXPECT_EQ(last["ruleIndex"], 1);
  EXPECT_EQ(last["level"], "error");
  const auto& loc = last["locations"][0]["physicalLocation"];
  EXPECT_EQ(loc["artifactLocation"]["uri"], "dir/my%20policy.yaml");
  EXPECT_EQ(loc["region"]["startLine"], 3);
  EXPECT_EQ(loc["region"]["startColumn"], 4);
}

// A silenced warning: left out of the text, listed and marked in JSON and SARIF.
TEST(FormatSuppressed, MarkedInJsonAndSarifAndLeftOutOfTheText) {
  Diagnostic in_source = diag("a.yaml", 4, 3, Severity::warning, "wide", "wide-cidr");
  in_source.suppressed = Suppression::in_source;
  in_source.suppressed_by = "a.yaml:2:5";
  Diagnostic external = diag("a.yaml", 5, 3, Severity::warning, "any", "allow-anything");
  external.suppressed = Suppression::external;
  external.suppressed_by = "--ignore";
  const Diagnostics ds = {
      in_source, external,
      diag("a.yaml", 6, 1, Severity::note, "skipped apps/v1 Deployment", "skipped-kind")};
  EXPECT_EQ(format_text(ds), "a.yaml:6:1: note: skipped apps/v1 Deployment [skipped-kind]\n");
  auto j = nlohmann::json::parse(format_json(ds));
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[0]["suppressed"], true);
  EXPECT_EQ(j[0]["suppressedBy"], "a.yaml:2:5");
  EXPECT_EQ(j[1]["suppressedBy"], "--ignore");
  EXPECT_EQ(j[2]["severity"], "note");
  EXPECT_EQ(j[2]["suppressed"], false);
  EXPECT_FALSE(j[2].contains("suppressedBy"));
  auto sarif = nlohmann::json::parse(format_sarif(ds));
  const auto& results = sarif["runs"][0]["results"];
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0]["suppressions"],
            nlohmann::json::parse(R"([{"kind": "inSource", "justification":
                "silenced by the policy's lint-ignore at a.yaml:2:5"}])"));
  EXPECT_EQ(results[1]["suppressions"],
            nlohmann::json::parse(R"([{"kind": "external", "justification":
                "silenced by bulkhead lint --ignore"}])"));
  EXPECT_FALSE(results[2].contains("suppressions"));
  EXPECT_EQ(results[2]["level"], "note");
}

TEST(FormatSarif, EmptyRunIsStillValid) {
  auto j = nlohmann::json::parse(format_sarif({}));
  EXPECT_TRUE(j["runs"][0]["results"].is_array());
  EXPECT_TRUE(j["runs"][0]["results"].empty());
  EXPECT_TRUE(j["runs"][0]["tool"]["driver"]["rules"].is_array());
}

}  // namespace
}  // namespace bulkhead::policy
