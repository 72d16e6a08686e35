#include "export/input_normalization.h"

namespace imagefit {

// Same numbers, same float arithmetic as image_into_tensor (models/input_tensor.cpp); the export
// tests compare a graph with the normalization inside against imagefit's own preprocessing.
ChannelNormalization channel_normalization(Normalization n) {
  static const float mean[3] = {0.485f, 0.456f, 0.406f}, stdv[3] = {0.229f, 0.224f, 0.225f};
  // keras.applications.imagenet_utils.preprocess_input "caffe": mean [103.939, 116.779, 123.68] (BGR).
  static const float caffe_mean_rgb[3] = {123.68f, 116.779f, 103.939f};
  ChannelNormalization out;
  for (int c = 0; c < 3; ++c) {
    switch (n) {
      case Normalization::Unit: out.scale[c] = 1.f / 255.f; out.offset[c] = 0.f; break;
      case Normalization::Symmetric: out.scale[c] = 1.f / 127.5f; out.offset[c] = -1.f; break;
      case Normalization::ImageNet:
        out.scale[c] = 1.f / (255.f * stdv[c]);
        out.offset[c] = -mean[c] / stdv[c];
        break;
      case Normalization::Caffe:
        out.bgr = true;
        out.scale[c] = 1.f;
        out.offset[c] = -caffe_mean_rgb[2 - c];
        break;
    }
  }
  return out;
}

std::string normalization_formula(Normalization n) {
  switch (n) {
    case Normalization::Unit: return "x/255";
    case Normalization::Symmetric: return "x/127.5 - 1";
    case Normalization::ImageNet: return "(x/255 - mean) / std, ImageNet mean and std";
    case Normalization::Caffe: return "BGR order, x - [103.939, 116.779, 123.68]";
  }
  return "?";
}

}  // namespace imagefit
