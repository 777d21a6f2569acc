#pragma once
// A BPF ring buffer read in place: the next committed record can be looked at before it is
// consumed, so that several rings can be merged by their records' stamps without copying a
// record out of the kernel's pages. The layout is the kernel's mmap ABI for BPF_MAP_TYPE_RINGBUF:
// a writable consumer-position page, then (read-only) the producer-position page and the data
// pages, mapped twice back to back so that a record that wraps reads contiguously.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "common/result.h"
#include "decode/record_merge.h"

namespace synfin::capture {

class RingReader : public decode::RecordSource {
 public:
  // Maps the ring behind fd (which the reader does not own: it stays the caller's).
  static Result<std::unique_ptr<RingReader>> map(int ring_fd);
  ~RingReader() override;
  RingReader(const RingReader&) = delete;
  RingReader& operator=(const RingReader&) = delete;

  // The oldest committed record not yet consumed; empty when the ring holds none, or when the
  // oldest is still being written (records behind it wait: a ring is read in order).
  std::span<const std::byte> peek() override;
  // Consumes what peek() returned; the kernel may reuse its space at once.
  void pop() override;
  int fd() const { return fd_; }
  std::size_t size_bytes() const { return data_size_; }

 private:
  RingReader() = default;
  int fd_ = -1;
  std::size_t page_size_ = 0;
  std::size_t data_size_ = 0;
  void* consumer_page_ = nullptr;
  void* producer_pages_ = nullptr;  // the producer page, then the data mapped twice
  const std::byte* data_ = nullptr;
  unsigned long consumer_pos_ = 0;
  unsigned long peeked_end_ = 0;  // where the peeked record ends; 0: nothing peeked
};

}  // namespace synfin::capture
