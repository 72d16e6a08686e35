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

// How a decoded image becomes the network's size×size input: the same for training, evaluation and
// prediction (the model file records it).
enum class ResizeMode {
  Squash,      // the whole image, aspect ratio not kept (Keras flow_from_directory; the default)
  Crop,        // the largest centered square, then resized (Keras crop_to_aspect_ratio=True)
  CenterCrop,  // shorter side to size/0.875 (256 for 224), the central size×size (torchvision evaluation)
};

struct InputSpec {
  int default_size = 224;
  Normalization normalization = Normalization::ImageNet;
};

std::string to_string(Normalization n);
Normalization normalization_from_string(const std::string& s);  // throws Error
std::string to_string(ResizeMode m);
ResizeMode resize_mode_from_string(const std::string& s);  // throws Error naming the choices

}  // namespace imagefit
