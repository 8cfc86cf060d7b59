// docs/lint.md documents every rule bulkhead reports, and nothing else: the rule registry, the
// rule ids written in policy/**/*.cc and the document's sections must agree.
#include "policy/model/rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

namespace bulkhead::policy {
namespace {

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// "### `rule-id`" sections of docs/lint.md, with their text.
std::map<std::string, std::string> doc_sections() {
  const std::string text = read(std::string(BULKHEAD_SOURCE_DIR) + "/docs/lint.md");
  std::map<std::string, std::string> out;
  const std::regex heading("\n### `([a-z-]+)`\n\n");
  std::vector<std::pair<std::string, size_t>> starts;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), heading);
       it != std::sregex_iterator(); ++it) {
    starts.emplace_back((*it)[1], static_cast<size_t>(it->position() + it->length()));
  }
  for (size_t i = 0; i < starts.size(); ++i) {
    const size_t end =
        i + 1 < starts.size() ? text.rfind("\n### ", starts[i + 1].second) : text.size();
    out[starts[i].first] = text.substr(starts[i].second, end - starts[i].second);
  }
  return out;
}

const char* severity_word(Severity s) {
  return s == Severity::error ? "error" : s == Severity::warning ? "warning" : "note";
}

TEST(LintDocs, EveryRuleHasASectionWithItsSeverityAndTheFourParts) {
  const auto sections = doc_sections();
  std::set<std::string> registered;
  for (const auto& r : all_rules()) {
    registered.emplace(r.id);
    auto it = sections.find(std::string(r.id));
    ASSERT_NE(it, sections.end()) << "docs/lint.md has no section for " << r.id;
    EXPECT_EQ(it->second.substr(0, std::string(severity_word(r.severity)).size()),
              severity_word(r.severity))
        << r.id << ": the section must start with its severity";
    for (const char* part : {"**Finds**", "**Why**", "**Fix**", "**Silence**"}) {
      EXPECT_NE(it->second.find(part), std::string::npos) << r.id << " lacks " << part;
    }
    const bool says_cannot = it->second.find("cannot be silenced") != std::string::npos;
    EXPECT_EQ(says_cannot, !silenceable(r)) << r.id;
  }
  for (const auto& [id, text] : sections) EXPECT_TRUE(registered.count(id)) << id << " is no rule";
}

TEST(LintDocs, EveryRuleIdInTheCodeIsRegistered) {
  // A rule id is a kebab-case literal passed as an argument: error(at, "invalid-peer", ...).
  const std::regex id(R"re([,(]\s*"([a-z]+(?:-[a-z]+)+)"\s*[,)}])re");
  std::set<std::string> found;
  for (const auto& f : std::filesystem::recursive_directory_iterator(
           std::string(BULKHEAD_SOURCE_DIR) + "/policy")) {
    if (f.path().extension() != ".cc" || f.path().filename() == "rules.cc") continue;
    const std::string text = read(f.path());
    for (auto it = std::sregex_iterator(text.begin(), text.end(), id); it != std::sregex_iterator();
         ++it) {
      found.insert((*it)[1]);
    }
  }
  EXPECT_GT(found.size(), 30u);
  for (const auto& r : found)
    EXPECT_NE(find_rule(r), nullptr) << r << " is not in policy/model/rules.cc";
}

}  // namespace
}  // namespace bulkhead::policy
