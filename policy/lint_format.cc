// Output formats of `bulkhead lint`: compiler-style text, JSON and SARIF 2.1.0.
#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "policy/limits.h"
#include "policy/lint.h"

namespace bulkhead::policy {
namespace {

Diagnostics sorted(const Diagnostics& diags) {
  Diagnostics d = diags;
  std::stable_sort(d.begin(), d.end(),
                   [](const Diagnostic& a, const Diagnostic& b) { return a.pos < b.pos; });
  return d;
}

const char* severity_name(Severity s) { return s == Severity::error ? "error" : "warning"; }

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

// Short descriptions of the loader's rules, for SARIF viewers; lint rules are listed by id.
const std::map<std::string, std::string>& rule_descriptions() {
  static const std::map<std::string, std::string> d = {
      {"yaml-syntax", "The file is not valid YAML."},
      {"unknown-field", "A field that this document kind does not have."},
      {"wrong-type", "A value of the wrong type (e.g. a map where a list belongs)."},
      {"missing-field", "A required field is missing."},
      {"duplicate-key", "A map gives the same key twice."},
      {"invalid-port", "An invalid port, port range or protocol."},
      {"invalid-cidr", "An invalid CIDR or except block."},
      {"cidr-host-bits", "A CIDR with host bits set."},
      {"invalid-selector", "An invalid label selector."},
      {"invalid-rate", "An invalid bandwidth rate or burst."},
      {"burst-too-small", "A burst too small for the rate to be met."},
      {"undefined-group", "A rule names a group that no loaded policy defines."},
      {"duplicate-group", "Two groups with the same name."},
      {"duplicate-policy", "Two policies with the same name."},
      {"duplicate-namespace", "Two Namespace documents with the same name."},
      {"duplicate-endpoint", "Two inventory endpoints with the same name."},
      {"unknown-kind", "A document of an unknown apiVersion or kind."},
      {"no-endpoint-side", "A rule with no group on either side."},
      {"empty-peers", "A rule with an empty from or to list."},
      {"invalid-name", "An invalid policy, group or endpoint name."},
      {"invalid-value", "A value outside the allowed set."},
      {"invalid-peer", "A NetworkPolicy peer that is empty or mixes ipBlock with selectors."},
      {"invalid-address", "An invalid endpoint address."},
      {"ignored-rules", "NetworkPolicy rules that policyTypes makes ineffective."},
      {"unreadable-file", "A file or directory that cannot be read."},
      {"empty-directory", "A directory without policy files."},
      {"too-complex", "A document too large to check."},
      {"too-large", "A value, list, document count or plan beyond one of bulkhead's limits."},
      {"file-too-large", "A file larger than bulkhead reads; it was not read."},
  };
  return d;
}

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
    out << d.pos.to_string() << ": " << severity_name(d.severity) << ": " << d.message;
    if (!d.rule.empty()) out << " [" << d.rule << "]";
    out << "\n";
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
    arr.push_back({{"file", d.pos.file},
                   {"line", d.pos.line},
                   {"column", d.pos.col},
                   {"severity", severity_name(d.severity)},
                   {"message", d.message},
                   {"rule", d.rule}});
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
    if (auto it = rule_descriptions().find(id); it != rule_descriptions().end()) {
      r["shortDescription"] = {{"text", it->second}};
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
    results.push_back({{"ruleId", d.rule},
                       {"ruleIndex", index},
                       {"level", severity_name(d.severity)},
                       {"message", {{"text", d.message}}},
                       {"locations", ordered_json::array({{{"physicalLocation", phys}}})}});
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
