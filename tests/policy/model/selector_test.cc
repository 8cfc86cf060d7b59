#include "policy/model/selector.h"

#include <gtest/gtest.h>

namespace bulkhead::policy {
namespace {

LabelSelector sel(std::string_view text) {
  SelectorParseError err;
  auto s = parse_selector(text, &err);
  EXPECT_TRUE(s.has_value()) << text << ": " << err.message << " at " << err.offset;
  return s.value_or(LabelSelector{});
}

SelectorParseError parse_error(std::string_view text) {
  SelectorParseError err;
  EXPECT_FALSE(parse_selector(text, &err).has_value()) << text;
  return err;
}

const Labels kWeb = {{"app", "web"}, {"tier", "front"}, {"legacy", ""}};
const Labels kApi = {{"app", "api"}, {"tier", "back"}};

TEST(Selector, EmptyMatchesEverything) {
  EXPECT_TRUE(sel("").matches(kWeb));
  EXPECT_TRUE(sel("  ").matches(Labels{}));
  EXPECT_TRUE(sel("").empty());
  EXPECT_EQ(sel("").canonical(), "");
}

TEST(Selector, Equality) {
  EXPECT_TRUE(sel("app=web").matches(kWeb));
  EXPECT_TRUE(sel("app==web").matches(kWeb));
  EXPECT_FALSE(sel("app=web").matches(kApi));
  EXPECT_FALSE(sel("app=web").matches(Labels{}));
}

TEST(Selector, Inequality) {
  EXPECT_FALSE(sel("app!=web").matches(kWeb));
  EXPECT_TRUE(sel("app!=web").matches(kApi));
  EXPECT_TRUE(sel("app!=web").matches(Labels{}));  // absent key satisfies != as in Kubernetes
}

TEST(Selector, InAndNotIn) {
  EXPECT_TRUE(sel("app in (web, api)").matches(kWeb));
  EXPECT_TRUE(sel("app in (web,api)").matches(kApi));
  EXPECT_FALSE(sel("app in (db)").matches(kWeb));
  EXPECT_FALSE(sel("app in (db)").matches(Labels{}));
  EXPECT_FALSE(sel("app notin (web,db)").matches(kWeb));
  EXPECT_TRUE(sel("app notin (web,db)").matches(kApi));
  EXPECT_TRUE(sel("app notin (web)").matches(Labels{}));
}

TEST(Selector, ExistsAndDoesNotExist) {
  EXPECT_TRUE(sel("legacy").matches(kWeb));
  EXPECT_FALSE(sel("legacy").matches(kApi));
  EXPECT_FALSE(sel("!legacy").matches(kWeb));
  EXPECT_TRUE(sel("!legacy").matches(kApi));
  EXPECT_TRUE(sel("legacy=").matches(kWeb));  // empty value is a value
}

TEST(Selector, AllRequirementsMustHold) {
  EXPECT_TRUE(sel("app=web,tier in (front),!gone").matches(kWeb));
  EXPECT_FALSE(sel("app=web,tier=back").matches(kWeb));
}

TEST(Selector, PrefixedKeys) {
  Labels l = {{"com.docker.compose.project", "shop"},
              {"io.kubernetes.pod.namespace", "x"},
              {"example.com/role", "db"}};
  EXPECT_TRUE(sel("com.docker.compose.project=shop,example.com/role=db").matches(l));
}

TEST(Selector, CanonicalIsOrderIndependent) {
  EXPECT_EQ(sel("tier in (b, a, b), app==web, !x, y").canonical(),
            sel("!x,y,app=web,tier in (a,b)").canonical());
  EXPECT_EQ(sel("tier in (b, a, b), app==web, !x, y").canonical(), "app=web,tier in (a,b),!x,y");
  EXPECT_EQ(sel("a in (x)").canonical(), "a=x");
  EXPECT_EQ(sel("a notin (x)").canonical(), "a!=x");
  EXPECT_EQ(sel("a notin (y,x)").canonical(), "a notin (x,y)");
  EXPECT_EQ(sel("app=web,app=web").requirements.size(), 1u);
}

TEST(Selector, CanonicalTextParsesBackToTheSameSelector) {
  for (const char* s : {"app=web", "a!=b,c", "!d,k in (x,y,z)", "k notin (a,b),z="}) {
    auto once = sel(s);
    EXPECT_EQ(sel(once.canonical()), once) << s;
  }
}

TEST(Selector, NormalizeSortsAndDeduplicates) {
  LabelSelector s;
  s.requirements.push_back({"b", Requirement::Op::in, {"y", "x", "x"}});
  s.requirements.push_back({"a", Requirement::Op::exists, {}});
  s.normalize();
  ASSERT_EQ(s.requirements.size(), 2u);
  EXPECT_EQ(s.requirements[0].key, "a");
  EXPECT_EQ(s.requirements[1].values, (std::vector<std::string>{"x", "y"}));
}

TEST(Selector, ErrorsCarryOffsets) {
  struct Case {
    const char* text;
    size_t offset;
    const char* message;
  } cases[] = {
      {"app=web,", 8, "expected a label key after ','"},
      {"app=web tier=x", 8, "expected ',' or the end of the selector"},
      {"=web", 0, "expected a label key"},
      {"app in web", 7, "expected '(' after 'in'"},
      {"app in (web", 11, "expected ',' or ')' in the value list"},
      {"app in ()", 4, "'in' needs at least one value"},
      {"app (x)", 4,
       "expected an operator (=, ==, !=, in, notin), ',' or the end after key \"app\""},
      {"app=-web", 4, "invalid label value \"-web\": must start and end with a letter or digit"},
      {"a/b/c=1", 0,
       "invalid label key \"a/b/c\": character '/' is not allowed (letters, digits, '-', '_', "
       "'.')"},
      {"x, Bad.Prefix/app=1", 3,
       "invalid label key \"Bad.Prefix/app\": prefix must be a "
       "lower-case DNS subdomain"},
      {"app=w*b", 4,
       "invalid label value \"w*b\": character '*' is not allowed (letters, digits, '-', '_', "
       "'.')"},
      {"!", 1, "expected a label key"},
  };
  for (const auto& c : cases) {
    auto err = parse_error(c.text);
    EXPECT_EQ(err.offset, c.offset) << c.text;
    EXPECT_EQ(err.message, c.message) << c.text;
  }
  auto long_value = "app=" + std::string(64, 'a');
  EXPECT_EQ(parse_error(long_value).message, "invalid label value \"" + std::string(64, 'a') +
                                                 "\": name part must be at most 63 characters");
  EXPECT_EQ(parse_error("/x=1").message,
            "invalid label key \"/x\": prefix must be 1-253 characters");
}

TEST(Selector, KeyAndValueValidation) {
  EXPECT_TRUE(valid_label_key("app"));
  EXPECT_TRUE(valid_label_key("kubernetes.io/metadata.name"));
  EXPECT_FALSE(valid_label_key(""));
  EXPECT_FALSE(valid_label_key("a/b/c"));
  EXPECT_TRUE(valid_label_value(""));
  EXPECT_TRUE(valid_label_value("v1.2_x-y"));
  EXPECT_FALSE(valid_label_value("a b"));
}

}  // namespace
}  // namespace bulkhead::policy
