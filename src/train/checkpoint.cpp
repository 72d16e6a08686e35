#include "train/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "data/image_hash.h"

namespace imagefit {

namespace fs = std::filesystem;

namespace {

constexpr int kCheckpointVersion = 1;

// The generators whose state a run consumes: the CPU's always, the device's when it has its own.
std::vector<at::Generator> generators(torch::Device device) {
  std::vector<at::Generator> g{at::detail::getDefaultCPUGenerator()};
  if (!device.is_cpu()) g.push_back(at::globalContext().defaultGenerator(device));
  return g;
}

// "key = value" lines of a TOML text as written by `train` (TrainOptions::config).
std::map<std::string, std::string> config_entries(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find(" = ");
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 3);
  }
  return out;
}

}  // namespace

constexpr const char* kGlobalBatch = "global batch";

std::string checkpoint_path(const std::string& model_path) { return model_path + ".resume"; }

nlohmann::json run_fingerprint(const TrainOptions& options, const Dataset& data, int world_size) {
  nlohmann::json opts = nlohmann::json::object();
  for (const auto& [key, value] : config_entries(options.config))
    // calibrate and tta act after the last epoch: resuming with others changes no epoch.
    if (key != "output" && key != "threads" && key != "device" && key != "batch-size" && key != "distributed" &&
        key != "dist-timeout" && key != "calibrate" && key != "tta")
      opts[key] = value;
  opts[kGlobalBatch] = std::to_string(options.batch_size * std::max(1, world_size));
  // Which images, under which label: renaming, adding, removing or relabelling any is a different run.
  std::string listing;
  auto add = [&](const char* split, const ImageSet& set) {
    for (const auto& img : set.images) {
      std::error_code ec;
      const auto size = fs::file_size(img.path, ec);
      listing += std::string(split) + '\t' + fs::path(img.path).lexically_relative(data.root).string() + '\t' +
                 std::to_string(img.label) + '\t' + std::to_string(ec ? 0 : size) + '\n';
    }
  };
  add("train", data.train);
  add("validation", data.validation);
  add("test", data.test);
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", (unsigned long long)content_hash(listing.data(), listing.size()));
  return {{"options", opts},
          {"data",
           {{"classes", data.classes},
            {"train", data.train.images.size()},
            {"validation", data.validation.images.size()},
            {"test", data.test.images.size()},
            {"listing", hash}}}};
}

std::vector<std::string> fingerprint_differences(const nlohmann::json& saved, const nlohmann::json& now) {
  std::vector<std::string> out;
  const auto& a = saved.at("options");
  const auto& b = now.at("options");
  auto shown = [](const nlohmann::json& o, const std::string& k) {
    return o.contains(k) ? o[k].get<std::string>() : std::string("(not given)");
  };
  std::map<std::string, bool> keys;
  for (const auto& [k, v] : a.items()) keys[k] = true;
  for (const auto& [k, v] : b.items()) keys[k] = true;
  for (const auto& [k, unused] : keys)
    if (shown(a, k) != shown(b, k))
      out.push_back((k == "data"           ? std::string("the dataset")
                     : k == kGlobalBatch ? std::string("the global batch (--batch-size x ranks)")
                                         : "--" + k) +
                    ": the checkpoint has " + shown(a, k) +
                    ", this run " + shown(b, k));
  const auto& da = saved.at("data");
  const auto& db = now.at("data");
  if (da["classes"] != db["classes"]) {
    out.push_back("the classes: the checkpoint has " + da["classes"].dump() + ", the data now " + db["classes"].dump());
  } else {
    for (const char* split : {"train", "validation", "test"})
      if (da[split] != db[split])
        out.push_back(std::string("the ") + split + " images: the checkpoint has " + da[split].dump() + ", the data now " +
                      db[split].dump());
    if (out.empty() && da["listing"] != db["listing"])
      out.push_back("the images: files were renamed, replaced or relabelled since the checkpoint");
  }
  return out;
}

// JSON has no nan or inf: they travel as null.
nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
double number(const nlohmann::json& v) { return v.is_null() ? std::nan("") : v.get<double>(); }

