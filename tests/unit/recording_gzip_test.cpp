// Compressed recordings (`synfin trace --record FILE.gz`): written gzip by name, read plain or
// gzip by content, replayed to exactly the lines of the plain file; a cut or damaged gzip
// stream keeps what is whole and says so, never replays silently nor crashes.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "decode/recording.h"
#include "decode/replay.h"
#include "outputs/json_lines.h"
#include "recording_observer.h"

namespace synfin {
namespace {

namespace fs = std::filesystem;

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

fs::path temp_path(const std::string& name) {
  return fs::path(::testing::TempDir()) / name;
}

// gzip as the gzip tool writes it, through zlib's own file interface.
std::string gzip(const std::string& bytes) {
  fs::path path = temp_path("gzip-scratch.gz");
  gzFile file = gzopen(path.c_str(), "wb9");
  EXPECT_NE(file, nullptr);
  EXPECT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  EXPECT_EQ(gzclose(file), Z_OK);
  return read_bytes(path);
}

bool is_gzip(const std::string& bytes) {
  return bytes.size() > 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

// What `synfin replay PATH` prints on stdout, with its defaults.
std::string replayed_lines(const fs::path& path) {
  auto recording = decode::read_recording(path.string());
  EXPECT_TRUE(recording.ok()) << path << ": " << (recording.ok() ? "" : recording.error().message);
  if (!recording.ok()) return {};
  EXPECT_FALSE(recording->truncated) << path << " " << recording->truncation;
  std::FILE* out = std::tmpfile();
  {
    outputs::JsonLinesWriter writer(out, {}, {recording->realtime_minus_monotonic_ns});
    decode::RecordedProcesses processes(recording->host_netns);
    writer.set_processes(&processes);
    model::ConnectionTable table(262144, writer);
    decode::replay(*recording, table, &processes);
    writer.flush();
  }
  std::string text;
  std::rewind(out);
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof(buffer), out)) text.append(buffer, n);
  std::fclose(out);
  return text;
}

std::vector<fs::path> fixtures() {
  std::vector<fs::path> found;
  for (const auto& entry : fs::directory_iterator(SYNFIN_FIXTURE_DIR))
    if (entry.path().extension() == ".synfinrec") found.push_back(entry.path());
  return found;
}

// The biggest fixture: the most frames to cut through.
fs::path biggest_fixture() {
  fs::path biggest;
  for (const fs::path& path : fixtures())
    if (biggest.empty() || fs::file_size(path) > fs::file_size(biggest)) biggest = path;
  return biggest;
}

TEST(RecordingGzipTest, EveryFixtureCompressedReplaysToTheSameLinesWhateverItsName) {
  auto all = fixtures();
  ASSERT_GE(all.size(), 14u);
  for (const fs::path& fixture : all) {
    SCOPED_TRACE(fixture.filename().string());
    std::string plain = read_bytes(fixture);
    std::string expected = replayed_lines(fixture);
    ASSERT_FALSE(expected.empty());
    // By content, not by name: gzip without .gz, and plain bytes named .gz.
    fs::path compressed = temp_path("compressed.synfinrec");
    write_bytes(compressed, gzip(plain));
    EXPECT_EQ(replayed_lines(compressed), expected);
    fs::path misnamed = temp_path("plain-after-all.synfinrec.gz");
    write_bytes(misnamed, plain);
    EXPECT_EQ(replayed_lines(misnamed), expected);
  }
}

TEST(RecordingGzipTest, WriterCompressesByNameAndEitherFileReplaysTheSame) {
  fs::path fixture = biggest_fixture();
  auto original = decode::read_recording(fixture.string());
  ASSERT_TRUE(original.ok());
  for (const char* name : {"written.synfinrec", "written.synfinrec.gz"}) {
    fs::path path = temp_path(name);
    auto writer =
        decode::RecordingWriter::create(path.string(), original->realtime_minus_monotonic_ns);
    ASSERT_TRUE(writer.ok()) << writer.error().message;
    for (const auto& record : original->records) writer->write(record);
    writer->close();
    EXPECT_FALSE(writer->failed());
  }
  std::string plain = read_bytes(temp_path("written.synfinrec"));
  std::string compressed = read_bytes(temp_path("written.synfinrec.gz"));
  EXPECT_EQ(plain.substr(0, 8), "SYNFINR3");
  EXPECT_TRUE(is_gzip(compressed));
  EXPECT_LT(compressed.size(), plain.size() / 2) << "the .gz is hardly compressed";
  auto from_plain = decode::read_recording(temp_path("written.synfinrec").string());
  auto from_gzip = decode::read_recording(temp_path("written.synfinrec.gz").string());
  ASSERT_TRUE(from_plain.ok() && from_gzip.ok());
  EXPECT_EQ(from_gzip->records, original->records);
  EXPECT_EQ(from_gzip->records, from_plain->records);
  EXPECT_EQ(from_gzip->realtime_minus_monotonic_ns, original->realtime_minus_monotonic_ns);
  EXPECT_EQ(replayed_lines(temp_path("written.synfinrec.gz")), replayed_lines(fixture));
}

// Every prefix of a gzip recording (a trace killed while writing, a download cut short) is
// either refused with a message or read as whole records plus the mark that more was lost —
// the gzip trailer included: a stream without its end is never taken as complete.
TEST(RecordingGzipTest, EveryCutOfTheGzipStreamIsNamedAndKeepsOnlyWholeRecords) {
  fs::path fixture = biggest_fixture();
  auto whole = decode::read_recording(fixture.string());
  ASSERT_TRUE(whole.ok());
  std::string compressed = gzip(read_bytes(fixture));
  fs::path cut_path = temp_path("cut.synfinrec.gz");
  std::size_t refused = 0, cut_short = 0;
  for (std::size_t size = 0; size < compressed.size(); ++size) {
    SCOPED_TRACE(size);
    write_bytes(cut_path, compressed.substr(0, size));
    auto cut = decode::read_recording(cut_path.string());
    if (!cut.ok()) {
      ++refused;
      EXPECT_NE(cut.error().message.find(cut_path.string()), std::string::npos);
      continue;
    }
    ++cut_short;
    EXPECT_TRUE(cut->truncated);
    EXPECT_NE(cut->truncation.find("cut off inside its gzip stream"), std::string::npos)
        << cut->truncation;
    ASSERT_LE(cut->records.size(), whole->records.size());
    for (std::size_t i = 0; i < cut->records.size(); ++i)
      EXPECT_EQ(cut->records[i], whole->records[i]) << "record " << i;
  }
  EXPECT_GT(cut_short, 0u);
  EXPECT_GT(refused, 0u);  // the cuts inside the gzip and recording headers
  write_bytes(cut_path, compressed);
  auto complete = decode::read_recording(cut_path.string());
  ASSERT_TRUE(complete.ok());
  EXPECT_FALSE(complete->truncated);
  EXPECT_EQ(complete->records, whole->records);
}

// A byte changed anywhere in the compressed file: zlib's checks (deflate's structure, the
// CRC-32 and length in the trailer) either find it — whole records so far, marked as cut — or
// the byte did not matter (gzip's header time stamp); the records are never silently different.
TEST(RecordingGzipTest, ADamagedGzipStreamIsNeverReadAsSomethingElse) {
  fs::path fixture = biggest_fixture();
  auto whole = decode::read_recording(fixture.string());
  ASSERT_TRUE(whole.ok());
  std::string compressed = gzip(read_bytes(fixture));
  fs::path damaged_path = temp_path("damaged.synfinrec.gz");
  std::size_t noticed = 0;
  for (std::size_t at = 0; at < compressed.size(); ++at) {
    SCOPED_TRACE(at);
    std::string damaged = compressed;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x5a);
    write_bytes(damaged_path, damaged);
    auto read = decode::read_recording(damaged_path.string());
    if (!read.ok() || read->truncated) {
      ++noticed;
      continue;
    }
    EXPECT_EQ(read->records, whole->records);
  }
  EXPECT_GT(noticed, compressed.size() / 2);
}

