#include "models/keras_xception.h"

#include <limits>

#include "core/error.h"

namespace imagefit {

namespace {

constexpr double kBatchNormMomentum = 0.99;  // Keras's defaults
constexpr double kEpsilon = 1e-3;

// keras.applications.xception as a table: each block's convolutions (output widths), in the order
// Keras creates them; `residual`: the width of the 1×1/2 shortcut convolution (0: identity or none).
struct BlockPlan {
  std::vector<int64_t> widths;
  int64_t residual;
};

std::vector<BlockPlan> plan() {
  std::vector<BlockPlan> p = {{{32, 64}, 0}, {{128, 128}, 128}, {{256, 256}, 256}, {{728, 728}, 728}};
  for (int i = 0; i < 8; ++i) p.push_back({{728, 728, 728}, 0});  // blocks 5-12
  p.push_back({{728, 1024}, 1024});                                // block13
  p.push_back({{1536, 2048}, 0});                                  // block14
  return p;
}

std::string block_name(size_t b) { return "block" + std::to_string(b + 1); }

}  // namespace

std::vector<keras::LayerSpec> KerasXceptionImpl::keras_layers() {
  std::vector<keras::LayerSpec> out;
  int64_t c = 3;
  int residuals = 0;
  const auto p = plan();
  for (size_t b = 0; b < p.size(); ++b) {
    const std::string block = block_name(b);
    if (p[b].residual) {  // created before the block's separable convolutions
      const std::string n = std::to_string(++residuals);
      out.push_back({block + ".conv2d_" + n, "conv2d_" + n, "conv2d", {1, 1, c, p[b].residual}});
      out.push_back({block + ".batch_normalization_" + n, "batch_normalization_" + n, "batch_normalization",
                     {p[b].residual}});
    }
    for (size_t i = 0; i < p[b].widths.size(); ++i) {
      const int64_t w = p[b].widths[i];
      const std::string name = block + (b == 0 ? "_conv" : "_sepconv") + std::to_string(i + 1);
      keras::LayerSpec conv{block + "." + name, name, b == 0 ? "conv2d" : "separable_conv2d", {3, 3, c, w}};
      conv.automatic = false;
      keras::LayerSpec bn{block + "." + name + "_bn", name + "_bn", "batch_normalization", {w}};
      bn.automatic = false;
      out.push_back(conv);
      out.push_back(bn);
      c = w;
    }
  }
  return out;
}

KerasXceptionImpl::KerasXceptionImpl() {
  const auto p = plan();
  const auto specs = keras_layers();
  size_t next = 0;
  for (size_t b = 0; b < p.size(); ++b) {
    auto stage = register_module(block_name(b), std::make_shared<torch::nn::Module>());
    Block block;
    // Registration order = Keras's creation order (keras_layers), each BatchNorm after its convolution.
    for (; next < specs.size() && specs[next].module.rfind(block_name(b) + ".", 0) == 0; next += 2) {
      const auto& conv = specs[next];
      const auto& bn = specs[next + 1];
      const int64_t in = conv.shape[2], out = conv.shape[3];
      auto norm = keras::batch_norm(out, kBatchNormMomentum, kEpsilon);
      if (conv.automatic) {  // the residual 1×1/2 ("same" = no padding for a 1×1)
        block.residual = stage->register_module(conv.name, keras::conv(in, out, 1, 2, 0));
        block.residual_bn = stage->register_module(bn.name, norm);
      } else if (conv.kind == "conv2d") {  // block1: 3×3 "valid", the first with stride 2
        auto c = stage->register_module(conv.name, keras::conv(in, out, 3, block.units.empty() ? 2 : 1, 0));
        block.units.emplace_back(torch::nn::AnyModule(c), stage->register_module(bn.name, norm));
      } else {  // 3×3 "same" at stride 1
        auto c = stage->register_module(conv.name, keras::SeparableConv2d(in, out, 3, 1));
        block.units.emplace_back(torch::nn::AnyModule(c), stage->register_module(bn.name, norm));
      }
    }
    blocks_.push_back(std::move(block));
  }
}

torch::Tensor KerasXceptionImpl::forward(torch::Tensor x) { return run_stages(std::move(x), 0, blocks_.size()); }

torch::Tensor KerasXceptionImpl::run_stages(torch::Tensor x, size_t first, size_t last) {
  for (size_t b = first; b < last; ++b) x = run_block(std::move(x), b);
  return x;
}

torch::Tensor KerasXceptionImpl::run_block(torch::Tensor x, size_t b) {
  auto& block = blocks_.at(b);
  auto unit = [&](size_t i, const torch::Tensor& in) {
    return block.units[i].second->forward(block.units[i].first.forward(in));
  };
  const size_t n = block.units.size();
  if (b == 0) {
    if (x.size(2) < kMinSize || x.size(3) < kMinSize)
      throw Error("keras-xception needs an input of at least 71x71 pixels (got " + std::to_string(x.size(2)) + "x" +
                  std::to_string(x.size(3)) + "), as Keras's Xception");
    return torch::relu(unit(1, torch::relu(unit(0, x))));
  }
  if (b == blocks_.size() - 1)  // block14: separable convolutions with ReLU after each
    return torch::relu(unit(1, torch::relu(unit(0, x))));
  // Entry/exit flow: the ReLU before each separable convolution (block2's input is already
  // block1_conv2_act), then a 3×3/2 "same" max pool; the middle flow: identity residual.
  torch::Tensor y = x;
  for (size_t i = 0; i < n; ++i) y = unit(i, b == 1 && i == 0 ? y : torch::relu(y));
  if (!block.residual) return y + x;
  y = torch::max_pool2d(keras::pad_same(y, 3, 2, -std::numeric_limits<double>::infinity()), 3, 2);
  return y + block.residual_bn->forward(block.residual->forward(x));
}

std::vector<std::string> KerasXceptionImpl::stages() const {
  std::vector<std::string> s;
  for (size_t b = 0; b < blocks_.size(); ++b) s.push_back(block_name(b));
  return s;
}

}  // namespace imagefit
