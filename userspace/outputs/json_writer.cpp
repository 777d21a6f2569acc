#include "outputs/json_writer.h"

#include <algorithm>
#include <cmath>

#include "outputs/utf8.h"

namespace synfin::outputs {

namespace {
constexpr char kHex[] = "0123456789abcdef";
}  // namespace

JsonWriter::JsonWriter(fmt::memory_buffer& out, std::size_t expected) : out_(out) {
  std::size_t used = out_.size();
  out_.resize(used + expected);
  p_ = out_.data() + used;
  end_ = out_.data() + out_.size();
}

void JsonWriter::grow(std::size_t bytes) {
  std::size_t used = static_cast<std::size_t>(p_ - out_.data());
  out_.resize(used + std::max(bytes, out_.size() - used + 256));
  p_ = out_.data() + used;
  end_ = out_.data() + out_.size();
}

void JsonWriter::key(std::string_view name) {
  string(name);  // with the comma before it
  *room(1) = ':', ++p_;
  need_comma_ = false;
}

void JsonWriter::string(std::string_view text) {
  // Names are almost always printable ASCII: copied in one go. Escaping writes at most six
  // bytes for one.
  char* p = value_room(6 * text.size() + 2);
  *p++ = '"';
  bool plain = true;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    plain &= byte >= 0x20 && byte < 0x80 && c != '"' && c != '\\';
  }
  if (plain) {
    p = copy(p, text);
  } else {
    while (!text.empty()) {
      Utf8Piece piece = next_utf8(text);
      if (!piece.well_formed) {
        std::memcpy(p, "\xef\xbf\xbd", 3);  // U+FFFD for bytes that are not UTF-8
        p += 3;
      } else if (piece.code_point == '"' || piece.code_point == '\\') {
        *p++ = '\\';
        *p++ = text[0];
      } else if (piece.code_point < 0x20) {
        // The short escapes where JSON has one, \u00XX otherwise: what nlohmann::json writes.
        static constexpr std::string_view kShort[] = {"\\b", "\\t", "\\n", "", "\\f", "\\r"};
        std::size_t index = piece.code_point - 0x08;
        if (piece.code_point >= 0x08 && piece.code_point <= 0x0d && !kShort[index].empty()) {
          std::memcpy(p, kShort[index].data(), 2);
          p += 2;
        } else {
          std::memcpy(p, "\\u00", 4);
          p[4] = kHex[piece.code_point >> 4];
          p[5] = kHex[piece.code_point & 0xf];
          p += 6;
        }
      } else {
        std::memcpy(p, text.data(), piece.length);
        p += piece.length;
      }
      text.remove_prefix(piece.length);
    }
  }
  *p++ = '"';
  p_ = p;
}

void JsonWriter::number(double value) {
  if (!std::isfinite(value)) return null();
  char* p = value_room(32);
  p_ = fmt::format_to(p, "{}", value);
}

void JsonWriter::fraction(double value) {
  if (!std::isfinite(value)) return null();  // nlohmann::json writes null too
  char* p = value_room(32);
  if (std::signbit(value)) {
    *p++ = '-';
    value = -value;
  }
  if (value == 0) {
    std::memcpy(p, "0.0", 3);
    p_ = p + 3;
    return;
  }
  // The shortest digits and their exponent (d.ddde±x), laid out as nlohmann's dtoa lays them:
  // positional while the point falls within 15 digits of the start (digits10) and no more than
  // four zeros follow it, with ".0" after an integer; an exponent of two digits at least else.
  char scientific[32];
  char* end = std::to_chars(scientific, scientific + sizeof(scientific), value,
                            std::chars_format::scientific)
                  .ptr;
  char* e = std::find(scientific, end, 'e');
  char digits[20];
  int k = 0;
  for (char* c = scientific; c != e; ++c)
    if (*c != '.') digits[k++] = *c;
  int exponent = 0;
  std::from_chars(e + (e[1] == '+' ? 2 : 1), end, exponent);
  constexpr int kMinExp = -4, kMaxExp = 15;
  int n = exponent + 1;  // value = 0.digits * 10^n
  if (k <= n && n <= kMaxExp) {
    std::memcpy(p, digits, k);
    std::memset(p + k, '0', n - k);
    p += n;
    std::memcpy(p, ".0", 2);
    p += 2;
  } else if (0 < n && n <= kMaxExp) {
    std::memcpy(p, digits, n);
    p[n] = '.';
    std::memcpy(p + n + 1, digits + n, k - n);
    p += k + 1;
  } else if (kMinExp < n && n <= 0) {
    std::memcpy(p, "0.", 2);
    std::memset(p + 2, '0', -n);
    std::memcpy(p + 2 - n, digits, k);
    p += 2 - n + k;
  } else {
    *p++ = digits[0];
    if (k > 1) {
      *p++ = '.';
      std::memcpy(p, digits + 1, k - 1);
      p += k - 1;
    }
    *p++ = 'e';
    int shown = n - 1;
    *p++ = shown < 0 ? '-' : '+';
    if (shown < 0) shown = -shown;
    if (shown < 10) *p++ = '0';
    p = std::to_chars(p, p + 4, shown).ptr;
  }
  p_ = p;
}

void append_json_string(fmt::memory_buffer& out, std::string_view text) {
  JsonWriter json(out, 6 * text.size() + 2);
  json.string(text);
}

}  // namespace synfin::outputs
