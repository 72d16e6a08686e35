#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "export/export_options.h"
#include "export/onnx_architectures.h"
#include "export/onnx_export.h"
#include "export/torchscript_export.h"

namespace imagefit {

ExportFormat export_format_from_string(const std::string& s) {
  if (s == "onnx") return ExportFormat::Onnx;
  if (s == "torchscript") return ExportFormat::TorchScript;
  throw Error("unknown export format '" + s + "' (onnx, torchscript)");
}

ExportOutputs export_outputs_from_string(const std::string& s) {
  if (s == "probabilities") return ExportOutputs::Probabilities;
  if (s == "logits") return ExportOutputs::Logits;
  if (s == "both") return ExportOutputs::Both;
  throw Error("unknown export output '" + s + "' (probabilities, logits, both)");
}

std::string to_string(ExportFormat f) { return f == ExportFormat::Onnx ? "onnx" : "torchscript"; }

std::string to_string(ExportOutputs o) {
  switch (o) {
    case ExportOutputs::Probabilities: return "probabilities";
    case ExportOutputs::Logits: return "logits";
    case ExportOutputs::Both: return "both";
  }
  return "?";
}

std::vector<std::string> onnx_exportable_architectures() { return onnx_export::covered_architectures(); }

ExportSummary export_model(const std::string& model_path, const std::string& out_path, const ExportOptions& options) {
  SavedModel model = load_model(model_path);
  ExportOptions with_temperature = options;
  with_temperature.temperature = model.inference.temperature;
  ExportSummary summary;
  try {
    if (options.format == ExportFormat::Onnx) {
      const std::string bytes = onnx_model_bytes(model.spec, model.network, with_temperature, &summary);
      atomic_write(out_path, [&](std::ostream& out) { out.write(bytes.data(), std::streamsize(bytes.size())); });
    } else {
      // Trace first (into memory), so a failure never leaves a temporary file behind.
      std::ostringstream buffer;
      write_torchscript(model.spec, model.network, with_temperature, buffer, &summary);
      const std::string bytes = buffer.str();
      atomic_write(out_path, [&](std::ostream& out) { out.write(bytes.data(), std::streamsize(bytes.size())); });
    }
  } catch (const Error& e) {
    throw Error(model_path + ": " + e.what());
  }
  summary.temperature = with_temperature.temperature;
  summary.path = out_path;
  summary.bytes = static_cast<long long>(fs::file_size(out_path));
  return summary;
}

}  // namespace imagefit
