#pragma once
// How many parameters a model has, in its backbone and head, and how many its training trained
// (`imagefit info`, the report's model section).
#include <nlohmann/json.hpp>
#include <string>

#include "eval/evaluate.h"
#include "models/classifier.h"

namespace imagefit {

// `training`: the model file's training summary (its strategy and unfrozen_stages say what trained).
ParameterCounts count_parameters(Classifier& network, const nlohmann::json& training);

// "1,001,546 (backbone 978,432 in 5 stages, head 23,114)".
std::string parameters_text(const ParameterCounts& p);
// "23,114 of them (the head)", "all of them", or "" when unknown.
std::string trained_text(const ParameterCounts& p);
// {"total", "backbone", "head", "backbone_stages", "trained", "trained_what"}.
nlohmann::json parameters_json(const ParameterCounts& p);

}  // namespace imagefit
