#pragma once
// Reading a fuzzer's bytes as a structured input: each read takes what it needs from the
// front and never fails (short input yields zeros and empty strings), so every byte string is
// a valid input and the fuzzer's mutations stay meaningful.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

namespace synfin::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  template <typename Integer>
  Integer integer() {
    Integer value{};
    std::size_t n = std::min(sizeof(value), size_);
    std::memcpy(&value, data_, n);
    advance(n);
    return value;
  }
  std::string bytes(std::size_t wanted) {
    std::size_t n = std::min(wanted, size_);
    std::string out(reinterpret_cast<const char*>(data_), n);
    advance(n);
    return out;
  }
  // A string of up to max_length bytes, its length given by the next byte.
  std::string short_string(std::size_t max_length = 255) {
    return bytes(std::min<std::size_t>(integer<uint8_t>(), max_length));
  }
  std::span<const std::byte> rest() const {
    return {reinterpret_cast<const std::byte*>(data_), size_};
  }
  std::size_t remaining() const { return size_; }

 private:
  void advance(std::size_t n) {
    data_ += n;
    size_ -= n;
  }
  const uint8_t* data_;
  std::size_t size_;
};

}  // namespace synfin::fuzz
