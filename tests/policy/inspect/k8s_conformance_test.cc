// The Kubernetes conformance cases (tests/data/conformance, docs/kubernetes.md) without a kernel:
// every cell of each hand-checked expected.txt must be what the reference evaluator and the
// compiled plan say. The root-only script tests then hold the live dataplane to the same tables.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "policy/inspect/evaluate.h"
#include "policy/load/load.h"
#include "policy/plan/compile.h"

namespace bulkhead::policy {
namespace {

namespace fs = std::filesystem;

const fs::path kData = fs::path(BULKHEAD_SOURCE_DIR) / "tests/data/conformance";

struct Cell {
  std::string port;  // "80/tcp"
  std::string from, to;
  bool allowed = false;
};

// Reads the matrices `bulkhead verify --expected-only` prints.
std::vector<Cell> read_table(const fs::path& file) {
  std::ifstream in(file);
  std::vector<Cell> cells;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream head(line);
    std::string port, kind;
    head >> port >> kind;
    if (kind != "expected") continue;
    std::getline(in, line);
    std::istringstream cols_in(line);
    std::vector<std::string> cols;
    for (std::string c; cols_in >> c;) cols.push_back(c);
    for (size_t r = 0; r < cols.size() && std::getline(in, line); ++r) {
      std::istringstream row(line);
      std::string from, mark;
      row >> from;
      for (size_t c = 0; c < cols.size() && row >> mark; ++c)
        cells.push_back({port, from, cols[c], mark == "."});
    }
  }
  return cells;
}

const Endpoint* find(const Endpoints& eps, const std::string& name) {
  for (const auto& e : eps)
    if (e.name == name) return &e;
  return nullptr;
}

// Checks one directory of policies against its expected.txt; returns the number of cells.
size_t check(const std::vector<std::string>& paths, const fs::path& inventory,
             const fs::path& expected) {
  const PolicyLoad pl = load_policies(paths);
  for (const auto& d : pl.diagnostics) EXPECT_NE(d.severity, Severity::error) << d.message;
  const InventoryLoad inv = load_inventory(inventory.string());
  EXPECT_TRUE(inv.diagnostics.empty());
  const Plan plan = compile(pl.set, inv.endpoints);
  const auto cells = read_table(expected);
  for (const auto& c : cells) {
    const Endpoint* from = find(inv.endpoints, c.from);
    const Endpoint* to = find(inv.endpoints, c.to);
    if (!from || !to) {
      ADD_FAILURE() << expected << ": unknown endpoint in " << c.from << " -> " << c.to;
      continue;
    }
    const auto slash = c.port.find('/');
    Flow f{from,
           to,
           from->addresses.at(0),
           to->addresses.at(0),
           c.port.substr(slash + 1) == "udp" ? Protocol::udp : Protocol::tcp,
           static_cast<uint16_t>(std::stoi(c.port.substr(0, slash)))};
    EXPECT_EQ(reference_allows(pl.set, inv.endpoints, f).allowed, c.allowed)
        << expected << ": reference evaluator, " << c.from << " -> " << c.to << " " << c.port;
    EXPECT_EQ(plan_allows(plan, f).allowed, c.allowed)
        << expected << ": compiled plan, " << c.from << " -> " << c.to << " " << c.port;
  }
  return cells.size();
}

std::vector<fs::path> dirs(const fs::path& parent) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(parent))
    if (e.is_directory()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(K8sConformance, CasesMatchTheirHandCheckedTables) {
  const auto cases = dirs(kData / "cases");
  ASSERT_GE(cases.size(), 28u);
  for (const auto& dir : cases) {
    SCOPED_TRACE(dir.filename().string());
    // Nine pods, four ports: a table that is shorter was cut or misread.
    EXPECT_EQ(check({(kData / "namespaces.yaml").string(), dir.string()},
                    kData / "inventory.yaml.in", dir / "expected.txt"),
              9u * 9u * 4u);
  }
}

TEST(K8sConformance, TransitionStepsMatchTheirHandCheckedTables) {
  const auto steps = dirs(kData / "transitions");
  ASSERT_GE(steps.size(), 7u);
  for (const auto& dir : steps) {
    SCOPED_TRACE(dir.filename().string());
    EXPECT_GE(check({(dir / "policy").string()}, dir / "inventory.yaml.in", dir / "expected.txt"),
              9u * 9u * 4u);
  }
}

}  // namespace
}  // namespace bulkhead::policy
