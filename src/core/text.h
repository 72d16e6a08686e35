#pragma once
// How counts, shares, times and untrusted names are written in imagefit's output: one place, so
// every command says "1 thread" / "2 threads" and "1,001,546 parameters" alike, and a hostile file
// name cannot drive the terminal.
#include <cstdint>
#include <string>
#include <string_view>

namespace imagefit {

// 1234567 → "1,234,567"; -1234 → "-1,234".
std::string with_commas(long long n);

// The count with commas and the noun: plural(1, "thread") → "1 thread", plural(2, "thread") → "2 threads",
// plural(3, "class", "classes") → "3 classes".
std::string plural(long long n, const std::string& one, const std::string& many = "");

// A share as a percentage with `decimals` decimals (0.1234 → "12.3%"), never rounded up to "100.0%"
// when it is below 1: 0.9998 → "99.98%", with as many more decimals as that takes. Non-finite: "n/a".
std::string percent(double fraction, int decimals = 1);

// Seconds for a person: "0.42 s", "36.97 s", "2 min 5 s", "1 h 3 min". Non-finite or negative: "n/a".
std::string duration_text(double seconds);

// Epoch seconds as ISO 8601 local time with the UTC offset: "2026-12-02T14:01:26+01:00".
std::string iso8601_local(int64_t epoch_seconds);

enum PrintableFlags : unsigned {
  kPrintableDefault = 0,
  kEscapeSpace = 1,  // spaces too (a field in a space-separated line, e.g. the request log)
  kAsciiOnly = 2,    // every byte outside printable ASCII, even valid UTF-8 text
};

// Text from outside (a file name, a class folder, a request path) made safe to print on a terminal:
// control characters (C0, DEL, and C1 written as UTF-8), bytes that are not valid UTF-8, and the
// backslash itself become \xHH, so a name cannot move the cursor, change colours, or forge a line,
// and the escaped text reads back unambiguously. Valid UTF-8 text (é, 猫) is kept unless kAsciiOnly.
std::string printable(std::string_view text, unsigned flags = kPrintableDefault);

// Columns `text` takes on a terminal: its UTF-8 code points (wide CJK characters count one).
size_t display_width(std::string_view text);

// `text` padded with spaces to `width` columns (display_width), on the right or on the left.
std::string pad_right(const std::string& text, size_t width);
std::string pad_left(const std::string& text, size_t width);

}  // namespace imagefit
