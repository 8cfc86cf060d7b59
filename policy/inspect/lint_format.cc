// Output formats of `bulkhead lint`: compiler-style text, JSON and SARIF 2.1.0.
#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "policy/inspect/lint.h"
#include "policy/model/limits.h"
#include "policy/model/rules.h"

namespace bulkhead::policy {
namespace {

Diagnostics sorted(const Diagnostics& diags) {
  Diagnostics d = diags;
  std::stable_sort(d.begin(), d.end(),
                   [](const Diagnostic& a, const Diagnostic& b) { return a.pos < b.pos; });
  return d;
}

const char* severity_name(Severity s) {
  return s == Severity::error ? "error" : s == Severity::warning ? "warning" : "note";
}

bool silenced(const Diagnostic& d) { return d.suppressed != Suppression::none; }

// Source lines of the files diagnostics point into, read once each; an unreadable file gives
// no lines and the diagnostic is printed without its excerpt. So does a file over the size limit
// (it was refused unread) and a line that is binary or too long to be worth echoing.
class SourceLines {
 public:
  const std::string* line(const std::string& file, int n) {
    auto it = files_.find(file);
    if (it == files_.end()) it = files_.emplace(file, read(file)).first;
    if (n < 1 || static_cast<size_t>(n) > it->second.size()) return nullptr;
    const std::string& l = it->second[static_cast<size_t>(n) - 1];
    constexpr size_t kMaxExcerpt = 1024;
    if (l.size() > kMaxExcerpt || std::any_of(l.begin(), l.end(), [](char c) {
          const auto u = static_cast<unsigned char>(c);
          return (u < 0x20 && c != '\t') || u == 0x7f;
        })) {
      return nullptr;
    }
    return &l;
  }

 private:
  static std::vector<std::string> read(const std::string& file) {
    std::vector<std::string> lines;
    std::ifstream in(file, std::ios::binary | std::ios::ate);
    if (!in || static_cast<size_t>(in.tellg()) > limits::kMaxFileBytes) return lines;
    in.seekg(0);
    std::string l;
    while (std::getline(in, l)) {
      if (!l.empty() && l.back() == '\r') l.pop_back();
      lines.push_back(std::move(l));
    }
    return lines;
  }
  std::map<std::string, std::vector<std::string>> files_;
};

// RFC 3986: keep unreserved characters and '/', percent-encode the rest.
std::string to_uri(const std::string& path) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::string format_text(const Diagnostics& diags) {
  SourceLines sources;
  std::ostringstream out;
  for (const auto& d : sorted(diags)) {
    if (silenced(d)) continue;
    out << d.pos.to_string() << ": " << severity_name(d.severity) << ": " << d.message;
    if (!d.rule.empty()) out << " [" << d.rule << "]";
    out << "\n";
    // A note is one line: an install manifest's dozens of skipped objects stay readable.
    if (d.severity == Severity::note) continue;
    const std::string* line = d.pos.line > 0 ? sources.line(d.pos.file, d.pos.line) : nullptr;
    if (!line) continue;
    out << *line << "\n";
    // Tabs stay tabs so the caret lines up however the terminal expands them.
    std::string pad;
    for (int i = 0; i + 1 < d.pos.col && static_cast<size_t>(i) < line->size(); ++i) {
      pad += (*line)[static_cast<size_t>(i)] == '\t' ? '\t' : ' ';
    }
    out << pad << "^\n";
  }
  return out.str();
}

std::string format_json(const Diagnostics& diags) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const auto& d : sorted(diags)) {
    nlohmann::ordered_json o = {{"file", d.pos.file},       {"line", d.pos.line},
                                {"column", d.pos.col},      {"severity", severity_name(d.severity)},
                                {"message", d.message},     {"rule", d.rule},
                                {"suppressed", silenced(d)}};
    if (silenced(d)) o["suppressedBy"] = d.suppressed_by;
    arr.push_back(std::move(o));
  }
  return arr.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string format_sarif(const Diagnostics& diags) {
  using nlohmann::ordered_json;
  const Diagnostics ds = sorted(diags);
  std::vector<std::string> rule_ids;
  for (const auto& d : ds) {
    if (std::find(rule_ids.begin(), rule_ids.end(), d.rule) == rule_ids.end()) {
      rule_ids.push_back(d.rule);
    }
  }
  std::sort(rule_ids.begin(), rule_ids.end());
  ordered_json rules = ordered_json::array();
  for (const auto& id : rule_ids) {
    ordered_json r = {{"id", id}};
    if (const RuleInfo* info = find_rule(id)) {
      r["shortDescription"] = {{"text", std::string(info->summary)}};
      r["defaultConfiguration"] = {{"level", severity_name(info->severity)}};
    }
    rules.push_back(std::move(r));
  }
  ordered_json results = ordered_json::array();
  for (const auto& d : ds) {
    const auto index = std::find(rule_ids.begin(), rule_ids.end(), d.rule) - rule_ids.begin();
    ordered_json phys = {{"artifactLocation", {{"uri", to_uri(d.pos.file)}}}};
    if (d.pos.line > 0) {
      phys["region"] = {{"startLine", d.pos.line}, {"startColumn", std::max(1, d.pos.col)}};
    }
    ordered_json result = {{"ruleId", d.rule},
                           {"ruleIndex", index},
                           {"level", severity_name(d.severity)},
                           {"message", {{"text", d.message}}},
                           {"locations", ordered_json::array({{{"physicalLocation", phys}}})}};
    if (silenced(d)) {
      // SARIF 2.1.0 section 3.35: inSource for a suppression written in the analysed file.
      const bool in_source = d.suppressed == Suppression::in_source;
      result["suppressions"] = ordered_json::array(
          {{{"kind", in_source ? "inSource" : "external"},
            {"justification", in_source
                                  ? "silenced by the policy's lint-ignore at " + d.suppressed_by
                                  : "silenced by bulkhead lint --ignore"}}});
    }
    results.push_back(std::move(result));
  }
  ordered_json sarif = {
      {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
      {"version", "2.1.0"},
      {"runs",
       ordered_json::array({{{"tool", {{"driver", {{"name", "bulkhead"}, {"rules", rules}}}}},
                             {"results", results}}})}};
  return sarif.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace bulkhead::policy
