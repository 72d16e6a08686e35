#pragma once
// A small builder of ONNX (opset 13) graphs from LibTorch tensors: one method an ONNX operator,
// each returning the new value with its static shape, so exporters can mirror a forward() and
// compute shape-dependent things (Keras "same" padding) as the network does.
#include <torch/torch.h>

#include <onnx/onnx_pb.h>  // with ONNX_ML=1 (set by the onnx target): the onnx-ml.pb.h messages

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace imagefit::onnx_export {

constexpr int64_t kOpset = 13;

// A value of the graph: its ONNX name and static shape (the batch dimension is -1).
struct OnnxValue {
  std::string name;
  std::vector<int64_t> shape;
  int64_t channels() const { return shape.at(1); }
  int64_t height() const { return shape.at(2); }
  int64_t width() const { return shape.at(3); }
};

// Spatial padding in pixels; ONNX orders it [top, left, bottom, right].
struct Pads {
  int64_t top = 0, left = 0, bottom = 0, right = 0;
  Pads operator+(const Pads& o) const { return {top + o.top, left + o.left, bottom + o.bottom, right + o.right}; }
  bool zero() const { return top == 0 && left == 0 && bottom == 0 && right == 0; }
};

struct Conv2dParams {
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1, groups = 1;
  Pads pads;
};

struct PoolParams {
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1;
  Pads pads;
  bool ceil_mode = false;
};

class OnnxGraphBuilder {
 public:
  explicit OnnxGraphBuilder(const std::string& graph_name);

  // Graph input of float32 with `shape`, dimension 0 symbolic ("N").
  OnnxValue add_input(const std::string& name, const std::vector<int64_t>& shape);
  // Makes `value` a graph output called `name` (renaming the value everywhere it is used).
  OnnxValue add_output(const OnnxValue& value, const std::string& name);
  // A float32 constant (copied); `name` is made unique. Returns its value name.
  std::string add_initializer(const std::string& name, const torch::Tensor& tensor);
  std::string add_int64_initializer(const std::string& name, const std::vector<int64_t>& values);

  // Operators. `name` names the node (and its output): pass the module path it comes from.
  OnnxValue conv(const OnnxValue& x, const std::string& name, const torch::Tensor& weight, const torch::Tensor& bias,
                 const Conv2dParams& p);
  OnnxValue batch_norm(const OnnxValue& x, const std::string& name, const torch::Tensor& scale,
                       const torch::Tensor& bias, const torch::Tensor& mean, const torch::Tensor& var, double epsilon);
  OnnxValue gemm(const OnnxValue& x, const std::string& name, const torch::Tensor& weight, const torch::Tensor& bias);
  OnnxValue relu(const OnnxValue& x, const std::string& name);
  // min(max(x, lo), hi), built from HardSigmoid (see the .cpp for why not Clip).
  OnnxValue clip(const OnnxValue& x, const std::string& name, float lo, float hi);
  OnnxValue sigmoid(const OnnxValue& x, const std::string& name);
  OnnxValue hard_sigmoid(const OnnxValue& x, const std::string& name, float alpha, float beta);
  OnnxValue max_pool(const OnnxValue& x, const std::string& name, const PoolParams& p);
  OnnxValue average_pool(const OnnxValue& x, const std::string& name, const PoolParams& p, bool count_include_pad);
  // Nearest-neighbour upscaling by integer factors to height×width (a 1×1 map: replication).
  OnnxValue resize_nearest(const OnnxValue& x, const std::string& name, int64_t height, int64_t width);
  OnnxValue global_average_pool(const OnnxValue& x, const std::string& name);
  OnnxValue flatten(const OnnxValue& x, const std::string& name);
  OnnxValue softmax(const OnnxValue& x, const std::string& name);
  // Elementwise with numpy broadcasting (shapes must agree or be 1).
  OnnxValue add(const OnnxValue& a, const OnnxValue& b, const std::string& name);
  OnnxValue mul(const OnnxValue& a, const OnnxValue& b, const std::string& name);
  // x * c or x + c with a constant tensor broadcast against x: a scalar, or C×1×1 per channel
  // (OpenCV 4.6 refuses to add a 1×C×1×1 constant).
  OnnxValue mul_constant(const OnnxValue& x, const std::string& name, const torch::Tensor& c);
  OnnxValue add_constant(const OnnxValue& x, const std::string& name, const torch::Tensor& c);
  OnnxValue concat(const std::vector<OnnxValue>& xs, const std::string& name, int64_t axis);
  // Splits along `axis` into equal parts.
  std::vector<OnnxValue> split(const OnnxValue& x, const std::string& name, int64_t axis, int64_t parts);

  int64_t node_count() const { return graph_->node_size(); }
  onnx::ModelProto& model() { return model_; }

 private:
  std::string unique(const std::string& hint);
  onnx::NodeProto* node(const std::string& op, const std::string& name, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs);
  OnnxValue unary(const std::string& op, const OnnxValue& x, const std::string& name);
  OnnxValue broadcast(const std::string& op, const OnnxValue& a, const OnnxValue& b, const std::string& name);

  onnx::ModelProto model_;
  onnx::GraphProto* graph_;
  std::set<std::string> names_;
};

// Spatial output size of a convolution / pooling window (PyTorch's formula; for ceil_mode also
// PyTorch's rule that the last window starts inside the input or its left padding).
int64_t window_output_size(int64_t in, int64_t pad_begin, int64_t pad_end, int64_t kernel, int64_t stride,
                           int64_t dilation, bool ceil_mode);

// Helpers for node attributes.
void set_attribute(onnx::NodeProto* n, const std::string& name, int64_t value);
void set_attribute(onnx::NodeProto* n, const std::string& name, float value);
void set_attribute(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& values);

}  // namespace imagefit::onnx_export
