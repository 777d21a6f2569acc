// docs/metrics.md (with docs/packet-view.md, where it sends the packet view's families) lists
// exactly the metric families /metrics exports: a family added without its row, or a row left
// after its family went, fails here.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

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
// one family (or two, comma-separated) there, with their labels in braces.
std::set<std::string> documented_families(const std::string& markdown) {
  static const std::regex name(R"(`(synfin_[a-z0-9_]+)[{`])");
  std::set<std::string> families;
  std::istringstream lines(markdown);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("| `synfin_")) continue;
    std::string cell = line.substr(1, line.find('|', 1) - 1);
    for (std::sregex_iterator m(cell.begin(), cell.end(), name), end; m != end; ++m)
      families.insert((*m)[1]);
  }
  return families;
}

std::set<std::string> exported_families(const std::string& exposition) {
  static const std::regex type(R"(^# TYPE (\S+) )", std::regex::multiline);
  std::set<std::string> families;
  for (std::sregex_iterator m(exposition.begin(), exposition.end(), type), end; m != end; ++m)
    families.insert((*m)[1]);
  return families;
}

// Everything switched on that gates a family: a --metrics-port (the per-port families), an
// XDP interface (the per-interface ones), kernel features and the kernel's tallies.
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
