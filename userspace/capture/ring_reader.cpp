#include "capture/ring_reader.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace synfin::capture {

namespace {
unsigned long load_acquire(const void* address) {
  return std::atomic_ref<const unsigned long>(*static_cast<const unsigned long*>(address))
      .load(std::memory_order_acquire);
}

uint32_t load_acquire_u32(const void* address) {
  return std::atomic_ref<const uint32_t>(*static_cast<const uint32_t*>(address))
      .load(std::memory_order_acquire);
}

// A record's whole footprint in the ring: header and body, rounded to 8 bytes.
unsigned long footprint(uint32_t length) {
  length &= ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
  return (static_cast<unsigned long>(length) + BPF_RINGBUF_HDR_SZ + 7) & ~7UL;
}
}  // namespace

Result<std::unique_ptr<RingReader>> RingReader::map(int ring_fd) {
  bpf_map_info info{};
  uint32_t info_size = sizeof(info);
  if (bpf_obj_get_info_by_fd(ring_fd, &info, &info_size) != 0)
    return Error{fmt::format("cannot read a ring buffer's size: {}", std::strerror(errno))};
  if (info.type != BPF_MAP_TYPE_RINGBUF)
    return Error{fmt::format("map {} is not a ring buffer", info.id)};
  std::unique_ptr<RingReader> reader(new RingReader());
  reader->fd_ = ring_fd;
  reader->page_size_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  reader->data_size_ = info.max_entries;
  reader->consumer_page_ =
      mmap(nullptr, reader->page_size_, PROT_READ | PROT_WRITE, MAP_SHARED, ring_fd, 0);
  if (reader->consumer_page_ == MAP_FAILED) {
    reader->consumer_page_ = nullptr;
    return Error{fmt::format("cannot map a ring buffer: {}", std::strerror(errno))};
  }
  reader->producer_pages_ = mmap(nullptr, reader->page_size_ + 2 * reader->data_size_, PROT_READ,
                                 MAP_SHARED, ring_fd, static_cast<off_t>(reader->page_size_));
  if (reader->producer_pages_ == MAP_FAILED) {
    reader->producer_pages_ = nullptr;
    return Error{fmt::format("cannot map a ring buffer's data ({} bytes): {}", reader->data_size_,
                             std::strerror(errno))};
  }
  reader->data_ = static_cast<const std::byte*>(reader->producer_pages_) + reader->page_size_;
  reader->consumer_pos_ = load_acquire(reader->consumer_page_);
  return reader;
}

RingReader::~RingReader() {
  if (producer_pages_) munmap(producer_pages_, page_size_ + 2 * data_size_);
  if (consumer_page_) munmap(consumer_page_, page_size_);
}

std::span<const std::byte> RingReader::peek() {
  for (;;) {
    unsigned long producer_pos = load_acquire(producer_pages_);
    if (consumer_pos_ >= producer_pos) return {};
    const std::byte* header = data_ + (consumer_pos_ & (data_size_ - 1));
    uint32_t length = load_acquire_u32(header);
    if (length & BPF_RINGBUF_BUSY_BIT) return {};
    if (length & BPF_RINGBUF_DISCARD_BIT) {
      consumer_pos_ += footprint(length);
      std::atomic_ref<unsigned long>(*static_cast<unsigned long*>(consumer_page_))
          .store(consumer_pos_, std::memory_order_release);
      continue;
    }
    peeked_end_ = consumer_pos_ + footprint(length);
    return {header + BPF_RINGBUF_HDR_SZ, length};
  }
}

void RingReader::pop() {
  if (!peeked_end_) return;
  consumer_pos_ = peeked_end_;
  peeked_end_ = 0;
  std::atomic_ref<unsigned long>(*static_cast<unsigned long*>(consumer_page_))
      .store(consumer_pos_, std::memory_order_release);
}

}  // namespace synfin::capture
