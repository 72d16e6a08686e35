#pragma once
// "Did you mean": the closest of a few known words to a mistyped one (options, subcommands,
// augmentation keys, enum values). Torch-free.
#include <string>
#include <vector>

namespace imagefit {

// Levenshtein distance (insertions, deletions, substitutions; an adjacent swap counts as one).
size_t edit_distance(const std::string& a, const std::string& b);

// The candidate closest to `word` if it is close enough to be a typo (distance ≤ max(1, a third of the
// word's length), or `word` is a prefix of exactly one candidate); "" otherwise.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

// " (did you mean X?)" or "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

// "a, b or c".
std::string join_choices(const std::vector<std::string>& choices, const std::string& last = " or ");

}  // namespace imagefit
