#include "models/input_tensor.h"

#include "core/error.h"

namespace imagefit {

std::string to_string(Normalization n) {
  switch (n) {
    case Normalization::Unit: return "unit";
    case Normalization::Symmetric: return "symmetric";
    case Normalization::ImageNet: return "imagenet";
    case Normalization::Caffe: return "caffe";
  }
  return "?";
}

Normalization normalization_from_string(const std::string& s) {
  if (s == "unit") return Normalization::Unit;
  if (s == "symmetric") return Normalization::Symmetric;
  if (s == "imagenet") return Normalization::ImageNet;
  if (s == "caffe") return Normalization::Caffe;
  throw Error("unknown normalization '" + s + "' (unit, symmetric, imagenet, caffe)");
}

std::string to_string(ResizeMode m) {
  switch (m) {
    case ResizeMode::Squash: return "squash";
    case ResizeMode::Crop: return "crop";
    case ResizeMode::CenterCrop: return "center-crop";
  }
  return "squash";
}

ResizeMode resize_mode_from_string(const std::string& s) {
  if (s == "squash") return ResizeMode::Squash;
  if (s == "crop") return ResizeMode::Crop;
  if (s == "center-crop") return ResizeMode::CenterCrop;
  throw Error("unknown resize mode '" + s + "' (squash, crop, center-crop)");
}

void image_into_tensor(const cv::Mat& rgb, Normalization norm, torch::Tensor& batch, int64_t index) {
  const int h = rgb.rows, w = rgb.cols;
  if (rgb.type() != CV_8UC3) throw Error("internal: image_into_tensor expects 8-bit RGB");
  if (batch.size(2) != h || batch.size(3) != w) throw Error("internal: image size differs from batch size");
  float scale[3], offset[3];  // out = pixel * scale + offset, per RGB channel
  static const float mean[3] = {0.485f, 0.456f, 0.406f}, stdv[3] = {0.229f, 0.224f, 0.225f};
  // keras.applications.imagenet_utils.preprocess_input "caffe": mean [103.939, 116.779, 123.68] (BGR).
  static const float caffe_mean_rgb[3] = {123.68f, 116.779f, 103.939f};
  int channel_of[3] = {0, 1, 2};  // source channel for output plane c
  for (int c = 0; c < 3; ++c) {
    switch (norm) {
      case Normalization::Unit: scale[c] = 1.f / 255.f; offset[c] = 0.f; break;
      case Normalization::Symmetric: scale[c] = 1.f / 127.5f; offset[c] = -1.f; break;
      case Normalization::ImageNet: scale[c] = 1.f / (255.f * stdv[c]); offset[c] = -mean[c] / stdv[c]; break;
      case Normalization::Caffe:
        channel_of[c] = 2 - c;  // BGR planes
        scale[c] = 1.f;
        offset[c] = -caffe_mean_rgb[2 - c];
        break;
    }
  }
  float* base = batch.data_ptr<float>() + index * 3 * h * w;
  for (int c = 0; c < 3; ++c) {
    float* plane = base + c * h * w;
    const int src = channel_of[c];
    for (int y = 0; y < h; ++y) {
      const uint8_t* row = rgb.ptr<uint8_t>(y);
      float* dst = plane + y * w;
      for (int x = 0; x < w; ++x) dst[x] = row[3 * x + src] * scale[c] + offset[c];
    }
  }
}

torch::Tensor images_to_tensor(const std::vector<cv::Mat>& rgb, Normalization norm) {
  if (rgb.empty()) throw Error("internal: no images");
  auto batch = torch::empty({int64_t(rgb.size()), 3, rgb[0].rows, rgb[0].cols}, torch::kFloat32);
  for (size_t i = 0; i < rgb.size(); ++i) image_into_tensor(rgb[i], norm, batch, int64_t(i));
  return batch;
}

}  // namespace imagefit
