// Reading torch.save files (zip and legacy) against what Python reads from them, recognising the
// torchvision architecture from names and shapes, and the errors a user sees for bad files.
#include <nlohmann/json.hpp>

#include <fstream>
#include <random>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "fixtures/torchvision_fixtures.h"
#include "weights/pickle_reader.h"
#include "weights/pretrained.h"
#include "weights/torchvision_arch.h"
#include "weights/torchvision_pth.h"

namespace imagefit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const char* kReaderArgs =
    "--reader --shapes resnet18 resnet34 resnet50 mobilenet_v2 mobilenet_v2:width_mult=0.5 mobilenet_v3_small "
    "mobilenet_v3_large squeezenet1_1 vgg16 efficientnet_b0 resnet101 wide_resnet50_2 vgg16_bn squeezenet1_0 "
    "efficientnet_b1 densenet121";
const char* kResnet18Args = "resnet18 --legacy --checkpoint";

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

torch::ScalarType dtype_named(const std::string& s) {
  static const std::map<std::string, torch::ScalarType> m = {
      {"float32", torch::kFloat32}, {"float16", torch::kFloat16}, {"bfloat16", torch::kBFloat16},
      {"float64", torch::kFloat64}, {"int64", torch::kInt64},     {"int32", torch::kInt32},
      {"int8", torch::kInt8},       {"uint8", torch::kUInt8},     {"bool", torch::kBool}};
  return m.at(s);
}

// Names, dtypes, shapes and every value equal to what Python wrote into tensors.json.
void expect_like_python(const StateDict& sd, const json& expected, const std::string& file) {
  ASSERT_EQ(sd.size(), expected.size()) << file;
  for (size_t i = 0; i < sd.size(); ++i) {
    const auto& e = expected[i];
    const std::string name = e["name"];
    const auto& t = sd[i].second;
    SCOPED_TRACE(file + ": " + name);
    EXPECT_EQ(sd[i].first, name);
    EXPECT_EQ(t.scalar_type(), dtype_named(e["dtype"]));
    EXPECT_EQ(t.sizes().vec(), e["shape"].get<std::vector<int64_t>>());
    const auto flat = t.contiguous().reshape(-1);
    ASSERT_EQ(flat.numel(), static_cast<int64_t>(e["values"].size()));
    if (t.is_floating_point()) {
      auto values = flat.to(torch::kFloat64);
      for (int64_t j = 0; j < flat.numel(); ++j) EXPECT_EQ(values[j].item<double>(), e["values"][j].get<double>()) << j;
    } else if (t.scalar_type() == torch::kBool) {
      for (int64_t j = 0; j < flat.numel(); ++j) EXPECT_EQ(flat[j].item<bool>(), e["values"][j].get<bool>()) << j;
    } else {
      auto values = flat.to(torch::kInt64);
      for (int64_t j = 0; j < flat.numel(); ++j) EXPECT_EQ(values[j].item<int64_t>(), e["values"][j].get<int64_t>()) << j;
    }
  }
}

// Runs `f`, expecting an imagefit::Error whose message names `file` and contains `needle`.
template <typename F>
void expect_error(F&& f, const fs::path& file, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error for " << file;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(file.string()), std::string::npos) << "message does not name the file: " << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << "message lacks '" << needle << "': " << msg;
  }
}

