// Fuzz target: a recording file (`synfin replay FILE`, a bug report's attachment) of any bytes,
// read through decode::read_recording and each frame decoded.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "decode/decoder.h"
#include "decode/recording.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  // The reader takes a path: the bytes go into an anonymous in-memory file.
  int fd = ::memfd_create("synfin-fuzz-recording", 0);
  if (fd < 0) __builtin_trap();
  for (std::size_t written = 0; written < size;) {
    ssize_t n = ::write(fd, data + written, size - written);
    if (n <= 0) __builtin_trap();
    written += static_cast<std::size_t>(n);
  }
  auto recording = synfin::decode::read_recording("/proc/self/fd/" + std::to_string(fd));
  ::close(fd);
  if (!recording) return 0;  // refused with a message: fine
  synfin::decode::Decoder decoder;
  for (const auto& record : recording->records) decoder.decode(record);
  return 0;
}
