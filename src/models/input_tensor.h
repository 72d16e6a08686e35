#pragma once
// Converts decoded images (RGB uint8 cv::Mat, all the same size) to a normalized N×3×H×W tensor.
#include <torch/torch.h>

#include <opencv2/core.hpp>
#include <vector>

#include "models/input.h"

namespace imagefit {

torch::Tensor images_to_tensor(const std::vector<cv::Mat>& rgb, Normalization norm);
// One image into row `index` of a preallocated N×3×H×W float tensor (thread-safe for distinct rows).
void image_into_tensor(const cv::Mat& rgb, Normalization norm, torch::Tensor& batch, int64_t index);

}  // namespace imagefit
