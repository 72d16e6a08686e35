// ONNX export of simple-cnn (models/simple_cnn.cpp): conv(ReLU) ×5 with 2×2 max pools between.
#include "core/error.h"
#include "export/onnx_architectures.h"

namespace imagefit::onnx_export {

OnnxValue export_simple_cnn(ModuleConverter& c, const OnnxValue& input, const std::string& prefix) {
  std::vector<std::string> convs;
  for (int i = 1; c.has(prefix + ".conv" + std::to_string(i)); ++i)
    convs.push_back(prefix + ".conv" + std::to_string(i));
  if (convs.empty()) throw Error("ONNX export: simple-cnn network without convolutions");
  OnnxValue x = input;
  for (size_t i = 0; i < convs.size(); ++i) {
    x = c.builder().relu(c.conv2d(x, convs[i]), convs[i] + ".relu");
    // SimpleCnnImpl: a pool after every convolution but the last, skipped on a single pixel.
    if (i + 1 < convs.size() && x.height() >= 2) {
      PoolParams pool;
      pool.kernel_h = pool.kernel_w = pool.stride_h = pool.stride_w = 2;
      x = c.builder().max_pool(x, convs[i] + ".pool", pool);
    }
  }
  return x;
}

}  // namespace imagefit::onnx_export
