#pragma once
// Recordings of raw ring-buffer records (`synfin trace --record`), replayed later through the
// same decoder and model without root or a kernel (`synfin replay`, the unit tier's fixtures).
//
// Format: "SYNFINR2", u32 size of struct synfin_event when recorded, u32 reserved,
// i64 realtime-minus-monotonic offset in ns; then frames of u32 length + that many bytes.
// Frames keep their length as the ring gave it, so odd records replay as odd records.
// Format-1 files ("SYNFINR1") are read too: their records are upgraded to the current layout.
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace synfin::decode {

class RecordingWriter {
 public:
  static Result<RecordingWriter> create(const std::string& path,
                                        int64_t realtime_minus_monotonic_ns);
  RecordingWriter(RecordingWriter&& other) noexcept;
  RecordingWriter& operator=(RecordingWriter&&) = delete;
  ~RecordingWriter();

  void write(std::span<const std::byte> record);
  bool failed() const { return failed_; }

 private:
  explicit RecordingWriter(std::FILE* file) : file_(file) {}
  std::FILE* file_;
  bool failed_ = false;
};

struct Recording {
  int64_t realtime_minus_monotonic_ns = 0;
  std::vector<std::vector<std::byte>> records;
  bool truncated = false;  // the file ends inside a frame: `records` holds the whole ones
};

Result<Recording> read_recording(const std::string& path);

}  // namespace synfin::decode
