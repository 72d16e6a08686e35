#pragma once
// Helpers for tests/data: build small folder trees of (fake or real) image files.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace imagefit::test {

inline void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// root/<class>/img_NNN<ext> for each (class, count). The contents are unique text, not decodable
// images: scanning and splitting never decode.
inline void make_class_folders(const std::filesystem::path& root,
                               const std::vector<std::pair<std::string, int>>& classes,
                               const std::string& ext = ".png") {
  for (const auto& [name, count] : classes) {
    std::filesystem::create_directories(root / name);
    for (int i = 0; i < count; ++i) {
      char file[32];
      std::snprintf(file, sizeof file, "img_%03d", i);
      write_bytes(root / name / (file + ext), "fake image " + name + "/" + std::to_string(i));
    }
  }
}

// Regular files (or links to them) directly in `dir`, by file name, sorted; empty if `dir` is missing.
inline std::vector<std::string> file_names(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace imagefit::test