TEST(RecordingGzipTest, PlainCutMidFrameSaysSo) {
  std::string plain = read_bytes(biggest_fixture());
  fs::path cut_path = temp_path("cut-plain.synfinrec");
  write_bytes(cut_path, plain.substr(0, plain.size() - 3));
  auto cut = decode::read_recording(cut_path.string());
  ASSERT_TRUE(cut.ok());
  EXPECT_TRUE(cut->truncated);
  EXPECT_EQ(cut->truncation, "ends in the middle of a record");
}

// The index of the record during whose application each close of the recording happened, and
// the owner pid of that close (the records replayed one by one, as replay() does).
std::vector<std::pair<std::size_t, uint32_t>> closes_by_record(const decode::Recording& recording) {
  testing::RecordingObserver observer;
  model::ConnectionTable table(64, observer);
  decode::Decoder decoder;
  std::vector<std::pair<std::size_t, uint32_t>> closes;
  for (std::size_t i = 0; i < recording.records.size(); ++i) {
    decode::apply_record(decoder, table, recording.records[i]);
    for (std::size_t k = closes.size(); k < observer.closed.size(); ++k)
      closes.emplace_back(i, observer.closed[k].connection.owner_pid());
  }
  return closes;
}

// Copies `original`'s records into PATH with a note for pid placed `records_before` records in.
void write_with_note(const fs::path& path, const decode::Recording& original,
                     std::size_t records_before, const model::ProcessInfo& info) {
  auto writer = decode::RecordingWriter::create(path.string(), original.realtime_minus_monotonic_ns,
                                                4026531840u);
  ASSERT_TRUE(writer.ok()) << writer.error().message;
  for (std::size_t i = 0; i <= original.records.size(); ++i) {
    if (i == records_before) writer->write_process(info.pid, &info);
    if (i < original.records.size()) writer->write(original.records[i]);
  }
  writer->write_process(info.pid + 1, nullptr);  // one that had exited
  writer->close();
  ASSERT_FALSE(writer->failed());
}