nlohmann::json history_to_json(const History& history) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : history)
    out.push_back({{"phase", r.phase}, {"train_loss", number(r.train_loss)}, {"train_accuracy", r.train_accuracy},
                   {"val_loss", number(r.val_loss)}, {"val_accuracy", r.val_accuracy}, {"learning_rate", r.learning_rate},
                   {"seconds", r.seconds}, {"images_per_second", r.images_per_second}});
  return out;
}

History history_from_json(const nlohmann::json& j) {
  History h;
  for (const auto& e : j) {
    EpochRecord r;
    r.epoch = int(h.size()) + 1;
    r.phase = e.at("phase").get<std::string>();
    r.train_loss = number(e.at("train_loss"));
    r.train_accuracy = e.at("train_accuracy").get<double>();
    r.val_loss = number(e.at("val_loss"));
    r.val_accuracy = e.at("val_accuracy").get<double>();
    r.learning_rate = e.at("learning_rate").get<double>();
    r.seconds = e.at("seconds").get<double>();
    r.images_per_second = e.at("images_per_second").get<double>();
    h.push_back(r);
  }
  return h;
}

void Checkpoint::save(const std::string& path, const nlohmann::json& state, torch::nn::Module& net,
                      torch::optim::Optimizer* optimizer, torch::Device device) {
  torch::serialize::OutputArchive archive;
  nlohmann::json s = state;
  s["checkpoint_version"] = kCheckpointVersion;
  archive.write("state", c10::IValue(s.dump()));
  torch::serialize::OutputArchive net_archive;
  net.save(net_archive);
  archive.write("network", net_archive);
  if (optimizer) {
    torch::serialize::OutputArchive opt_archive;
    optimizer->save(opt_archive);
    archive.write("optimizer", opt_archive);
  }
  auto gens = generators(device);
  for (size_t i = 0; i < gens.size(); ++i) {
    std::lock_guard<std::mutex> lock(gens[i].mutex());
    archive.write("rng." + std::to_string(i), gens[i].get_state(), /*is_buffer=*/true);
  }
  atomic_write(path, [&](std::ostream& out) { archive.save_to(out); });
}

Checkpoint Checkpoint::load(const std::string& path, torch::Device device) {
  Checkpoint c;
  c.path_ = path;
  c.device_ = device;
  c.archive_ = std::make_shared<torch::serialize::InputArchive>();
  try {
    c.archive_->load_from(path, device);
    c10::IValue text;
    if (!c.archive_->try_read("state", text) || !text.isString()) throw Error("no state record");
    c.state = nlohmann::json::parse(text.toStringRef());
    if (c.state.value("checkpoint_version", 0) != kCheckpointVersion) throw Error("written by another imagefit version");
    torch::serialize::InputArchive probe;
    c.has_optimizer_ = c.archive_->try_read("optimizer", probe);
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    throw Error(path + ": not a readable imagefit checkpoint (" + what.substr(0, what.find('\n')) + ")");
  } catch (const std::exception& e) {
    throw Error(path + ": not a readable imagefit checkpoint (" + std::string(e.what()) + ")");
  }
  return c;
}

void Checkpoint::restore_network(torch::nn::Module& net) const {
  torch::serialize::InputArchive a;
  try {
    archive_->read("network", a);
    net.load(a);
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    throw Error(path_ + ": the checkpoint's network does not fit this run (" + what.substr(0, what.find('\n')) + ")");
  }
}

void Checkpoint::restore_optimizer(torch::optim::Optimizer& optimizer) const {
  torch::serialize::InputArchive a;
  try {
    archive_->read("optimizer", a);
    optimizer.load(a);
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    throw Error(path_ + ": the checkpoint's optimizer state does not fit this run (" + what.substr(0, what.find('\n')) + ")");
  }
}

void Checkpoint::restore_rng() const {
  auto gens = generators(device_);
  for (size_t i = 0; i < gens.size(); ++i) {
    torch::Tensor s;
    if (!archive_->try_read("rng." + std::to_string(i), s, /*is_buffer=*/true)) continue;
    std::lock_guard<std::mutex> lock(gens[i].mutex());
    gens[i].set_state(s.to(torch::kCPU));
  }
}

}  // namespace imagefit
