#pragma once
// Decoding image files to 8-bit RGB with OpenCV: grayscale, alpha and 16-bit images are
// converted and EXIF orientation is applied. Errors name the file and the problem.
//
// Decompression bombs: before any decoding, the image's width and height are read from its header
// (JPEG, PNG, BMP, WebP, TIFF, PNM, GIF; any other format is refused) and an image over the pixel
// limit is an ImageTooLargeError, so a small file that would decode to gigabytes is refused without
// allocating its pixels.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "core/error.h"

namespace imagefit {

// The default pixel limit: PIL's Image.MAX_IMAGE_PIXELS (89,478,485 = 2^30 / 4 / 3, about 89.5 MP).
// Every image a Keras or PyTorch notebook opens without a DecompressionBombWarning opens here too:
// phone photos (12-50 MP), 61 MP full-frame and 45-60 MP drone shots; 100 MP medium-format files and
// 200 MP phone modes need a higher limit. At the limit a decode takes about 0.5 GB (8-bit RGB).
constexpr uint64_t kDefaultMaxImagePixels = 89'478'485;

// The limit in pixels (width × height); 0 means none. Starts as $IMAGEFIT_MAX_IMAGE_PIXELS when set
// (a whole number; anything else is an Error at the first decode), else kDefaultMaxImagePixels.
// Thread-safe; the CLI sets it from --max-image-pixels.
uint64_t max_image_pixels();
void set_max_image_pixels(uint64_t pixels);

// An image over the pixel limit (the message names the file, its size and the limit).
class ImageTooLargeError : public Error {
 public:
  explicit ImageTooLargeError(const std::string& message) : Error(message) {}
};

// What an encoded image's header says, read without decoding it.
struct ImageHeader {
  std::string format;        // "JPEG", "PNG", "BMP", "WebP", "TIFF", "PNM", "GIF"
  uint64_t width = 0, height = 0;
  int channels = 3;          // samples a pixel as stored (before the conversion to RGB)
  int bytes_per_sample = 1;  // 2 for 16-bit PNG / TIFF / PNM
  bool progressive = false;  // progressive JPEG: the decoder keeps every DCT coefficient
  uint64_t pixels() const { return width * height; }
};

// Reads the header of an encoded image. Throws Error naming `name` when the bytes are not one of the
// formats above or the header is cut off or gives a zero size.
ImageHeader read_image_header(const unsigned char* data, size_t size, const std::string& name);
// Throws ImageTooLargeError when the header's size is over max_image_pixels().
void check_image_pixels(const ImageHeader& header, const std::string& name);
// About how many bytes decoding this image to RGB takes at its peak (decoder output, 8-bit
// conversion, RGB copy, progressive JPEG coefficients): what `serve` budgets concurrent decodes with.
uint64_t decode_memory_bytes(const ImageHeader& header);

// Extensions imagefit treats as images (lower case, with the dot).
const std::vector<std::string>& image_extensions();
bool has_image_extension(const std::string& path);

// Reads and decodes a file to CV_8UC3 RGB. Throws ImageError naming the path and the problem.
cv::Mat read_image_rgb(const std::string& path);
// Decodes an in-memory encoded image (upload, etc.); `name` is used in error messages.
// Both check the header and the pixel limit first.
cv::Mat decode_image_rgb(const std::vector<unsigned char>& bytes, const std::string& name);
cv::Mat decode_image_rgb(const unsigned char* data, size_t size, const std::string& name);

// Converts a decoded OpenCV image (any depth, 1/3/4 channels, BGR order) to 8-bit RGB.
cv::Mat to_rgb8(const cv::Mat& decoded_bgr, const std::string& name);

}  // namespace imagefit