// trace writes a note while applying the record whose close asked for it, so right after that
// record: the replay learns it before applying that record, and its close names the owner; a
// note one record later would be too late for it.
TEST(ProcessNotesTest, ANoteIsReadBackInPlaceAndNamesTheCloseThatAskedForIt) {
  auto original =
      decode::read_recording(std::string(SYNFIN_FIXTURE_DIR) + "/client_first_ipv4.synfinrec");
  ASSERT_TRUE(original.ok());
  auto closes = closes_by_record(*original);
  auto first_owned = std::find_if(closes.begin(), closes.end(),
                                  [](const auto& close) { return close.second != 0; });
  ASSERT_NE(first_owned, closes.end());
  auto [record, pid] = *first_owned;
  model::ProcessInfo info;
  info.pid = pid;
  info.netns = 4026532001u;
  info.cgroup_path = "/system.slice/sf-web.service";

  fs::path in_time = temp_path("noted.synfinrec");
  write_with_note(in_time, *original, record + 1, info);
  auto noted = decode::read_recording(in_time.string());
  ASSERT_TRUE(noted.ok()) << noted.error().message;
  EXPECT_EQ(noted->host_netns, 4026531840u);
  EXPECT_EQ(noted->records, original->records);
  ASSERT_EQ(noted->processes.size(), 2u);
  EXPECT_EQ(noted->processes[0].records_before, record + 1);
  EXPECT_EQ(noted->processes[0].pid, pid);
  EXPECT_TRUE(noted->processes[0].found);
  EXPECT_EQ(noted->processes[0].netns, 4026532001u);
  EXPECT_EQ(noted->processes[0].cgroup_path, "/system.slice/sf-web.service");
  EXPECT_EQ(noted->processes[1].records_before, original->records.size());
  EXPECT_EQ(noted->processes[1].pid, pid + 1);
  EXPECT_FALSE(noted->processes[1].found);

  auto first_close_line = [&](const fs::path& path) {
    std::istringstream lines(replayed_lines(path));
    std::string line;
    std::string wanted = "\"pid\":" + std::to_string(pid) + ",";
    while (std::getline(lines, line))
      if (line.starts_with("{\"event\":\"close\"") && line.find(wanted) != std::string::npos)
        return line;
    return std::string();
  };
  std::string named = first_close_line(in_time);
  // The fixture's records carry no namespace: the owner's stands in, and it is not the host's.
  EXPECT_NE(named.find("\"netns\":4026532001,\"netns_is_host\":false,"
                       "\"cgroup_path\":\"/system.slice/sf-web.service\","
                       "\"unit\":\"sf-web.service\",\"container_id\":null"),
            std::string::npos)
      << named;

  fs::path too_late = temp_path("noted-late.synfinrec");
  write_with_note(too_late, *original, record + 2, info);
  std::string unnamed = first_close_line(too_late);
  EXPECT_NE(unnamed.find("\"cgroup_path\":null,\"unit\":null"), std::string::npos) << unnamed;
}

// Older formats have no notes: their close lines name no owner beyond pid and comm.
TEST(ProcessNotesTest, OlderFormatsHaveNoNotesAndNoHostNamespace) {
  for (const char* name : {"client_first_ipv4", "close_after_shutdown_ipv4"}) {
    std::string path = std::string(SYNFIN_FIXTURE_DIR) + "/" + name + ".synfinrec";
    SCOPED_TRACE(path);
    std::string magic = read_bytes(path).substr(0, 8);
    EXPECT_TRUE(magic == "SYNFINR1" || magic == "SYNFINR2") << magic;
    auto fixture = decode::read_recording(path);
    ASSERT_TRUE(fixture.ok());
    EXPECT_TRUE(fixture->processes.empty());
    EXPECT_EQ(fixture->host_netns, 0u);
  }
}

}  // namespace
}  // namespace synfin
