#include "models/keras_inception_v3.h"

#include "core/error.h"

namespace imagefit {

namespace {

// keras.applications.inception_v3, as a table: each stage is a block kind and its conv2d_bn units
// in the order the Keras code creates them (which is the order of Keras's automatic layer names).
enum Kind { Stem, BlockA, BlockB, BlockC, BlockD, BlockE };

struct UnitPlan {
  int64_t in, out, kh, kw, stride;
  bool same;  // padding="same" (all stride 1 here, so symmetric); else "valid"
};
struct StagePlan {
  std::string name;
  Kind kind;
  std::vector<UnitPlan> units;
};

constexpr double kBatchNormMomentum = 0.99;  // Keras's default

std::vector<StagePlan> plan() {
  auto u = [](int64_t in, int64_t out, int64_t kh, int64_t kw, int64_t stride = 1, bool same = true) {
    return UnitPlan{in, out, kh, kw, stride, same};
  };
  std::vector<StagePlan> p;
  p.push_back({"stem", Stem,
               {u(3, 32, 3, 3, 2, false), u(32, 32, 3, 3, 1, false), u(32, 64, 3, 3), u(64, 80, 1, 1, 1, false),
                u(80, 192, 3, 3, 1, false)}});
  int64_t c = 192;
  int mixed = 0;
  auto name = [&] { return "mixed" + std::to_string(mixed++); };
  // mixed0-2 (35×35 at 299): 1×1 | 1×1→5×5 | 1×1→3×3→3×3 | avg-pool→1×1 (pool_features)
  for (int64_t pool_features : {32, 64, 64}) {
    p.push_back({name(), BlockA,
                 {u(c, 64, 1, 1), u(c, 48, 1, 1), u(48, 64, 5, 5), u(c, 64, 1, 1), u(64, 96, 3, 3), u(96, 96, 3, 3),
                  u(c, pool_features, 1, 1)}});
    c = 64 + 64 + 96 + pool_features;
  }
  // mixed3 (to 17×17): 3×3/2 | 1×1→3×3→3×3/2 | max-pool/2
  p.push_back({name(), BlockB, {u(c, 384, 3, 3, 2, false), u(c, 64, 1, 1), u(64, 96, 3, 3), u(96, 96, 3, 3, 2, false)}});
  c = 384 + 96 + c;
  // mixed4-7: 1×1 | 1×1→1×7→7×1 | 1×1→7×1→1×7→7×1→1×7 | avg-pool→1×1, with c7 channels inside
  for (int64_t c7 : {128, 160, 160, 192}) {
    p.push_back({name(), BlockC,
                 {u(c, 192, 1, 1), u(c, c7, 1, 1), u(c7, c7, 1, 7), u(c7, 192, 7, 1), u(c, c7, 1, 1), u(c7, c7, 7, 1),
                  u(c7, c7, 1, 7), u(c7, c7, 7, 1), u(c7, 192, 1, 7), u(c, 192, 1, 1)}});
    c = 4 * 192;
  }
  // mixed8 (to 8×8): 1×1→3×3/2 | 1×1→1×7→7×1→3×3/2 | max-pool/2
  p.push_back({name(), BlockD,
               {u(c, 192, 1, 1), u(192, 320, 3, 3, 2, false), u(c, 192, 1, 1), u(192, 192, 1, 7), u(192, 192, 7, 1),
                u(192, 192, 3, 3, 2, false)}});
  c = 320 + 192 + c;
  // mixed9-10: 1×1 | 1×1→(1×3, 3×1) | 1×1→3×3→(1×3, 3×1) | avg-pool→1×1
  for (int i = 0; i < 2; ++i) {
    p.push_back({name(), BlockE,
                 {u(c, 320, 1, 1), u(c, 384, 1, 1), u(384, 384, 1, 3), u(384, 384, 3, 1), u(c, 448, 1, 1),
                  u(448, 384, 3, 3), u(384, 384, 1, 3), u(384, 384, 3, 1), u(c, 192, 1, 1)}});
    c = 320 + 2 * 384 + 2 * 384 + 192;
  }
  return p;
}

torch::nn::Conv2d conv_of(const UnitPlan& u) {
  const int64_t ph = u.same ? (u.kh - 1) / 2 : 0, pw = u.same ? (u.kw - 1) / 2 : 0;
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(u.in, u.out, {u.kh, u.kw})
                               .stride(u.stride)
                               .padding(torch::ExpandingArray<2>({ph, pw}))
                               .bias(false));
}

// Keras MaxPooling2D((3, 3), strides=(2, 2)) ("valid").
torch::Tensor max_pool(const torch::Tensor& x) { return torch::max_pool2d(x, 3, 2); }
// Keras AveragePooling2D((3, 3), strides=(1, 1), padding="same"): TensorFlow averages only the
// pixels inside the image.
torch::Tensor avg_pool_same(const torch::Tensor& x) {
  return torch::avg_pool2d(x, 3, 1, 1, /*ceil_mode=*/false, /*count_include_pad=*/false);
}

}  // namespace

