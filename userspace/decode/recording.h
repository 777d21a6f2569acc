#pragma once
// Recordings of raw ring-buffer records (`synfin trace --record`), replayed later through the
// same decoder and model without root or a kernel (`synfin replay`, the unit tier's fixtures).
//
// Format: "SYNFINR3", u32 size of struct synfin_event when recorded, u32 inode of the host's
// network namespace (0: not known), i64 realtime-minus-monotonic offset in ns; then frames of
// u32 length + that many bytes. Frames keep their length as the ring gave it, so odd records
// replay as odd records. A length with its top bit set is a process note (ProcessNote): u32
// pid, u32 netns inode, u32 found, then the cgroup path's bytes.
// Format-2 files ("SYNFINR2": no notes, no host namespace) and format-1 files ("SYNFINR1",
// whose records are upgraded to the current layout) are read too.
// A path ending in .gz is written gzip-compressed; reading tells gzip from plain by the file's
// content (its magic bytes), whatever its name.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "model/process.h"

struct gzFile_s;  // zlib's gzFile

namespace synfin::decode {

class RecordingWriter {
 public:
  static Result<RecordingWriter> create(const std::string& path,
                                        int64_t realtime_minus_monotonic_ns,
                                        uint32_t host_netns = 0);
  RecordingWriter(RecordingWriter&& other) noexcept;
  RecordingWriter& operator=(RecordingWriter&&) = delete;
  ~RecordingWriter();

  void write(std::span<const std::byte> record);
  // What /proc said of pid just now (nullptr: no such process), placed after the records
  // written so far.
  void write_process(uint32_t pid, const model::ProcessInfo* info);
  // Puts what was written so far into the file as a readable whole (a gzip sync point), so a
  // trace killed later loses only what came after; a no-op when nothing new was written.
  void flush();
  // Flushes and closes (a gzip stream's end is written here); failed() tells if anything of
  // the recording was lost, this last step included.
  void close();
  bool failed() const { return failed_; }

 private:
  explicit RecordingWriter(gzFile_s* file) : file_(file) {}
  gzFile_s* file_;  // gzip, or plain ("transparent") writing
  bool failed_ = false;
  bool unflushed_ = false;
};

// What `synfin trace` found in /proc about a pid when a close line asked, noted where it
// asked (while applying the record before it), so that a replay's close lines name the same
// unit, container, pod and namespace.
struct ProcessNote {
  std::size_t records_before = 0;  // whole records before it in the file: its place
  uint32_t pid = 0;
  bool found = false;  // false: the process had exited
  uint32_t netns = 0;
  std::string cgroup_path;
};

struct Recording {
  int64_t realtime_minus_monotonic_ns = 0;
  uint32_t host_netns = 0;
  std::vector<std::vector<std::byte>> records;
  std::vector<ProcessNote> processes;  // in file order
  bool truncated = false;  // the data ends inside a frame: `records` holds the whole ones
  // When truncated: how the data ends ("ends in the middle of a record", or what zlib found
  // wrong with a cut or damaged gzip stream).
  std::string truncation;
};

Result<Recording> read_recording(const std::string& path);

}  // namespace synfin::decode
