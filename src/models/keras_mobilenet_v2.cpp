#include "models/keras_mobilenet_v2.h"

#include <sstream>

#include "core/error.h"
#include "models/keras_ops.h"

namespace imagefit {

namespace {

// keras.applications.mobilenet_v2's blocks: expansion t, filters c, repeats n, first stride s.
struct InvertedResidualSetting {
  int64_t expansion, filters, repeats, stride;
};
constexpr InvertedResidualSetting kInvertedResidualSetting[] = {
    {1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1},
};
constexpr double kBatchNormMomentum = 0.999;  // Keras's, for training in train mode

struct BlockPlan {
  std::string prefix;
  int64_t in, expanded, out, stride;
  bool expand, residual;
};
struct Plan {
  int64_t first = 0, last = 0;
  std::vector<BlockPlan> blocks;
};

// Channel counts exactly as keras.applications computes them for `alpha`.
Plan plan(double alpha) {
  if (!(alpha > 0)) {
    std::ostringstream s;
    s << "keras-mobilenet-v2: alpha must be positive (got " << alpha << ")";
    throw Error(s.str());
  }
  Plan p;
  p.first = keras::make_divisible(32 * alpha);
  int64_t in = p.first;
  int id = 0;
  for (const auto& s : kInvertedResidualSetting) {
    for (int64_t r = 0; r < s.repeats; ++r, ++id) {
      BlockPlan b;
      b.prefix = id == 0 ? "expanded_conv_" : "block_" + std::to_string(id) + "_";
      b.in = in;
      b.expand = id != 0;  // Keras's block 0 has no expansion layer
      b.expanded = b.expand ? s.expansion * in : in;
      b.out = keras::make_divisible(static_cast<double>(static_cast<int64_t>(s.filters * alpha)));  // int() first
      b.stride = r == 0 ? s.stride : 1;
      b.residual = b.stride == 1 && b.in == b.out;
      p.blocks.push_back(b);
      in = b.out;
    }
  }
  p.last = alpha > 1.0 ? keras::make_divisible(1280 * alpha) : 1280;
  return p;
}

}  // namespace

std::vector<std::pair<std::string, int64_t>> KerasMobileNetV2Impl::conv_widths(double alpha) {
  const Plan p = plan(alpha);
  std::vector<std::pair<std::string, int64_t>> out = {{"Conv1", p.first}};
  for (const auto& b : p.blocks) {
    if (b.expand) out.emplace_back(b.prefix + "expand", b.expanded);
    out.emplace_back(b.prefix + "depthwise", b.expanded);
    out.emplace_back(b.prefix + "project", b.out);
  }
  out.emplace_back("Conv_1", p.last);
  return out;
}

KerasMobileNetV2Impl::KerasMobileNetV2Impl(double alpha) : alpha_(alpha) {
  const Plan p = plan(alpha);
  last_channels_ = p.last;
  // Registration order follows the network (and Keras's weight order).
  conv1_ = register_module("Conv1", keras::conv(3, p.first, 3, 2, 0));
  bn1_ = register_module("bn_Conv1", keras::batch_norm(p.first, kBatchNormMomentum));
  for (const auto& bp : p.blocks) {
    Block b;
    b.prefix = bp.prefix;
    b.stride = bp.stride;
    b.residual = bp.residual;
    if (bp.expand) {
      b.expand = register_module(bp.prefix + "expand", keras::conv(bp.in, bp.expanded, 1, 1, 0));
      b.expand_bn = register_module(bp.prefix + "expand_BN", keras::batch_norm(bp.expanded, kBatchNormMomentum));
    }
    // Stride 1: "same" is symmetric, so the convolution pads; stride 2 pads explicitly in forward.
    const int64_t width = bp.expanded, padding = bp.stride == 1 ? 1 : 0;
    b.depthwise = register_module(bp.prefix + "depthwise", keras::conv(width, width, 3, bp.stride, padding, width));
    b.depthwise_bn = register_module(bp.prefix + "depthwise_BN", keras::batch_norm(bp.expanded, kBatchNormMomentum));
    b.project = register_module(bp.prefix + "project", keras::conv(bp.expanded, bp.out, 1, 1, 0));
    b.project_bn = register_module(bp.prefix + "project_BN", keras::batch_norm(bp.out, kBatchNormMomentum));
    blocks_.push_back(std::move(b));
  }
  const int64_t last_in = p.blocks.back().out;
  conv_last_ = register_module("Conv_1", keras::conv(last_in, p.last, 1, 1, 0));
  bn_last_ = register_module("Conv_1_bn", keras::batch_norm(p.last, kBatchNormMomentum));
}

torch::Tensor KerasMobileNetV2Impl::forward(torch::Tensor x) { return run_stages(std::move(x), 0, blocks_.size() + 3); }

torch::Tensor KerasMobileNetV2Impl::forward_traced(torch::Tensor x, Trace* trace) {
  for (size_t i = 0; i < blocks_.size() + 3; ++i) x = run_stage(std::move(x), i, trace);
  return x;
}

torch::Tensor KerasMobileNetV2Impl::run_stages(torch::Tensor x, size_t first, size_t last) {
  for (size_t i = first; i < last; ++i) x = run_stage(std::move(x), i, nullptr);
  return x;
}

// Stages as stages() names them: 0 "Conv1" (the stem convolution), 1 "bn_Conv1" (its BatchNorm and
// ReLU6), 2.. the inverted-residual blocks, last "Conv_1" (+ Conv_1_bn, out_relu).
torch::Tensor KerasMobileNetV2Impl::run_stage(torch::Tensor x, size_t stage, Trace* trace) {
  auto record = [trace](const std::string& name, const torch::Tensor& t) {
    if (trace) trace->emplace_back(name, t);
  };
  if (stage == 0) return conv1_->forward(keras::pad_same(x, 3, 2));
  if (stage == 1) {
    x = keras::relu6(bn1_->forward(x));
    record("Conv1_relu", x);
    return x;
  }
  if (stage == blocks_.size() + 2) {
    x = keras::relu6(bn_last_->forward(conv_last_->forward(x)));
    record("out_relu", x);
    return x;
  }
  auto& b = blocks_.at(stage - 2);
  torch::Tensor in = x;
  if (b.expand) x = keras::relu6(b.expand_bn->forward(b.expand->forward(x)));
  if (b.stride != 1) x = keras::pad_same(x, 3, b.stride);
  x = keras::relu6(b.depthwise_bn->forward(b.depthwise->forward(x)));
  x = b.project_bn->forward(b.project->forward(x));
  record(b.prefix + "project_BN", x);
  if (b.residual) {
    x = x + in;
    record(b.prefix + "add", x);
  }
  return x;
}

std::vector<std::string> KerasMobileNetV2Impl::stages() const {
  std::vector<std::string> s = {"Conv1", "bn_Conv1"};  // no common prefix: the stem is two stages
  for (const auto& b : blocks_) s.push_back(b.prefix);
  s.push_back("Conv_1");
  return s;
}

}  // namespace imagefit
