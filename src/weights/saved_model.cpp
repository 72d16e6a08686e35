#include "weights/saved_model.h"

#include "core/error.h"
#include "weights/model_file.h"
#include "weights/state_dict.h"

namespace imagefit {

nlohmann::json spec_to_json(const NetworkSpec& s) {
  return {{"arch", s.arch},
          {"alpha", s.backbone.alpha},
          {"image_size", s.image_size},
          {"normalization", to_string(s.normalization)},
          {"resize", to_string(s.resize)},
          {"classes", s.classes},
          {"head",
           {{"pooling", s.head.pooling},
            {"in_features", s.head.in_features},
            {"hidden", s.head.hidden},
            {"dropout", s.head.dropout},
            {"classes", s.head.classes}}}};
}

NetworkSpec spec_from_json(const nlohmann::json& j, const std::string& source) {
  try {
    NetworkSpec s;
    s.arch = j.at("arch").get<std::string>();
    s.backbone.alpha = j.at("alpha").get<double>();
    s.image_size = j.at("image_size").get<int>();
    s.backbone.image_size = s.image_size;
    s.normalization = normalization_from_string(j.at("normalization").get<std::string>());
    s.resize = resize_mode_from_string(j.value("resize", "squash"));  // models written before it: squash
    s.classes = j.at("classes").get<std::vector<std::string>>();
    const auto& h = j.at("head");
    s.head.pooling = h.at("pooling").get<std::string>();
    s.head.in_features = h.at("in_features").get<int64_t>();
    s.head.hidden = h.at("hidden").get<int64_t>();
    s.head.dropout = h.at("dropout").get<double>();
    s.head.classes = h.at("classes").get<int64_t>();
    return s;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(source + ": model description is incomplete (" + e.what() + ")");
  }
}

Classifier build_network(NetworkSpec& spec) {
  spec.backbone.image_size = spec.image_size;
  Backbone backbone = make_backbone(spec.arch, spec.backbone);
  spec.head.classes = int64_t(spec.classes.size());
  if (spec.head.pooling == "flatten") {
    torch::NoGradGuard no_grad;
    backbone->eval();
    auto out = backbone->forward(torch::zeros({1, 3, spec.image_size, spec.image_size}));
    spec.head.in_features = out.numel();
  } else {
    spec.head.in_features = backbone->feature_channels();
  }
  return Classifier(backbone, spec.head);
}

InferenceSettings inference_from_metadata(const nlohmann::json& metadata) {
  InferenceSettings s;
  if (!metadata.contains("inference") || !metadata["inference"].is_object()) return s;
  const auto& j = metadata["inference"];
  s.temperature = j.value("temperature", 1.0);
  s.tta = j.value("tta", false);
  s.tta_temperature = j.value("tta_temperature", 0.0);
  return s;
}

void save_model(const std::string& path, const NetworkSpec& spec, nlohmann::json metadata, Classifier& network) {
  metadata["network"] = spec_to_json(spec);
  save_model_file(path, metadata, state_dict_of(*network));
}

SavedModel load_model(const std::string& path) {
  ModelFile file = load_model_file(path);
  SavedModel m;
  if (!file.metadata.contains("network")) throw Error(path + ": model file has no network description");
  m.spec = spec_from_json(file.metadata["network"], path);
  m.metadata = std::move(file.metadata);
  m.inference = inference_from_metadata(m.metadata);
  try {
    m.network = build_network(m.spec);
    load_state_dict(*m.network, file.weights, path);
  } catch (const c10::Error& e) {
    // The description passed load_model_file's checks but LibTorch still refused it: its first line
    // only, never the multi-line trace.
    const std::string what = e.what_without_backtrace();
    throw Error(path + ": cannot build the network this model file describes (" + what.substr(0, what.find('\n')) + ")");
  }
  m.network->eval();
  return m;
}

}  // namespace imagefit
