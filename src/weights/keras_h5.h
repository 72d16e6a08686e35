#pragma once
// Keras HDF5 weights (.h5): finds a known backbone's layers wherever they are nested, converts
// HWIO kernels to PyTorch's OIHW, and loads them into the Keras-layout model.
//
// Known backbones: keras.applications MobileNetV2 (keras-mobilenet-v2) and MobileNet V1
// (keras-mobilenet-v1), any width multiplier, matched by their layer names; InceptionV3
// (keras-inception-v3), whose layers Keras names automatically (conv2d_N, batch_normalization_N),
// recognised by its layers' count and matched to the model by name where the names fit (the
// 2016-2018 files) and else by order (newer files start at conv2d, conv2d_1, ...; Keras itself loads
// these files by order); ResNet50 (keras-resnet50), VGG16/VGG19 (keras-vgg16, keras-vgg19) and
// Xception (keras-xception), matched by their explicit layer names (Xception's four residual
// convolutions and BatchNorms are automatically named, matched as InceptionV3's), a file of a deeper
// variant of the family (ResNet101, VGG19 for VGG16) refused; the full-top files' classifier layers
// are left out. `arch_hint` is "" (take what the file holds), an architecture name
// ("keras-mobilenet-v2"), or a name with a width ("keras-mobilenet-v2:alpha=0.35").
#include <string>

#include "weights/pretrained.h"
#include "weights/state_dict.h"

namespace imagefit {

// The backbone weights a Keras .h5 file holds, under the Keras-layout model's parameter names.
struct KerasBackboneWeights {
  std::string arch;    // "keras-mobilenet-v2" or "keras-mobilenet-v1", from the layer names
  double alpha = 1.0;  // recognised from the convolution widths
  StateDict weights;   // "Conv1.weight" (OIHW), "bn_Conv1.running_var", ...; other layers (a dense head) left out
  int64_t parameters = 0;  // the file's values used, as Keras counts them (no gamma where BatchNorm has scale=False)
  std::string matched_by;  // "name" or "order" for automatically named layers (InceptionV3), else ""
};

// Reads the backbone's layers without building a model: found under `model_weights/` of a
// saved model (at any depth, e.g. model_weights/sequential_9/Conv1/kernel:0) or at the top level
// of a weights-only file (conv1/conv1/kernel:0). Throws Error naming the file when it is not HDF5,
// is truncated, or holds no known backbone. If the file holds layers of both architectures,
// `arch_hint` chooses.
KerasBackboneWeights read_keras_backbone(const std::string& path, const std::string& arch_hint = "");

// read_keras_backbone, then builds the model and loads it strictly (every parameter and buffer
// filled, shapes equal); the backbone is returned in eval mode. An `arch_hint` that disagrees
// with the file (architecture or width) is an Error.
Pretrained load_keras_backbone(const std::string& path, const std::string& arch_hint);

}  // namespace imagefit
