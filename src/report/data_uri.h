#pragma once
// Base64 and data: URIs, to embed pictures in a self-contained HTML page.
#include <string>
#include <vector>

namespace imagefit {

std::string base64_encode(const void* data, size_t size);
inline std::string base64_encode(const std::string& bytes) { return base64_encode(bytes.data(), bytes.size()); }
inline std::string base64_encode(const std::vector<unsigned char>& bytes) {
  return base64_encode(bytes.data(), bytes.size());
}

// "data:<mime>;base64,...."
std::string data_uri(const std::string& mime, const std::vector<unsigned char>& bytes);
std::string data_uri(const std::string& mime, const std::string& bytes);

}  // namespace imagefit
