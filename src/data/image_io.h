#pragma once
// Decoding image files to 8-bit RGB with OpenCV: grayscale, alpha and 16-bit images are
// converted and EXIF orientation is applied. Errors name the file and the problem.
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace imagefit {

// Extensions imagefit treats as images (lower case, with the dot).
const std::vector<std::string>& image_extensions();
bool has_image_extension(const std::string& path);

// Reads and decodes a file to CV_8UC3 RGB. Throws ImageError naming the path and the problem.
cv::Mat read_image_rgb(const std::string& path);
// Decodes an in-memory encoded image (upload, etc.); `name` is used in error messages.
cv::Mat decode_image_rgb(const std::vector<unsigned char>& bytes, const std::string& name);

// Converts a decoded OpenCV image (any depth, 1/3/4 channels, BGR order) to 8-bit RGB.
cv::Mat to_rgb8(const cv::Mat& decoded_bgr, const std::string& name);

}  // namespace imagefit
