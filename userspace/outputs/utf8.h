#pragma once
// Process names, paths and query values are bytes any local user chooses, not text: these
// helpers walk them as UTF-8 and say where they are not. An ill-formed piece is the "maximal
// subpart" of Unicode §3.9 (one U+FFFD each), the same cut nlohmann::json's
// error_handler_t::replace makes, so the trace lines and the API agree on every name.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace synfin::outputs {

struct Utf8Piece {
  std::size_t length = 0;  // bytes taken from the front (>= 1 unless the text is empty)
  bool well_formed = false;
  uint32_t code_point = 0;  // when well_formed
};

// The first character of `text`, or the ill-formed bytes that stand in its place.
inline Utf8Piece next_utf8(std::string_view text) {
  if (text.empty()) return {};
  auto byte = [&](std::size_t i) { return static_cast<uint8_t>(text[i]); };
  uint8_t lead = byte(0);
  if (lead < 0x80) return {1, true, lead};
  std::size_t expected = 0;
  uint8_t second_low = 0x80, second_high = 0xbf;  // Table 3-7: the second byte's range
  uint32_t code_point = 0;
  if (lead >= 0xc2 && lead <= 0xdf) {
    expected = 2;
    code_point = lead & 0x1fu;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    expected = 3;
    code_point = lead & 0x0fu;
    if (lead == 0xe0) second_low = 0xa0;   // no overlong forms
    if (lead == 0xed) second_high = 0x9f;  // no UTF-16 surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    expected = 4;
    code_point = lead & 0x07u;
    if (lead == 0xf0) second_low = 0x90;   // no overlong forms
    if (lead == 0xf4) second_high = 0x8f;  // nothing above U+10FFFF
  } else {
    return {1, false, 0};  // a continuation byte, C0, C1 or F5..FF cannot start a character
  }
  for (std::size_t i = 1; i < expected; ++i) {
    uint8_t low = i == 1 ? second_low : 0x80, high = i == 1 ? second_high : 0xbf;
    if (i >= text.size() || byte(i) < low || byte(i) > high) return {i, false, 0};
    code_point = (code_point << 6) | (byte(i) & 0x3fu);
  }
  return {expected, true, code_point};
}

// For a terminal: well-formed printable characters as they are; control characters (C0, DEL,
// C1: what terminals act on) and ill-formed bytes as \xNN, so a name cannot move the cursor,
// recolour the screen or fake a line.
inline std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  while (!text.empty()) {
    Utf8Piece piece = next_utf8(text);
    bool control = piece.well_formed && (piece.code_point < 0x20 ||
                                         (piece.code_point >= 0x7f && piece.code_point < 0xa0));
    if (piece.well_formed && !control && piece.code_point != '\\') {
      out.append(text.substr(0, piece.length));
    } else {
      for (std::size_t i = 0; i < piece.length; ++i) {
        auto b = static_cast<uint8_t>(text[i]);
        out += "\\x";
        out += kHex[b >> 4];
        out += kHex[b & 0xf];
      }
    }
    text.remove_prefix(piece.length);
  }
  return out;
}

}  // namespace synfin::outputs
