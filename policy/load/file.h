// Private to the loaders: reading files and splitting YAML streams into documents, never throwing.
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/load/yaml_source.h"
#include "policy/model/diagnostic.h"

namespace bulkhead::policy {

// The whole file, or nullopt after an unreadable-file error at line 1 column 1 with the OS reason.
std::optional<std::string> read_file(const std::string& path, Diagnostics& out);

// Every document of the stream (empty ones included as null nodes), or nullopt after a
// yaml-syntax error at the parser's position.
std::optional<std::vector<YAML::Node>> parse_documents(yaml::Source& src, std::string_view text);

}  // namespace bulkhead::policy
