#pragma once
// The one JSON writer of synfin: `synfin trace` lines and every answer of the API. It writes
// into a buffer its caller owns and reuses (the trace's batch of lines), so a line costs no
// allocation once the buffer has grown, and it writes through a raw pointer into room reserved
// ahead: per-call format-string parsing and capacity checks in fmt were most of a trace line's
// cost. Commas come by themselves: a value or a key after another one is preceded by one.
//
// One writer at a time per buffer: while it lives the buffer holds reserved, unwritten room,
// and it is cut back to what was written when the writer goes away.
#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include <fmt/format.h>

namespace synfin::outputs {

class JsonWriter {
 public:
  // expected: the bytes the caller will likely write, reserved at once so that growing is rare.
  explicit JsonWriter(fmt::memory_buffer& out, std::size_t expected = 256);
  ~JsonWriter() { out_.resize(static_cast<std::size_t>(p_ - out_.data())); }
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }

  // A member's name. A literal is one of synfin's own names, written as it is (no escaping:
  // none needs any); a name known only at run time is escaped as a string is.
  template <std::size_t N>
  [[gnu::always_inline]] void key(const char (&literal)[N]) {
    char* p = separated(N + 2);
    *p++ = '"';
    std::memcpy(p, literal, N - 1);
    p += N - 1;
    *p++ = '"';
    *p++ = ':';
    p_ = p;
    need_comma_ = false;
  }
  // A member named by one of the model's tables (a state, a drop reason): none needs escaping.
  void name_key(std::string_view plain) {
    name(plain);
    *room(1) = ':', ++p_;
    need_comma_ = false;
  }
  void key(const std::string& name) { key(std::string_view(name)); }
  void key(std::string_view name);

  // Any bytes as a JSON string: '"', '\\' and control characters escaped (the short escapes
  // where JSON has one, \u00XX otherwise), each ill-formed UTF-8 piece (utf8.h) as U+FFFD.
  // These are the bytes nlohmann::json writes with error_handler_t::replace.
  void string(std::string_view text);
  // A name from one of the model's tables (states, reasons, ...), quoted: none needs escaping.
  void name(std::string_view plain) {
    char* p = value_room(plain.size() + 2);
    *p++ = '"';
    p = copy(p, plain);
    *p++ = '"';
    p_ = p;
  }
  // Text that `write(char* at)` writes (at most `most` bytes, nothing to escape; it returns
  // the end), quoted: an address, "FROM->TO".
  template <typename Write>
  void quoted(std::size_t most, Write write) {
    char* p = value_room(most + 2);
    *p++ = '"';
    p = write(p);
    *p++ = '"';
    p_ = p;
  }
  // "1a2b": a cookie as the API and trace name connections.
  void hex_string(uint64_t value) {
    char* p = value_room(18);
    *p++ = '"';
    p = std::to_chars(p, end_, value, 16).ptr;
    *p++ = '"';
    p_ = p;
  }

  template <std::integral Integer>
  requires(!std::is_same_v<Integer, bool>) void number(Integer value) {
    char* p = value_room(24);  // room first: it may move the buffer, and with it end_
    p_ = std::to_chars(p, end_, value).ptr;
  }
  // The shortest text that reads back as the same double, without a fraction when it has
  // none ("5", "0.25", "1e+16"): fmt's "{}". Not finite: null.
  void number(double value);
  // The same value always written as a fraction or with an exponent ("5.0", "0.25", "1e+15"),
  // so that a reader types it as a floating-point number: the form of nlohmann::json's
  // serializer, which the answers that carry it were first written with.
  void fraction(double value);
  void boolean(bool value) {
    if (value)
      literal("true");
    else
      literal("false");
  }
  void null() { literal("null"); }
  // `object`'s `field` (a number or a string), or null when there is no object: the API's
  // spelling of "not known".
  template <typename Object, typename Field>
  void field_or_null(const Object* object, Field Object::*field) {
    if (!object)
      null();
    else if constexpr (std::is_convertible_v<const Field&, std::string_view>)
      string(object->*field);
    else
      number(object->*field);
  }
  // A value that is already JSON text.
  void raw(std::string_view json) { p_ = copy(value_room(json.size()), json); }

 private:
  // An unknown reason's name is an empty view whose data() may be null: memcpy must not see it.
  static char* copy(char* out, std::string_view text) {
    if (!text.empty()) std::memcpy(out, text.data(), text.size());
    return out + text.size();
  }
  char* room(std::size_t bytes) {
    if (static_cast<std::size_t>(end_ - p_) < bytes) [[unlikely]]
      grow(bytes);
    return p_;
  }
  // Room for `bytes` after the comma a member or element needs if one came before: where
  // they go. The comma is always stored and kept only when needed, without a branch.
  char* separated(std::size_t bytes) {
    char* p = room(bytes + 1);
    *p = ',';
    return p + need_comma_;
  }
  // The same for a value, after which a comma is needed.
  char* value_room(std::size_t bytes) {
    char* p = separated(bytes);
    need_comma_ = true;
    return p;
  }
  template <std::size_t N>
  [[gnu::always_inline]] void literal(const char (&text)[N]) {
    char* p = value_room(N - 1);
    std::memcpy(p, text, N - 1);
    p_ = p + N - 1;
  }
  void open(char bracket) {
    char* p = separated(1);
    *p = bracket;
    p_ = p + 1;
    need_comma_ = false;
  }
  void close(char bracket) {
    *room(1) = bracket, ++p_;
    need_comma_ = true;
  }
  [[gnu::noinline]] void grow(std::size_t bytes);

  fmt::memory_buffer& out_;
  char* p_ = nullptr;
  char* end_ = nullptr;
  bool need_comma_ = false;
};

// JSON string literal with every byte that could break a line escaped (JsonWriter::string).
void append_json_string(fmt::memory_buffer& out, std::string_view text);

// The text `write(JsonWriter&)` writes, as a string: an API answer's body.
template <typename Write>
std::string json_text(Write&& write, std::size_t expected = 256) {
  fmt::memory_buffer out;
  {
    JsonWriter json(out, expected);
    write(json);
  }
  return fmt::to_string(out);
}

}  // namespace synfin::outputs