void write_bytes(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

TEST(PthReader, ReadsZipLegacyAndProtocol4LikePython) {
  IMAGEFIT_REQUIRE_TORCHVISION_FIXTURES(dir, kReaderArgs);
  const json expected = read_json(dir / "tensors.json");
  for (const char* file : {"tensors.pth", "tensors_legacy.pth", "tensors_p4.pth"}) {
    const StateDict sd = read_pth((dir / file).string());
    expect_like_python(sd, expected, file);
  }
}

TEST(PthReader, ViewsBecomeTheirOwnTensors) {
  IMAGEFIT_REQUIRE_TORCHVISION_FIXTURES(dir, kReaderArgs);
  const StateDict sd = read_pth((dir / "tensors.pth").string());
  std::map<std::string, torch::Tensor> m(sd.begin(), sd.end());
  // base[1:3, 2:5] was saved as the whole 4×6 storage with an offset: check against base itself.
  EXPECT_TRUE(torch::equal(m.at("slice"), m.at("base").slice(0, 1, 3).slice(1, 2, 5)));
  EXPECT_TRUE(torch::equal(m.at("every_other"), m.at("base").slice(1, 1, 6, 2)));
  EXPECT_EQ(m.at("slice").numel(), 6);
  EXPECT_TRUE(m.at("slice").is_contiguous());
  EXPECT_EQ(m.at("bn.num_batches_tracked").dim(), 0);
  EXPECT_EQ(m.at("bn.num_batches_tracked").item<int64_t>(), 12345);
}

TEST(PthReader, UnwrapsTheModelOfACheckpoint) {
  IMAGEFIT_REQUIRE_TORCHVISION_FIXTURES(dir, kReaderArgs);
  // {"epoch", "ema": state_dict, "model": state_dict, "optimizer": {...}, ...}: "model" is the one.
  expect_like_python(read_pth((dir / "checkpoint.pth").string()), read_json(dir / "tensors.json"), "checkpoint.pth");
}

TEST(PthReader, SeveralStateDictsOrAWholeModelAreErrors) {
  IMAGEFIT_REQUIRE_TORCHVISION_FIXTURES(dir, kReaderArgs);
  expect_error([&] { read_pth((dir / "several.pth").string()); }, dir / "several.pth", "several state_dicts ('a', 'b')");
  expect_error([&] { read_pth((dir / "whole_model.pth").string()); }, dir / "whole_model.pth", "torch.nn.modules.container.Sequential");
  expect_error([&] { read_pth((dir / "whole_model.pth").string()); }, dir / "whole_model.pth", "model.state_dict()");
}

TEST(PthReader, ZipAndLegacyResnet18AreTheSame) {
  IMAGEFIT_REQUIRE_TORCHVISION_FIXTURES(dir, kResnet18Args);
  const StateDict zip = read_pth((dir / "resnet18.pth").string());
  const StateDict legacy = read_pth((dir / "resnet18_legacy.pth").string());
  ASSERT_EQ(zip.size(), 122u);  // torchvision 0.14's resnet18: 62 parameters + 60 BN buffers
  ASSERT_EQ(zip.size(), legacy.size());
  for (size_t i = 0; i < zip.size(); ++i) {
    EXPECT_EQ(zip[i].first, legacy[i].first);
    EXPECT_TRUE(torch::equal(zip[i].second, legacy[i].second)) << zip[i].first;
  }
  EXPECT_EQ(zip.front().first, "conv1.weight");
  EXPECT_EQ(zip.front().second.sizes().vec(), (std::vector<int64_t>{64, 3, 7, 7}));
  EXPECT_EQ(zip.back().first, "fc.bias");
}

TEST(PthReader, TruncatedFilesAreErrorsNamingTheFile) {
  IMAGEFIT_REQUIRE_TORCHVISION_FIXTURES(dir, kReaderArgs);
  TempDir tmp("imagefit-pth");
  for (const char* name : {"tensors.pth", "tensors_legacy.pth"}) {
    const std::string bytes = read_file(dir / name);
    for (size_t keep : {bytes.size() / 3, bytes.size() - 7, size_t{40}}) {
      const fs::path cut = tmp.path() / ("cut_" + std::to_string(keep) + "_" + name);
      write_bytes(cut, bytes.substr(0, keep));
      expect_error([&] { read_pth(cut.string()); }, cut, "truncated");
    }
  }
}

TEST(PthReader, ShortStorageRecordIsAnErrorNamingTheFile) {
  IMAGEFIT_REQUIRE_TORCHVISION_FIXTURES(dir, kReaderArgs);
  expect_error([&] { read_pth((dir / "short_storage.pth").string()); }, dir / "short_storage.pth", "data/0");
}

TEST(PthReader, NonTorchFilesAreErrorsNamingTheFile) {
  TempDir tmp("imagefit-pth");
  std::mt19937 rng(7);
  std::string noise(4096, '\0');
  for (auto& c : noise) c = static_cast<char>(rng() & 0xff);
  noise[0] = 'x';
  const fs::path random = tmp.path() / "random.pth";
  write_bytes(random, noise);
  expect_error([&] { read_pth(random.string()); }, random, "not a PyTorch .pth file");
  expect_error([&] { load_pretrained(random.string()); }, random, "not a known weights file");
  noise[0] = '\x80';  // looks like a pickle
  const fs::path pickle_like = tmp.path() / "pickle_like.pth";
  write_bytes(pickle_like, noise);
  expect_error([&] { read_pth(pickle_like.string()); }, pickle_like, "");
  const fs::path zip_like = tmp.path() / "zip_like.pth";
  write_bytes(zip_like, "PK\x03\x04" + noise);
  expect_error([&] { read_pth(zip_like.string()); }, zip_like, "zip archive");
  const fs::path empty = tmp.path() / "empty.pth";
  write_bytes(empty, "");
  expect_error([&] { read_pth(empty.string()); }, empty, "empty");
  expect_error([&] { read_pth((tmp.path() / "missing.pth").string()); }, tmp.path() / "missing.pth", "cannot open");
}

// Found by fuzz_pth: a 1.4 KB zip whose directory says data.pkl holds 3.4 GB; the reader allocated
// that before reading (fuzz/corpus/pth/regress_zip_record_size).
TEST(PthReader, AZipRecordLargerThanTheArchiveIsAnError) {
  const fs::path path = test::source_dir() / "fuzz/corpus/pth/regress_zip_record_size";
  ASSERT_TRUE(fs::exists(path)) << path;
  expect_error([&] { read_pth(path.string()); }, path, "bytes, more than the archive holds (file corrupt)");
}

// Protocol 0 writes numbers as text: one too large for 64 bits is a malformed pickle. Found by
// fuzz_pickle: a PUT of 10^60 escaped as std::out_of_range and ended the program
// (fuzz/corpus/pickle/regress_put_out_of_range).
TEST(PickleReader, ProtocolZeroNumbersOutOfRangeAreErrors) {
  const std::string huge(60, '9');
  for (const auto& [text, why] : std::vector<std::pair<std::string, std::string>>{
           {"(lp" + huge + "\n.", "bad PUT"},
           {"(lp0\ng" + huge + "\n.", "bad GET"},
           {"I" + huge + "\n.", "bad INT"},
           {"F1e99999\n.", "bad FLOAT"}}) {
    pickle::Unpickler u(reinterpret_cast<const uint8_t*>(text.data()), text.size(), "p.pkl");
    try {
      u.load();
      ADD_FAILURE() << text << " loaded";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).rfind("p.pkl", 0), 0u) << e.what();
    }
  }
}

