// DOT text to SVG through Graphviz's library (libgvc: the dot layout and the core svg renderer),
// in-process; bulkhead never runs the `dot` program.
#pragma once

#include <string>

#include "common/result.h"

namespace bulkhead::cli {

Result<std::string> render_svg(const std::string& dot);

}  // namespace bulkhead::cli
