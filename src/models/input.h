#pragma once
// How pixels become network input. Torch-free so data code can include it.
#include <string>

namespace imagefit {

enum class Normalization {
  Unit,       // x / 255                         (Keras tutorial's rescale=1/255)
  Symmetric,  // x / 127.5 - 1                   (Keras MobileNet preprocess_input)
  ImageNet,   // (x / 255 - mean) / std          (torchvision)
  Caffe,      // BGR order, x - mean, no scaling (Caffe/OpenVINO SqueezeNet)
};

struct InputSpec {
  int default_size = 224;
  Normalization normalization = Normalization::ImageNet;
};

std::string to_string(Normalization n);
Normalization normalization_from_string(const std::string& s);  // throws Error

}  // namespace imagefit