// A StateDict with the names and shapes Python wrote (the values do not matter for detection).
StateDict shapes_only(const fs::path& json_file) {
  StateDict sd;
  for (const auto& entry : read_json(json_file)) {
    const auto shape = entry[1].get<std::vector<int64_t>>();
    sd.emplace_back(entry[0].get<std::string>(), torch::zeros({}).expand(shape));
  }
  return sd;
}

TEST(TorchvisionArch, RecognisesEverySupportedArchitecture) {
  IMAGEFIT_REQUIRE_TORCHVISION_FIXTURES(dir, kReaderArgs);
  ASSERT_EQ(torchvision_arch_names().size(), 9u);
  for (const auto& name : torchvision_arch_names()) {
    SCOPED_TRACE(name);
    const StateDict sd = shapes_only(dir / (name + "_shapes.json"));
    const TorchvisionArch with_top = detect_torchvision_arch(sd, name);
    EXPECT_EQ(with_top.name, name);
    EXPECT_EQ(with_top.options.alpha, 1.0);
    const StateDict headless = without_classifier(sd);
    EXPECT_LT(headless.size(), sd.size());
    for (const auto& [k, v] : headless) EXPECT_TRUE(k.rfind("fc.", 0) != 0 && k.rfind("classifier.", 0) != 0) << k;
    EXPECT_EQ(detect_torchvision_arch(headless, name).name, name);
  }
  const TorchvisionArch half = detect_torchvision_arch(shapes_only(dir / "mobilenet_v2_width_mult=0.5_shapes.json"), "x");
  EXPECT_EQ(half.name, "mobilenet_v2");
  EXPECT_EQ(half.options.alpha, 0.5);
}

