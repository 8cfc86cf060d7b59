// Asking bulkheadd about a starting container over its hook socket (HOOK-PROTOCOL.md), with one
// deadline for connect, send and answer together.
#pragma once

#include <chrono>
#include <string>

#include "common/result.h"
#include "enforcer/hook/oci_state.h"
#include "enforcer/hook/protocol.h"

namespace bulkhead::hook {

// The request line, '\n' included (protocol.h's render_request).
std::string request_line(const OciState& st, const std::string& engine);
// The daemon's answer line (protocol.h's parse_answer); anything else is an error.
Result<HookAnswer> read_answer(const std::string& line);

// Connects to `socket_path`, checks that the peer is root (a socket planted by another user is
// not the daemon), sends the request and reads one answer line, all within `timeout`. Any error
// (absent socket, refused connection, timeout, a malformed answer) means "daemon not there".
Result<HookAnswer> ask_daemon(const std::string& socket_path, const OciState& st,
                              const std::string& engine, std::chrono::milliseconds timeout);

}  // namespace bulkhead::hook
