// Every recording in tests/fixtures replays to exactly the JSON lines beside it (X.jsonl): a
// change in what synfin prints shows up as a readable diff of the golden file. The text ladders
// likewise (X.ladder.txt). To accept a change on purpose: tests/fixtures/regenerate.sh, which
// rewrites both for every recording (tests/fixtures/README.md).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "decode/recording.h"
#include "decode/replay.h"
#include "outputs/json_lines.h"
#include "outputs/ladder_render.h"

namespace synfin {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// What `synfin replay PATH` prints on stdout, with its defaults.
std::string replayed_lines(const fs::path& path) {
  auto recording = decode::read_recording(path.string());
  EXPECT_TRUE(recording.ok()) << path;
  if (!recording.ok()) return {};
  std::FILE* out = std::tmpfile();
  {
    outputs::JsonLinesWriter writer(out, {}, {recording->realtime_minus_monotonic_ns});
    model::ConnectionTable table(262144, writer);
    decode::replay(*recording, table);
    writer.flush();
  }
  std::string text;
  std::rewind(out);
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof(buffer), out)) text.append(buffer, n);
  std::fclose(out);
  return text;
}

TEST(GoldenReplayTest, EveryFixtureReplaysToItsGoldenLines) {
  std::vector<fs::path> recordings;
  for (const auto& entry : fs::directory_iterator(SYNFIN_FIXTURE_DIR))
    if (entry.path().extension() == ".synfinrec") recordings.push_back(entry.path());
  ASSERT_GE(recordings.size(), 14u);
  for (const fs::path& recording : recordings) {
    fs::path golden = recording;
    golden.replace_extension(".jsonl");
    ASSERT_TRUE(fs::exists(golden)) << golden << " missing: create it with synfin replay";
    EXPECT_EQ(replayed_lines(recording), read_file(golden)) << recording.filename();
  }
}

TEST(GoldenReplayTest, EveryFixtureDrawsItsGoldenLadders) {
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(SYNFIN_FIXTURE_DIR)) {
    if (entry.path().extension() != ".synfinrec") continue;
    fs::path golden = entry.path();
    golden.replace_extension(".ladder.txt");
    ASSERT_TRUE(fs::exists(golden)) << golden << " missing: create it with synfin ladder";
    auto recording = decode::read_recording(entry.path().string());
    ASSERT_TRUE(recording.ok());
    EXPECT_EQ(outputs::render_recording_ladders(*recording, std::nullopt), read_file(golden))
        << entry.path().filename();
    ++checked;
  }
  EXPECT_GE(checked, 14);
}

}  // namespace
}  // namespace synfin
