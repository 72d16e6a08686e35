#pragma once
// What `imagefit export` writes: format, which outputs, whether the pixel normalization is part of
// the exported graph. Torch-free so the CLI can include it cheaply.
#include <string>
#include <vector>

namespace imagefit {

enum class ExportFormat { Onnx, TorchScript };

// The graph's outputs: `probabilities` (softmax over the classes), `logits`, or both (in that order).
enum class ExportOutputs { Probabilities, Logits, Both };

struct ExportOptions {
  ExportFormat format = ExportFormat::Onnx;
  ExportOutputs outputs = ExportOutputs::Probabilities;
  // false (default): the input is N×3×S×S float, already normalized as the model was trained
  // (what imagefit feeds its own network). true: the input is N×3×S×S float RGB in 0..255 and the
  // graph starts with the model's normalization (per-channel Mul and Add; BGR reorder for "caffe").
  bool include_normalization = false;
  // The probabilities are softmax(logits / temperature), as imagefit shows them (the model's
  // calibration; export_model sets it). The logits output stays the network's own.
  double temperature = 1.0;
};

ExportFormat export_format_from_string(const std::string& s);    // "onnx" / "torchscript", else Error
ExportOutputs export_outputs_from_string(const std::string& s);  // "probabilities" / "logits" / "both"
std::string to_string(ExportFormat f);
std::string to_string(ExportOutputs o);

// What was written, for the CLI to print.
struct ExportSummary {
  std::string path;
  std::string format;                    // "ONNX opset 13" / "TorchScript"
  std::string arch;                      // "keras-mobilenet-v2 alpha=0.35"
  std::vector<std::string> input_names;  // "input"
  std::vector<std::string> output_names;
  std::vector<long long> input_shape;    // -1 for the dynamic batch dimension
  std::string input_description;         // "N×3×224×224 float, normalized (symmetric: x/127.5 - 1)"
  long long bytes = 0;
  long long nodes = 0;                   // ONNX nodes (0 for TorchScript)
  long long parameters = 0;
  std::vector<std::string> classes;
  double temperature = 1.0;              // the probabilities are softmax(logits / temperature)
};

// Loads an imagefit model file and exports it to `out_path` (written atomically). Throws Error
// naming the file and the problem, or the architecture if it cannot be exported to that format.
ExportSummary export_model(const std::string& model_path, const std::string& out_path, const ExportOptions& options);

// Architectures `--format onnx` covers (registry names).
std::vector<std::string> onnx_exportable_architectures();

}  // namespace imagefit
