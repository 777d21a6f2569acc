#include "decode/recording.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "decode/record_upgrade.h"
#include "synfin/abi.h"

namespace synfin::decode {

namespace {
// Format 3 adds process notes and the host's namespace; format 2 carries the sequence numbers
// and XDP packet records; format 1 is upgraded on read.
constexpr char kMagic[8] = {'S', 'Y', 'N', 'F', 'I', 'N', 'R', '3'};
constexpr char kFormat2Magic[8] = {'S', 'Y', 'N', 'F', 'I', 'N', 'R', '2'};
constexpr char kFormat1Magic[8] = {'S', 'Y', 'N', 'F', 'I', 'N', 'R', '1'};
constexpr uint32_t kMaxFrame = 1u << 20;  // far above any record; guards a corrupt length
constexpr uint32_t kProcessNoteFlag = 1u << 31;

struct ProcessNoteHead {
  uint32_t pid;
  uint32_t netns;
  uint32_t found;
};
static_assert(sizeof(ProcessNoteHead) == 12);
// zlib's buffers (its default is 8 KiB): fewer, larger reads and deflate calls.
constexpr unsigned kZlibBuffer = 128u << 10;

struct Header {
  char magic[8];
  uint32_t record_size;
  uint32_t host_netns;  // format 3; 0 before
  int64_t realtime_minus_monotonic_ns;
};
static_assert(sizeof(Header) == 24);

// Every recording is read through this one source, plain or gzip alike: zlib passes a file
// that does not start with gzip's magic bytes through unchanged, so the content decides the
// format, never the name.
class RecordingSource {
 public:
  static Result<RecordingSource> open(const std::string& path) {
    gzFile file = gzopen(path.c_str(), "rb");
    if (!file) return Error{fmt::format("cannot read {}: {}", path, std::strerror(errno))};
    gzbuffer(file, kZlibBuffer);
    return RecordingSource(file, path);
  }
  RecordingSource(RecordingSource&& other) noexcept
      : file_(other.file_), path_(std::move(other.path_)) {
    other.file_ = nullptr;
  }
  RecordingSource& operator=(RecordingSource&&) = delete;
  ~RecordingSource() {
    if (file_) gzclose_r(file_);
  }

  // Reads `size` bytes; fewer only at the end of the data, or where it is cut or damaged.
  std::size_t read(void* buffer, std::size_t size) {
    int got = gzread(file_, buffer, static_cast<unsigned>(size));
    return got > 0 ? static_cast<std::size_t>(got) : 0;
  }

  // Empty at a clean end of the data; else why it ended early, for a one-line error.
  std::string damage() const {
    int code = Z_OK;
    std::string_view message = gzerror(file_, &code);
    if (message.starts_with(path_ + ": ")) message.remove_prefix(path_.size() + 2);
    switch (code) {
      case Z_OK:
        return {};
      case Z_ERRNO:  // zlib: strerror at the failure
        return fmt::format("could not be read to its end ({})", message);
      case Z_BUF_ERROR:  // zlib's "unexpected end of file": the stream stops without its end
        return fmt::format("is cut off inside its gzip stream (zlib: {})", message);
      default:
        return fmt::format("is damaged inside its gzip stream (zlib: {})", message);
    }
  }

