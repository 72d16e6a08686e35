#pragma once
// TorchScript export of an imagefit network, by tracing its forward() with LibTorch's JIT tracer.
// The file loads with torch::jit::load (C++) or torch.jit.load (Python); its `forward(input)`
// returns the probabilities, the logits, or the tuple (probabilities, logits). Parameters keep
// their names (`backbone.layer1.0.conv1.weight`); `imagefit.json` in the archive's extra files
// holds the network description (classes, image size, normalization). Traced at the model's
// image size: shape-dependent padding (Keras "same") is fixed for S×S inputs.
#include <ostream>

#include "export/export_options.h"
#include "weights/saved_model.h"

namespace imagefit {

void write_torchscript(const NetworkSpec& spec, Classifier& network, const ExportOptions& options, std::ostream& out,
                       ExportSummary* summary = nullptr);

}  // namespace imagefit
