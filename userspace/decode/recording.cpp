#include "decode/recording.h"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "decode/record_upgrade.h"
#include "synfin/abi.h"

namespace synfin::decode {

namespace {
// Format 2 carries the sequence numbers and XDP packet records; format 1 is upgraded on read.
constexpr char kMagic[8] = {'S', 'Y', 'N', 'F', 'I', 'N', 'R', '2'};
constexpr char kFormat1Magic[8] = {'S', 'Y', 'N', 'F', 'I', 'N', 'R', '1'};
constexpr uint32_t kMaxFrame = 1u << 20;  // far above any record; guards a corrupt length

struct Header {
  char magic[8];
  uint32_t record_size;
  uint32_t reserved;
  int64_t realtime_minus_monotonic_ns;
};
static_assert(sizeof(Header) == 24);
}  // namespace

Result<RecordingWriter> RecordingWriter::create(const std::string& path,
                                                int64_t realtime_minus_monotonic_ns) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) return Error{fmt::format("cannot write {}: {}", path, std::strerror(errno))};
  Header header{};
  std::memcpy(header.magic, kMagic, sizeof(kMagic));
  header.record_size = sizeof(synfin_event);
  header.realtime_minus_monotonic_ns = realtime_minus_monotonic_ns;
  if (std::fwrite(&header, sizeof(header), 1, file) != 1) {
    std::fclose(file);
    return Error{fmt::format("cannot write {}: {}", path, std::strerror(errno))};
  }
  return RecordingWriter(file);
}

RecordingWriter::RecordingWriter(RecordingWriter&& other) noexcept
    : file_(other.file_), failed_(other.failed_) {
  other.file_ = nullptr;
}

RecordingWriter::~RecordingWriter() {
  if (file_) std::fclose(file_);
}

void RecordingWriter::write(std::span<const std::byte> record) {
  auto length = static_cast<uint32_t>(record.size());
  if (std::fwrite(&length, sizeof(length), 1, file_) != 1 ||
      std::fwrite(record.data(), 1, record.size(), file_) != record.size())
    failed_ = true;
}

Result<Recording> read_recording(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) return Error{fmt::format("cannot read {}: {}", path, std::strerror(errno))};
  Recording recording;
  Header header{};
  if (std::fread(&header, sizeof(header), 1, file) != 1) {
    std::fclose(file);
    return Error{fmt::format("{} is not a synfin recording", path)};
  }
  bool format1 = std::memcmp(header.magic, kFormat1Magic, sizeof(kFormat1Magic)) == 0;
  if (!format1 && std::memcmp(header.magic, kMagic, sizeof(kMagic)) != 0) {
    std::fclose(file);
    return Error{fmt::format("{} is not a synfin recording", path)};
  }
  // Both formats recorded 112-byte socket records; any other size is another layout.
  if (header.record_size != sizeof(synfin_event)) {
    std::fclose(file);
    return Error{fmt::format("{}: records of {} bytes, this synfin reads {}-byte records",
                             path, header.record_size, sizeof(synfin_event))};
  }
  recording.realtime_minus_monotonic_ns = header.realtime_minus_monotonic_ns;
  for (;;) {
    uint32_t length = 0;
    std::size_t got = std::fread(&length, 1, sizeof(length), file);
    if (got == 0) break;  // the end, between two frames
    if (got < sizeof(length)) {
      recording.truncated = true;
      break;
    }
    if (length > kMaxFrame) {
      std::fclose(file);
      return Error{fmt::format("{}: frame of {} bytes: corrupt recording", path, length)};
    }
    std::vector<std::byte> record(length);
    if (std::fread(record.data(), 1, length, file) != length) {
      recording.truncated = true;  // cut short (a trace killed mid-write): keep what is whole
      break;
    }
    recording.records.push_back(format1 ? upgrade_format1_record(record) : std::move(record));
  }
  std::fclose(file);
  return recording;
}

}  // namespace synfin::decode
