// core/text: the one place counts, shares, times and untrusted names are formatted.
#include <gtest/gtest.h>

#include <cmath>
#include <ctime>
#include <regex>

#include "core/text.h"

using namespace imagefit;

TEST(Text, WithCommasGroupsThousands) {
  EXPECT_EQ(with_commas(0), "0");
  EXPECT_EQ(with_commas(999), "999");
  EXPECT_EQ(with_commas(1000), "1,000");
  EXPECT_EQ(with_commas(410208), "410,208");
  EXPECT_EQ(with_commas(1001546), "1,001,546");
  EXPECT_EQ(with_commas(-1234), "-1,234");
  EXPECT_EQ(with_commas(size_t(12345678)), "12,345,678");
  EXPECT_EQ(with_commas(-9223372036854775807LL - 1), "-9,223,372,036,854,775,808");
}

TEST(Text, PluralSaysOneThreadAndTwoThreads) {
  EXPECT_EQ(plural(1, "thread"), "1 thread");
  EXPECT_EQ(plural(2, "thread"), "2 threads");
  EXPECT_EQ(plural(0, "epoch"), "0 epochs");
  EXPECT_EQ(plural(1, "epoch"), "1 epoch");
  EXPECT_EQ(plural(1001546, "parameter"), "1,001,546 parameters");
  EXPECT_EQ(plural(1, "class", "classes"), "1 class");
  EXPECT_EQ(plural(3, "class", "classes"), "3 classes");
}

TEST(Text, PercentNeverRoundsUpToCertainty) {
  EXPECT_EQ(percent(0.1234), "12.3%");
  EXPECT_EQ(percent(0.5), "50.0%");
  EXPECT_EQ(percent(1.0), "100.0%");
  EXPECT_EQ(percent(0.0), "0.0%");
  EXPECT_EQ(percent(0.9998), "99.98%");  // not "100.0%" (nor 1.000)
  EXPECT_EQ(percent(0.99996), "99.996%");
  EXPECT_EQ(percent(double(0.99999994f)).rfind("99.99999", 0), 0u) << percent(double(0.99999994f));
  EXPECT_EQ(percent(0.9994), "99.9%");
  EXPECT_EQ(percent(0.25, 0), "25%");
  EXPECT_EQ(percent(std::nan("")), "n/a");
}

TEST(Text, DurationTextRoundsForAPerson) {
  EXPECT_EQ(duration_text(36.9735), "36.97 s");
  EXPECT_EQ(duration_text(0.4249), "0.42 s");
  EXPECT_EQ(duration_text(125.509), "2 min 6 s");
  EXPECT_EQ(duration_text(3780), "1 h 3 min");
  EXPECT_EQ(duration_text(-1), "n/a");
}

TEST(Text, Iso8601LocalTimeWithOffset) {
  const std::string s = iso8601_local(1796173897);
  ASSERT_TRUE(std::regex_match(s, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d)"))) << s;
  std::time_t t = 1796173897;
  std::tm tm{};
  localtime_r(&t, &tm);
  char want[32];
  std::strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S", &tm);
  EXPECT_EQ(s.substr(0, 19), want);
  EXPECT_EQ(s.substr(0, 4), "2026");
}

TEST(Text, PrintableEscapesWhatCouldDriveATerminal) {
  EXPECT_EQ(printable("photos/IMG_5994.JPG"), "photos/IMG_5994.JPG");
  EXPECT_EQ(printable("my photo.jpg"), "my photo.jpg");
  EXPECT_EQ(printable("evil\x1b[31mred.jpg"), "evil\\x1b[31mred.jpg");
  EXPECT_EQ(printable("a\nb\rc\td\x7f"), "a\\x0ab\\x0dc\\x09d\\x7f");
  EXPECT_EQ(printable(std::string("nul\0x", 5)), "nul\\x00x");
  EXPECT_EQ(printable("back\\slash"), "back\\x5cslash");  // unambiguous: \x1b in a name reads back as itself
  // Valid UTF-8 is text; C1 controls (U+009B is a CSI) and invalid bytes are not.
  EXPECT_EQ(printable("caf\xc3\xa9 \xe7\x8c\xab.png"), "caf\xc3\xa9 \xe7\x8c\xab.png");
  EXPECT_EQ(printable("csi\xc2\x9b" "31m"), "csi\\xc2\\x9b31m");
  EXPECT_EQ(printable("latin1-\xe9.png"), "latin1-\\xe9.png");
  EXPECT_EQ(printable("cut\xe7\x8c"), "cut\\xe7\\x8c");
  EXPECT_EQ(printable("overlong\xc0\xaf"), "overlong\\xc0\\xaf");
  EXPECT_EQ(printable("surrogate\xed\xa0\x80"), "surrogate\\xed\\xa0\\x80");
  // The request log's escaping: spaces and every non-ASCII byte too.
  EXPECT_EQ(printable("GET /a b\xc3\xa9", kEscapeSpace | kAsciiOnly), "GET\\x20/a\\x20b\\xc3\\xa9");
}

TEST(Text, PaddingCountsCharactersNotBytes) {
  EXPECT_EQ(display_width("caf\xc3\xa9"), 4u);
  EXPECT_EQ(pad_right("caf\xc3\xa9", 6), "caf\xc3\xa9  ");
  EXPECT_EQ(pad_left("7", 3), "  7");
  EXPECT_EQ(pad_left("longer", 3), "longer");
}
