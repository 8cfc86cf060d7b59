#include "enforcer/cli/graph_svg.h"

#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>

#include <memory>

namespace bulkhead::cli {
namespace {

// Graphviz reports problems through a process-wide callback; collect them for our error value
// instead of letting them reach stderr half-formatted.
std::string& graphviz_messages() {
  static std::string messages;
  return messages;
}

int collect(char* text) {
  graphviz_messages() += text;
  return 0;
}

struct ContextFree {
  void operator()(GVC_t* gvc) const { gvFreeContext(gvc); }
};
struct GraphClose {
  void operator()(Agraph_t* g) const { agclose(g); }
};
struct DataFree {
  void operator()(char* data) const { gvFreeRenderData(data); }
};

// gvFreeLayout must run before the graph is closed and while the context lives.
class Layout {
 public:
  Layout(GVC_t* gvc, Agraph_t* g) : gvc_(gvc), g_(g) {}
  ~Layout() { gvFreeLayout(gvc_, g_); }
  Layout(const Layout&) = delete;
  Layout& operator=(const Layout&) = delete;

 private:
  GVC_t* gvc_;
  Agraph_t* g_;
};

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.empty() ? "" : ": " + s;
}

}  // namespace

Result<std::string> render_svg(const std::string& dot) {
  graphviz_messages().clear();
  agseterrf(collect);
  agseterr(AGERR);  // warnings (e.g. font substitutions) are not errors of ours
  // gvContext() loads the layout and render plugins named in libgvc's plugin configuration
  // (Debian's libgvc6 writes it on installation with libgvc6-config-update).
  std::unique_ptr<GVC_t, ContextFree> gvc(gvContext());
  if (!gvc) return make_error("graphviz", "cannot create a Graphviz context");
  std::unique_ptr<Agraph_t, GraphClose> g(agmemread(dot.c_str()));
  if (!g) return make_error("graphviz", "cannot read the DOT text" + trimmed(graphviz_messages()));
  if (gvLayout(gvc.get(), g.get(), "dot") != 0) {
    return make_error("graphviz", "the dot layout failed" + trimmed(graphviz_messages()) +
                                      " (is libgvc6 installed with its plugin configuration? "
                                      "run libgvc6-config-update -c)");
  }
  Layout layout(gvc.get(), g.get());
  char* data = nullptr;
  unsigned int length = 0;
  const int rc = gvRenderData(gvc.get(), g.get(), "svg", &data, &length);
  std::unique_ptr<char, DataFree> owned(data);
  if (rc != 0 || !data) {
    return make_error("graphviz", "SVG rendering failed" + trimmed(graphviz_messages()) +
                                      " (is libgvc6 installed with its plugin configuration? "
                                      "run libgvc6-config-update -c)");
  }
  return std::string(data, length);
}

}  // namespace bulkhead::cli