TEST(TorchvisionArch, NamesUnsupportedTorchvisionModels) {
  IMAGEFIT_REQUIRE_TORCHVISION_FIXTURES(dir, kReaderArgs);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"resnet101", "resnet101"},         {"wide_resnet50_2", "wide_resnet50_2"}, {"vgg16_bn", "vgg16_bn"},
      {"squeezenet1_0", "squeezenet1_0"}, {"efficientnet_b1", "EfficientNet other than b0"},
      {"densenet121", "DenseNet"}};
  for (const auto& [arch, needle] : cases) {
    const fs::path file = dir / (arch + "_shapes.json");
    expect_error([&] { detect_torchvision_arch(shapes_only(file), file.string()); }, file, needle);
  }
  StateDict unknown = {{"encoder.weight", torch::zeros({3, 3})}};
  expect_error([&] { detect_torchvision_arch(unknown, "odd.pth"); }, "odd.pth", "encoder.weight");
}

TEST(TorchvisionArch, StripsWrapperPrefixesOnly) {
  StateDict wrapped = {{"module.conv1.weight", torch::zeros({1})}, {"module.layer1.0.bn1.bias", torch::zeros({1})}};
  auto stripped = strip_wrapper_prefix(wrapped);
  EXPECT_EQ(stripped[0].first, "conv1.weight");
  EXPECT_EQ(stripped[1].first, "layer1.0.bn1.bias");
  StateDict nested = {{"model.module.features.0.weight", torch::zeros({1})}};
  EXPECT_EQ(strip_wrapper_prefix(nested)[0].first, "features.0.weight");
  // A headless VGG/SqueezeNet has only "features.*": that prefix is the model's own.
  StateDict headless = {{"features.0.weight", torch::zeros({1})}, {"features.2.weight", torch::zeros({1})}};
  EXPECT_EQ(strip_wrapper_prefix(headless)[0].first, "features.0.weight");
}

TEST(TorchvisionPth, LoadsResnet18AndChecksTheHint) {
  IMAGEFIT_REQUIRE_TORCHVISION_FIXTURES(dir, kResnet18Args);
  const fs::path file = dir / "resnet18.pth";
  // Parameters of the backbone: the file's tensors less the top and the BatchNorm buffers.
  int64_t expected = 0;
  for (const auto& [name, t] : read_pth(file.string()))
    if (name.rfind("fc.", 0) != 0 && name.find("running_") == std::string::npos &&
        name.find("num_batches_tracked") == std::string::npos)
      expected += t.numel();
  const Pretrained p = load_pretrained(file.string());
  EXPECT_EQ(p.arch, "resnet18");
  ASSERT_TRUE(p.backbone);
  EXPECT_EQ(p.backbone->arch(), "resnet18");
  int64_t params = 0;
  for (const auto& t : p.backbone->parameters()) params += t.numel();
  EXPECT_EQ(params, expected);
  EXPECT_EQ(p.description.rfind("torchvision resnet18 (", 0), 0u) << p.description;
  EXPECT_NE(p.description.find(" parameters)"), std::string::npos) << p.description;
  EXPECT_EQ(load_torchvision_backbone(file.string(), "resnet18").arch, "resnet18");
  expect_error([&] { load_torchvision_backbone(file.string(), "resnet50"); }, file, "resnet50");
  expect_error([&] { load_pretrained((dir / "resnet18_legacy.pth").string(), "mobilenet_v2"); },
               dir / "resnet18_legacy.pth", "holds torchvision resnet18");
}

}  // namespace
}  // namespace imagefit