torch::Tensor KerasInceptionV3Impl::Unit::operator()(const torch::Tensor& x) {
  return torch::relu(bn->forward(conv->forward(x)));
}

std::vector<keras::LayerSpec> KerasInceptionV3Impl::keras_layers() {
  std::vector<keras::LayerSpec> out;
  int id = 1;
  for (const auto& s : plan()) {
    for (const auto& u : s.units) {
      const std::string n = std::to_string(id++);
      out.push_back({s.name + ".conv2d_" + n, "conv2d_" + n, "conv2d", {u.kh, u.kw, u.in, u.out}, true});
      out.push_back({s.name + ".batch_normalization_" + n, "batch_normalization_" + n, "batch_normalization",
                     {u.out}, false});
    }
  }
  return out;
}

KerasInceptionV3Impl::KerasInceptionV3Impl() {
  int id = 1;
  for (const auto& s : plan()) {
    // Registration order = Keras's creation order, each BatchNorm right after its convolution.
    auto stage = register_module(s.name, std::make_shared<torch::nn::Module>());
    std::vector<Unit> units;
    for (const auto& u : s.units) {
      const std::string n = std::to_string(id++);
      Unit unit;
      unit.conv = stage->register_module("conv2d_" + n, conv_of(u));
      unit.bn = stage->register_module("batch_normalization_" + n,
                                       keras::batch_norm_without_scale(u.out, kBatchNormMomentum));
      units.push_back(unit);
    }
    units_.push_back(std::move(units));
    kinds_.push_back(s.kind);
  }
}

torch::Tensor KerasInceptionV3Impl::forward(torch::Tensor x) { return run_stages(std::move(x), 0, units_.size()); }

torch::Tensor KerasInceptionV3Impl::run_stages(torch::Tensor x, size_t first, size_t last) {
  for (size_t i = first; i < last; ++i) x = run_stage(std::move(x), i);
  return x;
}

torch::Tensor KerasInceptionV3Impl::run_stage(torch::Tensor x, size_t stage) {
  auto& u = units_.at(stage);
  switch (kinds_.at(stage)) {
    case Stem:
      if (x.size(2) < kMinSize || x.size(3) < kMinSize)
        throw Error("keras-inception-v3 needs an input of at least 75x75 pixels (got " + std::to_string(x.size(2)) +
                    "x" + std::to_string(x.size(3)) + "), as Keras's InceptionV3");
      x = max_pool(u[2](u[1](u[0](x))));
      return max_pool(u[4](u[3](x)));
    case BlockA:
      return torch::cat({u[0](x), u[2](u[1](x)), u[5](u[4](u[3](x))), u[6](avg_pool_same(x))}, 1);
    case BlockB:
      return torch::cat({u[0](x), u[3](u[2](u[1](x))), max_pool(x)}, 1);
    case BlockC:
      return torch::cat({u[0](x), u[3](u[2](u[1](x))), u[8](u[7](u[6](u[5](u[4](x))))), u[9](avg_pool_same(x))}, 1);
    case BlockD:
      return torch::cat({u[1](u[0](x)), u[5](u[4](u[3](u[2](x)))), max_pool(x)}, 1);
    case BlockE: {
      const auto b3 = u[1](x);
      const auto b3dbl = u[5](u[4](x));
      return torch::cat({u[0](x), u[2](b3), u[3](b3), u[6](b3dbl), u[7](b3dbl), u[8](avg_pool_same(x))}, 1);
    }
  }
  return x;
}

std::vector<std::string> KerasInceptionV3Impl::stages() const {
  std::vector<std::string> s = {"stem"};
  for (size_t i = 1; i < units_.size(); ++i) s.push_back("mixed" + std::to_string(i - 1));
  return s;
}

}  // namespace imagefit