 private:
  RecordingSource(gzFile file, std::string path) : file_(file), path_(std::move(path)) {}
  gzFile file_;
  std::string path_;  // zlib's messages start with it; ours name it once
};
}  // namespace

Result<RecordingWriter> RecordingWriter::create(const std::string& path,
                                                int64_t realtime_minus_monotonic_ns,
                                                uint32_t host_netns) {
  // Level 3: 9.6x on kernel records at ~290 MB/s; level 6 gains 4% for half the speed, and
  // the trace shares the traced host's CPUs. "T": zlib writes the bytes as they are, so both
  // kinds go through one writer.
  bool compressed = std::string_view(path).ends_with(".gz");
  gzFile file = gzopen(path.c_str(), compressed ? "wb3" : "wbT");
  if (!file) return Error{fmt::format("cannot write {}: {}", path, std::strerror(errno))};
  gzbuffer(file, kZlibBuffer);
  Header header{};
  std::memcpy(header.magic, kMagic, sizeof(kMagic));
  header.record_size = sizeof(synfin_event);
  header.host_netns = host_netns;
  header.realtime_minus_monotonic_ns = realtime_minus_monotonic_ns;
  if (gzwrite(file, &header, sizeof(header)) != sizeof(header)) {
    int code = Z_OK;
    std::string why = gzerror(file, &code);
    if (code == Z_ERRNO) why = std::strerror(errno);
    gzclose_w(file);
    return Error{fmt::format("cannot write {}: {}", path, why)};
  }
  return RecordingWriter(file);
}

RecordingWriter::RecordingWriter(RecordingWriter&& other) noexcept
    : file_(other.file_), failed_(other.failed_), unflushed_(other.unflushed_) {
  other.file_ = nullptr;
}

RecordingWriter::~RecordingWriter() {
  close();
}

void RecordingWriter::write(std::span<const std::byte> record) {
  auto length = static_cast<uint32_t>(record.size());
  if (gzwrite(file_, &length, sizeof(length)) != sizeof(length) ||
      (length > 0 && gzwrite(file_, record.data(), length) != static_cast<int>(length)))
    failed_ = true;
  unflushed_ = true;
}

void RecordingWriter::write_process(uint32_t pid, const model::ProcessInfo* info) {
  ProcessNoteHead head{pid, info ? info->netns : 0, info ? 1u : 0u};
  std::string_view path = info ? std::string_view(info->cgroup_path) : std::string_view();
  path = path.substr(0, model::kMaxCgroupPath);
  uint32_t length = static_cast<uint32_t>(sizeof(head) + path.size()) | kProcessNoteFlag;
  if (gzwrite(file_, &length, sizeof(length)) != sizeof(length) ||
      gzwrite(file_, &head, sizeof(head)) != sizeof(head) ||
      (!path.empty() && gzwrite(file_, path.data(), static_cast<unsigned>(path.size())) !=
                            static_cast<int>(path.size())))
    failed_ = true;
  unflushed_ = true;
}

void RecordingWriter::flush() {
  if (!file_ || !unflushed_) return;
  if (gzflush(file_, Z_SYNC_FLUSH) != Z_OK) failed_ = true;
  unflushed_ = false;
}

void RecordingWriter::close() {
  if (!file_) return;
  if (gzclose_w(file_) != Z_OK) failed_ = true;
  file_ = nullptr;
}

Result<Recording> read_recording(const std::string& path) {
  auto source = RecordingSource::open(path);
  if (!source) return source.error();
  Recording recording;
  Header header{};
  if (source->read(&header, sizeof(header)) != sizeof(header)) {
    std::string damage = source->damage();
    if (!damage.empty()) return Error{fmt::format("{} {}, within its header", path, damage)};
    return Error{fmt::format("{} is not a synfin recording", path)};
  }
  bool format1 = std::memcmp(header.magic, kFormat1Magic, sizeof(kFormat1Magic)) == 0;
  bool format2 = std::memcmp(header.magic, kFormat2Magic, sizeof(kFormat2Magic)) == 0;
  bool format3 = std::memcmp(header.magic, kMagic, sizeof(kMagic)) == 0;
  if (!format1 && !format2 && !format3)
    return Error{fmt::format("{} is not a synfin recording", path)};
  // Every format recorded 112-byte socket records; any other size is another layout.
  if (header.record_size != sizeof(synfin_event))
    return Error{fmt::format("{}: records of {} bytes, this synfin reads {}-byte records", path,
                             header.record_size, sizeof(synfin_event))};
  recording.realtime_minus_monotonic_ns = header.realtime_minus_monotonic_ns;
  if (format3) recording.host_netns = header.host_netns;
  auto cut_short = [&] {  // keep what is whole (a trace killed mid-write), say how it ends
    recording.truncated = true;
    recording.truncation = source->damage();
    if (recording.truncation.empty()) recording.truncation = "ends in the middle of a record";
  };
  for (;;) {
    uint32_t length = 0;
    std::size_t got = source->read(&length, sizeof(length));
    if (got == 0 && source->damage().empty()) break;  // the end, between two frames
    if (got < sizeof(length)) {
      cut_short();
      break;
    }
    bool note = format3 && (length & kProcessNoteFlag);
    if (note) length &= ~kProcessNoteFlag;
    if (length > kMaxFrame || (note && (length < sizeof(ProcessNoteHead) ||
                                        length > sizeof(ProcessNoteHead) + model::kMaxCgroupPath)))
      return Error{fmt::format("{}: frame of {} bytes: corrupt recording", path, length)};
    std::vector<std::byte> record(length);
    if (source->read(record.data(), length) != length) {
      cut_short();
      break;
    }
    if (note) {
      ProcessNoteHead head{};
      std::memcpy(&head, record.data(), sizeof(head));
      ProcessNote& added = recording.processes.emplace_back();
      added.records_before = recording.records.size();
      added.pid = head.pid;
      added.found = head.found != 0;
      added.netns = head.netns;
      added.cgroup_path.assign(reinterpret_cast<const char*>(record.data()) + sizeof(head),
                               length - sizeof(head));
      continue;
    }
    recording.records.push_back(format1 ? upgrade_format1_record(record) : std::move(record));
  }
  return recording;
}

}  // namespace synfin::decode
