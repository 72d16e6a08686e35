// Forged model files: a valid file whose JSON header is edited (tensor index or network
// description) and whose FNV-1a trailer is recomputed, as anyone can. Each case must be refused by
// the loader with an imagefit::Error naming the file, and by the real `imagefit predict` with exit
// code 1 and one line `imagefit: error: FILE: ...` — no crash, no LibTorch trace, no gigabyte
// allocation (the CLI runs under a virtual-memory limit).
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "test_support.h"
#include "weights/model_file.h"
#include "weights/saved_model.h"

namespace imagefit {
namespace {

using json = nlohmann::json;

// The trailer exactly as model_file.cpp computes it: FNV-1a 64 over every byte before it.
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

template <typename T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

struct Parts {
  json header;       // the JSON metadata, with "tensors"
  std::string data;  // the tensor area
};

Parts split_model_file(const std::string& bytes) {
  uint64_t n = 0;
  std::memcpy(&n, bytes.data() + 16, 8);
  return {json::parse(bytes.substr(24, n)), bytes.substr(24 + n, bytes.size() - 16 - 24 - n)};
}

// A model file as save_model_file writes it, from a header given as text (so that a test can
// write JSON that json::dump would not, e.g. deep nesting).
std::string assemble(const std::string& header_text, const std::string& data) {
  std::string bytes = std::string("IMAGEFIT", 8);
  put<uint32_t>(bytes, 1);
  put<uint32_t>(bytes, 0);
  put<uint64_t>(bytes, header_text.size());
  bytes += header_text + data;
  put<uint64_t>(bytes, fnv1a(bytes));
  bytes += "IFITEND\n";
  return bytes;
}

// A small real model: simple-cnn at 16 px, 3 classes.
const std::string& valid_model_bytes() {
  static const std::string bytes = [] {
    TempDir dir;
    NetworkSpec spec;
    spec.arch = "simple-cnn";
    spec.image_size = 16;
    spec.head.pooling = "flatten";
    spec.classes = {"a", "b", "c"};
    Classifier net = build_network(spec);
    const std::string path = (dir.path() / "m.imagefit").string();
    save_model(path, spec, {{"training", {{"note", "hostile test"}}}}, net);
    return read_file(path);
  }();
  return bytes;
}

json& tensor(json& header, const std::string& name) {
  for (auto& t : header["tensors"])
    if (t["name"] == name) return t;
  throw std::runtime_error("no tensor " + name);
}

struct Forgery {
  std::string name;
  // Edits the parts; returns the header text to write ("" = parts.header.dump()).
  std::function<std::string(Parts&)> forge;
  std::string command = "predict";  // predict MODEL IMAGE, or info --json MODEL
};

std::string edit(Parts& p, const std::function<void(json&)>& f) {
  f(p.header);
  return "";
}

std::vector<Forgery> forgeries() {
  const auto net = [](const std::function<void(json&)>& f) {
    return [f](Parts& p) { return edit(p, [&](json& h) { f(h["network"]); }); };
  };
  const auto first_tensor = [](const std::function<void(json&)>& f) {
    return [f](Parts& p) { return edit(p, [&](json& h) { f(h["tensors"][0]); }); };
  };
  return {
      // The probe's segfault: offset + nbytes wrapped, the bounds check passed, memcpy read far away.
      {"HugeNegativeOffset", first_tensor([](json& t) { t["offset"] = -(int64_t(1) << 40); })},
      // Wrapped to just before the tensor area: silently read the JSON header as weights.
      {"SmallNegativeOffset", first_tensor([](json& t) { t["offset"] = -8; })},
      // 16 GiB declared consistently (shape and nbytes) from a negative offset: allocated, then read.
      {"SixteenGiBTensor", first_tensor([](json& t) {
         t["shape"] = {int64_t(1) << 32};
         t["nbytes"] = int64_t(1) << 34;
         t["offset"] = -(int64_t(1) << 34);
       })},
      // A shape of 16 GiB with the real nbytes: torch::empty allocated it before the size check.
      {"HugeShapeSmallNbytes", first_tensor([](json& t) { t["shape"] = {int64_t(1) << 32}; })},
      // A shape whose element count overflows 64 bits.
      {"OverflowingShape", first_tensor([](json& t) { t["shape"] = {int64_t(1) << 40, int64_t(1) << 40, 16}; })},
      {"NegativeShape", first_tensor([](json& t) {
         auto s = t["shape"].get<std::vector<int64_t>>();
         s[0] = -s[0];
         t["shape"] = s;
       })},
      {"NegativeNbytes", first_tensor([](json& t) { t["nbytes"] = -t["nbytes"].get<int64_t>(); })},
      // 1.5 was read as 1: the weights shifted by a byte, loaded without a word.
      {"FractionalOffset", first_tensor([](json& t) { t["offset"] = t["offset"].get<double>() + 1.5; })},
      // Two entries of one name: the last silently won.
      {"DuplicateTensorName",
       [](Parts& p) {
         return edit(p, [](json& h) { h["tensors"][1]["name"] = h["tensors"][0]["name"]; });
       }},
      // Every entry pointing at the whole area: a small file made the loader allocate it many times over.
      {"OverlappingTensors",
       [](Parts& p) {
         const size_t area = p.data.size();
         return edit(p, [&](json& h) {
           for (int i = 0; i < 2000; ++i)
             h["tensors"].push_back({{"name", "copy" + std::to_string(i)}, {"dtype", "float32"},
                                     {"shape", {area / 4}}, {"offset", 0}, {"nbytes", area / 4 * 4}});
         });
       }},
      // LibTorch's Dropout check threw its multi-line c10::Error.
      {"DropoutTwo", net([](json& n) { n["head"]["dropout"] = 2; })},
      {"DropoutNegative", net([](json& n) { n["head"]["dropout"] = -1; })},
      // simple-cnn's own check did not name the file; 0 silently became the default 180.
      {"ImageSizeZero", net([](json& n) { n["image_size"] = 0; })},
      {"ImageSizeNegative", net([](json& n) { n["image_size"] = -32; })},
      // The dry run to size the head ran the network on a 100000² image.
      {"ImageSizeHuge", net([](json& n) { n["image_size"] = 100000; })},
      // 3.7 was read as 3.
      {"ImageSizeFractional", net([](json& n) { n["image_size"] = 16.5; })},
      // More class names than the head has outputs: LibTorch's shape mismatch, several lines.
      {"MoreClassesThanHeadOutputs", net([](json& n) {
         n["classes"].push_back("d");
         n["head"]["classes"] = 4;
       })},
      {"NoClasses", net([](json& n) {
         n["classes"] = json::array();
         n["head"]["classes"] = 0;
       })},
      // The head's own count disagreed with the names and was silently overwritten.
      {"HeadClassesDisagree", net([](json& n) { n["head"]["classes"] = 7; })},
      {"DuplicateClassNames", net([](json& n) { n["classes"][1] = n["classes"][0]; })},
      {"UnknownArchitecture", net([](json& n) { n["arch"] = "resnet9000"; })},
      {"UnknownNormalization", net([](json& n) { n["normalization"] = "zscore"; })},
      {"NegativeAlpha", net([](json& n) { n["alpha"] = -1; })},
      {"HugeHidden", net([](json& n) { n["head"]["hidden"] = int64_t(1) << 40; })},
      // JSON nested 100000 deep: json::dump (info --json) recursed off the stack.
      {"DeeplyNestedMetadata",
       [](Parts& p) {
         std::string text = p.header.dump();
         const std::string deep = std::string(100000, '[') + std::string(100000, ']');
         text.insert(text.size() - 1, ",\"deep\":" + deep);
         return text;
       },
       "info"},
  };
}

class HostileModelFile : public ::testing::TestWithParam<Forgery> {
 protected:
  std::string write_forged() {
    Parts parts = split_model_file(valid_model_bytes());
    std::string text = GetParam().forge(parts);
    if (text.empty()) text = parts.header.dump();
    const std::string path = (dir_.path() / ("forged-" + GetParam().name + ".imagefit")).string();
    atomic_write_text(path, assemble(text, parts.data));
    return path;
  }
  TempDir dir_{"imagefit-hostile"};
};

TEST(HostileModelFileBase, TheUnforgedFileLoads) {
  // The forgeries start from a file that loads, so each refusal is the forged field's doing.
  TempDir dir;
  Parts parts = split_model_file(valid_model_bytes());
  const std::string path = (dir.path() / "m.imagefit").string();
  atomic_write_text(path, assemble(parts.header.dump(), parts.data));
  SavedModel m = load_model(path);
  EXPECT_EQ(m.spec.classes.size(), 3u);
}

TEST_P(HostileModelFile, LoaderRefusesItNamingTheFile) {
  const std::string path = write_forged();
  try {
    if (GetParam().command == "info")
      read_model_metadata(path).dump();
    else
      load_model(path);
    FAIL() << "the forged file loaded";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(path + ": ", 0), 0u) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

TEST_P(HostileModelFile, CliFailsWithOneLineNamingTheFile) {
  const fs::path binary = test::imagefit_binary();
  if (!fs::exists(binary)) GTEST_SKIP() << "skipped: the imagefit binary " << binary << " is not built in this tree";
  const std::string path = write_forged();
  const std::string image = (dir_.path() / "x.png").string();
  cv::imwrite(image, cv::Mat(20, 20, CV_8UC3, cv::Scalar(10, 200, 30)));
  const std::string args = GetParam().command == "info" ? "info --json '" + path + "'"
                                                        : "predict '" + path + "' '" + image + "'";
  // 6 GiB of address space: ample for predict, far below what the forged sizes would allocate.
  const auto r = test::run_command("ulimit -v 6291456; '" + binary.string() + "' " + args);
  EXPECT_EQ(r.exit_code, 1) << "(a crash shows as -1 or 128+signal)\n" << r.output;
  std::string out = r.output;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  EXPECT_EQ(out.rfind("imagefit: error: " + path + ": ", 0), 0u) << out;
  EXPECT_EQ(out.find('\n'), std::string::npos) << "more than one line:\n" << out;
}

INSTANTIATE_TEST_SUITE_P(Forged, HostileModelFile, ::testing::ValuesIn(forgeries()),
                         [](const ::testing::TestParamInfo<Forgery>& i) { return i.param.name; });

}  // namespace
}  // namespace imagefit
