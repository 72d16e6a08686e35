#include "core/suggest.h"

#include <algorithm>
#include <cctype>

namespace imagefit {

namespace {
std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

size_t edit_distance(const std::string& a, const std::string& b) {
  // Optimal string alignment distance: Levenshtein plus adjacent transpositions ("--epcohs").
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i)
    for (size_t j = 1; j <= m; ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[n][m];
}

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  if (word.empty()) return "";
  const std::string w = lower(word);
  std::string best;
  size_t best_distance = std::string::npos;
  for (const auto& c : candidates) {
    const size_t dist = edit_distance(w, lower(c));
    if (dist < best_distance) best_distance = dist, best = c;
  }
  // Stripping a leading "--" keeps short option names from matching everything.
  const size_t dashes = std::min(w.size(), w.find_first_not_of('-'));
  const size_t core = w.size() - dashes;
  const size_t allowed = std::max<size_t>(1, core / 3);
  if (!best.empty() && best_distance > 0 && best_distance <= allowed) return best;
  // A unique prefix ("--aug" → "--augment") is also a likely meaning.
  std::string prefixed;
  int hits = 0;
  for (const auto& c : candidates)
    if (w.size() >= 3 && lower(c).rfind(w, 0) == 0) prefixed = c, ++hits;
  return hits == 1 ? prefixed : "";
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  const std::string m = closest_match(word, candidates);
  return m.empty() ? "" : " (did you mean " + m + "?)";
}

std::string join_choices(const std::vector<std::string>& choices, const std::string& last) {
  std::string out;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (i > 0) out += i + 1 == choices.size() ? last : ", ";
    out += choices[i];
  }
  return out;
}

}  // namespace imagefit
