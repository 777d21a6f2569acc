// docs/metrics.md (with docs/packet-view.md, where it sends the packet view's families) lists
// exactly the metric families /metrics exports: a family added without its row, or a row left
// after its family went, fails here.
#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>

#include "model/daemon_model.h"
#include "outputs/prometheus.h"

namespace synfin {
namespace {

std::string read_doc(const std::string& name) {
  std::ifstream in(std::string(SYNFIN_DOCS_DIR) + "/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every `synfin_...` named in the first cell of a Markdown table row: the metric tables write
// one family (or two, comma-separated) there, with their labels in braces. Parsed by hand: GCC 12
// warns inside std::regex under ASan.
std::set<std::string> documented_families(const std::string& markdown) {
  std::set<std::string> families;
  std::istringstream lines(markdown);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("| `synfin_")) continue;
    std::string_view cell = std::string_view(line).substr(1, line.find('|', 1) - 1);
    for (std::size_t at = cell.find("`synfin_"); at != std::string_view::npos;
         at = cell.find("`synfin_", at + 1)) {
      std::size_t end = at + 1;
      while (end < cell.size() &&
             (std::islower(static_cast<unsigned char>(cell[end])) ||
              std::isdigit(static_cast<unsigned char>(cell[end])) || cell[end] == '_'))
        ++end;
      if (end < cell.size() && (cell[end] == '{' || cell[end] == '`'))
        families.insert(std::string(cell.substr(at + 1, end - at - 1)));
    }
  }
  return families;
}

std::set<std::string> exported_families(const std::string& exposition) {
  std::set<std::string> families;
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("# TYPE ")) continue;
    std::string_view rest = std::string_view(line).substr(7);
    families.insert(std::string(rest.substr(0, rest.find(' '))));
  }
  return families;
}

// Everything switched on that gates a family: a --metrics-port (the per-port families), an
// XDP interface (the per-interface ones), kernel features, the kernel's tallies and
// --metrics-by unit (the per-unit ones).
std::string full_exposition() {
  model::DaemonModelConfig config;
  config.metrics_ports = {443};
  config.xdp = true;
  model::DaemonModel model(config);
  outputs::SelfMetrics self;
  self.version = "test";
  outputs::XdpInterfaceMetrics veth;
  veth.name = "veth0";
  veth.mode = "native";
  veth.attached = true;
  self.xdp.push_back(veth);
  self.kernel_features = {{"reset_reasons", true}};
  self.port_listen = {{443, {}}};
  self.kernel_tally = model::KernelTally{};
  self.by_unit = model::break_down_by_unit({}, {}, model::kDefaultUnitLimit);
  return outputs::render_metrics(model, self);
}

TEST(MetricsDocsTest, TheDocsListExactlyTheExportedFamilies) {
  std::set<std::string> exported = exported_families(full_exposition());
  std::set<std::string> documented = documented_families(read_doc("metrics.md"));
  documented.merge(documented_families(read_doc("packet-view.md")));
  ASSERT_GE(exported.size(), 40u);  // the exposition rendered in full
  for (const std::string& family : exported)
    EXPECT_TRUE(documented.count(family)) << family << " is exported but not in docs/metrics.md";
  for (const std::string& family : documented)
    EXPECT_TRUE(exported.count(family)) << family << " is documented but not exported";
}

TEST(MetricsDocsTest, RowsAreReadWithTheirLabelsAndSharedCells) {
  std::set<std::string> read = documented_families(
      "| metric | type |\n|---|---|\n"
      "| `synfin_a_total{x,y}` | counter |\n"
      "| `synfin_b`, `synfin_b_capacity` | gauge | not `synfin_c` |\n"
      "prose naming `synfin_d` is no row\n");
  EXPECT_EQ(read, (std::set<std::string>{"synfin_a_total", "synfin_b", "synfin_b_capacity"}));
}

}  // namespace
}  // namespace synfin
