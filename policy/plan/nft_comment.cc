#include "policy/plan/nft_comment.h"

namespace bulkhead::policy {
namespace {

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

}  // namespace

std::string sanitize_comment(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"') {
      out += '\'';
    } else if (c < 0x20 || c == 0x7f) {
      out += ' ';
    } else {
      out += ch;
    }
  }
  return out;
}

std::string truncate_utf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t n = max_bytes;
  // Back off to the lead byte of the sequence that would be cut, and drop that sequence too.
  while (n > 0 && is_continuation(static_cast<unsigned char>(text[n]))) --n;
  return std::string(text.substr(0, n));
}

namespace {

// The longest suffix of `text` of at most `max_bytes` bytes that starts on a UTF-8 boundary.
std::string tail_utf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t start = text.size() - max_bytes;
  while (start < text.size() && is_continuation(static_cast<unsigned char>(text[start]))) ++start;
  return std::string(text.substr(start));
}

}  // namespace

std::string fit_comment(std::string_view head, std::string_view body, std::string_view tail) {
  const std::string h = sanitize_comment(head);
  const std::string b = sanitize_comment(body);
  const std::string t = sanitize_comment(tail);
  if (h.size() + b.size() + t.size() <= kNftCommentMax) return h + b + t;
  constexpr std::string_view kEllipsis = "...";
  // The position is what a reader needs to find the rule: it stays whole, the description gives
  // way (the body first, then the head). Only a position longer than the whole comment loses
  // the start of its path, never its line and column.
  if (t.size() + kEllipsis.size() > kNftCommentMax) {
    return std::string(kEllipsis) + tail_utf8(t, kNftCommentMax - kEllipsis.size());
  }
  const size_t room = kNftCommentMax - t.size() - kEllipsis.size();
  if (h.size() <= room) return h + truncate_utf8(b, room - h.size()) + std::string(kEllipsis) + t;
  return truncate_utf8(h, room) + std::string(kEllipsis) + t;
}

}  // namespace bulkhead::policy
