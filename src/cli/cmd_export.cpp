// imagefit export MODEL --format onnx|torchscript -o FILE
#include <cstdio>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/fs.h"
#include "core/error.h"
#include "core/text.h"
#include "export/export_options.h"

namespace imagefit::cli {

void add_export_command(CLI::App& app) {
  struct Opts {
    std::string model, output, format = "onnx", outputs = "probabilities";
    bool include_normalization = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("export", "Write a model as ONNX (opset 13) or TorchScript, for other runtimes.");
  std::string covered;
  for (const auto& a : onnx_exportable_architectures()) covered += (covered.empty() ? "" : ", ") + a;
  cmd->footer(
      "The exported graph takes `input`: N x 3 x S x S float (S = the model's image size, RGB planes).\n"
      "By default the input is already normalized as the model was trained (see `imagefit info`);\n"
      "with --include-normalization the graph starts with that normalization and takes RGB 0..255.\n"
      "Images must be resized to S x S first, as `imagefit predict` does.\n"
      "ONNX covers: " + covered + ".\n"
      "Examples:\n  imagefit export model.imagefit --format onnx -o model.onnx\n"
      "  imagefit export model.imagefit --format torchscript -o model.pt --include-normalization");
  cmd->add_option("model", o->model, "Model file")->required()->check(existing_file());
  cmd->add_option("-o,--output", o->output, "File to write (atomically)")->required();
  cmd->add_option("-f,--format", o->format, "onnx | torchscript")
      ->check(one_of({"onnx", "torchscript"}))
      ->capture_default_str();
  cmd->add_option("--outputs", o->outputs, "probabilities | logits | both")
      ->check(one_of({"probabilities", "logits", "both"}))
      ->capture_default_str();
  cmd->add_flag("--include-normalization", o->include_normalization,
                "Put the pixel normalization in the graph: input RGB 0..255 instead of normalized values");
  cmd->callback([o] {
    check_output_path(o->output, {o->model}, {}, true, "-o");  // never over the model being exported
    ExportOptions options;
    options.format = export_format_from_string(o->format);
    options.outputs = export_outputs_from_string(o->outputs);
    options.include_normalization = o->include_normalization;
    const ExportSummary s = export_model(o->model, o->output, options);
    std::string outputs;
    for (const auto& name : s.output_names) outputs += (outputs.empty() ? "" : ", ") + name;
    std::printf("wrote %s (%s, %.1f MB)\n", s.path.c_str(), s.format.c_str(), double(s.bytes) / 1e6);
    std::printf("  model:   %s, %s%s\n", s.arch.c_str(), plural(s.parameters, "parameter").c_str(),
                s.nodes > 0 ? (", " + plural(s.nodes, "node")).c_str() : "");
    std::printf("  input:   %s: %s\n", s.input_names.empty() ? "input" : s.input_names[0].c_str(),
                s.input_description.c_str());
    std::printf("  output:  %s (N x %zu", outputs.c_str(), s.classes.size());
    std::printf(", classes: ");
    for (size_t i = 0; i < s.classes.size(); ++i) std::printf("%s%s", i ? ", " : "", printable(s.classes[i]).c_str());
    std::printf(")\n");
    if (options.outputs != ExportOutputs::Logits && s.temperature != 1.0)
      std::printf("  probabilities: softmax(logits / %.4g), the model's calibration temperature\n", s.temperature);
  });
}

}  // namespace imagefit::cli
