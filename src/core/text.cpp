#include "core/text.h"

#include <cmath>
#include <cstdio>
#include <ctime>

namespace imagefit {

std::string with_commas(long long n) {
  // Digits of |n| without overflowing on LLONG_MIN.
  const unsigned long long magnitude = n < 0 ? 0ull - static_cast<unsigned long long>(n) : static_cast<unsigned long long>(n);
  std::string s = std::to_string(magnitude);
  for (int i = int(s.size()) - 3; i > 0; i -= 3) s.insert(size_t(i), ",");
  return n < 0 ? "-" + s : s;
}

std::string plural(long long n, const std::string& one, const std::string& many) {
  return with_commas(n) + " " + (n == 1 ? one : many.empty() ? one + "s" : many);
}

std::string percent(double fraction, int decimals) {
  if (!std::isfinite(fraction)) return "n/a";
  char buf[64];
  for (int d = decimals;; ++d) {
    std::snprintf(buf, sizeof buf, "%.*f%%", d, fraction * 100);
    // "100.0…%" for a share below 1 would claim certainty; 17 decimals separate any double from 1.
    if (fraction >= 1 || std::string(buf).rfind("100", 0) != 0 || d >= 17) return buf;
  }
}

std::string duration_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "n/a";
  char buf[64];
  if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%.2f s", seconds);
    return buf;
  }
  const long long s = std::llround(seconds);
  if (s < 3600)
    std::snprintf(buf, sizeof buf, "%lld min %lld s", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%lld h %lld min", s / 3600, (s % 3600) / 60);
  return buf;
}

std::string iso8601_local(int64_t epoch_seconds) {
  const std::time_t t = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  if (!localtime_r(&t, &tm)) return std::to_string(epoch_seconds);
  char buf[64];
  if (std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z", &tm) == 0) return std::to_string(epoch_seconds);
  // strftime's %z is "+0100"; ISO 8601's extended format, the one with "-" and ":", wants "+01:00".
  std::string s = buf;
  if (s.size() >= 5 && (s[s.size() - 5] == '+' || s[s.size() - 5] == '-')) s.insert(s.size() - 2, ":");
  return s;
}

namespace {

// Length of the valid UTF-8 sequence at text[i] (1..4), or 0 if the bytes there are not one
// (overlong forms, surrogates and code points above U+10FFFF are not valid).
size_t utf8_sequence(std::string_view text, size_t i, uint32_t* code_point) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  size_t n;
  uint32_t cp;
  if (c < 0x80) {
    *code_point = c;
    return 1;
  } else if (c >= 0xC2 && c <= 0xDF) {
    n = 2, cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3, cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4, cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  *code_point = cp;
  return n;
}

}  // namespace

std::string printable(std::string_view text, unsigned flags) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  const auto escape = [&](unsigned char c) {
    out += "\\x";
    out += hex[c >> 4];
    out += hex[c & 15];
  };
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      const bool keep = (c > 0x20 && c < 0x7f && c != '\\') || (c == ' ' && !(flags & kEscapeSpace));
      if (keep) out += char(c);
      else escape(c);
      ++i;
      continue;
    }
    uint32_t cp = 0;
    const size_t n = (flags & kAsciiOnly) ? 0 : utf8_sequence(text, i, &cp);
    if (n == 0 || (cp >= 0x80 && cp <= 0x9F)) {
      // Not text, or a C1 control (U+009B is a CSI to some terminals): every byte escaped.
      const size_t bytes = n == 0 ? 1 : n;
      for (size_t k = 0; k < bytes; ++k) escape(static_cast<unsigned char>(text[i + k]));
      i += bytes;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

size_t display_width(std::string_view text) {
  size_t n = 0;
  for (const char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

std::string pad_right(const std::string& text, size_t width) {
  const size_t w = display_width(text);
  return w >= width ? text : text + std::string(width - w, ' ');
}

std::string pad_left(const std::string& text, size_t width) {
  const size_t w = display_width(text);
  return w >= width ? text : std::string(width - w, ' ') + text;
}

}  // namespace imagefit
