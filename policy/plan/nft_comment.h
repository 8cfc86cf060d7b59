// Rule comments as nftables stores them: at most 128 bytes, no double quotes (nft's parser has
// no escape for them), no control characters, never a split UTF-8 sequence.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace bulkhead::policy {

inline constexpr size_t kNftCommentMax = 128;  // NFT_USERDATA comment limit enforced by nft

// Replaces what nft cannot carry: '"' becomes '\'', control characters become spaces.
std::string sanitize_comment(std::string_view text);
// The longest prefix of `text` of at most `max_bytes` bytes that ends on a UTF-8 boundary.
std::string truncate_utf8(std::string_view text, size_t max_bytes);
// head + body + tail, sanitized, shortening `body` and then `head` (with "...") so the whole fits
// the limit with the tail (the source position, file:line:col) whole. A tail longer than the
// limit keeps its end (line and column) and loses the start of its path.
std::string fit_comment(std::string_view head, std::string_view body, std::string_view tail);

}  // namespace bulkhead::policy
