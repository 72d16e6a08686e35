#pragma once
// ONNX (opset 13) export of an imagefit network: graph input `input` (N×3×S×S float), outputs
// `probabilities` (softmax) and/or `logits`. Weights are initializers named as in the model file
// (`backbone.layer1.0.conv1.weight`); class names, image size and normalization are metadata_props
// (`imagefit.classes` as JSON, ...). The graph is checked with ONNX's checker and shape inference
// before it is returned.
#include <string>

#include "export/export_options.h"
#include "weights/saved_model.h"

namespace imagefit {

// The serialized ModelProto. Error naming the architecture if it has no ONNX exporter.
std::string onnx_model_bytes(const NetworkSpec& spec, Classifier& network, const ExportOptions& options,
                             ExportSummary* summary = nullptr);

}  // namespace imagefit
