#pragma once
// The pixel normalization of models/input_tensor.cpp as per-channel constants, for exported graphs
// that take 0..255 RGB (`--include-normalization`): out[c] = in[source[c]] * scale[c] + offset[c].
#include <array>
#include <string>

#include "models/input.h"

namespace imagefit {

struct ChannelNormalization {
  std::array<float, 3> scale{}, offset{};
  bool bgr = false;  // output plane c comes from input channel 2 - c (Caffe)
};

ChannelNormalization channel_normalization(Normalization n);
// "x/127.5 - 1", for messages and metadata.
std::string normalization_formula(Normalization n);

}  // namespace imagefit
