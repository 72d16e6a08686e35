// `imagefit split SRC DST`: a folder of class folders → DST/train/, DST/validation/, DST/test/.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/progress.h"
#include "core/text.h"
#include "data/split.h"

namespace imagefit::cli {

namespace {

struct SplitArgs {
  std::string source, destination, mode = "copy";
  double train = 0, validation = 0, test = 0;
  CLI::Option *train_opt = nullptr, *validation_opt = nullptr, *test_opt = nullptr;
  uint64_t seed = 0;
  bool allow_fewer = false, force = false, dry_run = false, json = false;
};

// Classes as rows; a column for each split that gets images, and "unused" when some stay in SRC.
std::string format_table(const SplitPlan& plan) {
  std::vector<std::string> headers;
  std::vector<int> splits;
  for (int s = 0; s < 3; ++s)
    if (plan.split_total(s) > 0) {
      headers.push_back(kSplitFolderNames[s]);
      splits.push_back(s);
    }
  const bool show_unused = plan.total_unused() > 0;
  if (show_unused) headers.push_back("unused");

  std::vector<std::vector<std::string>> rows;
  for (size_t c = 0; c < plan.classes.size(); ++c) {
    std::vector<std::string> row = {printable(plan.classes[c])};
    for (int s : splits) row.push_back(with_commas(plan.counts[c][s]));
    if (show_unused) row.push_back(with_commas(plan.unused(c)));
    rows.push_back(row);
  }
  std::vector<std::string> total = {"total"};
  for (int s : splits) total.push_back(with_commas(plan.split_total(s)));
  if (show_unused) total.push_back(with_commas(plan.total_unused()));

  std::vector<size_t> width(headers.size() + 1, 0);
  width[0] = 5;
  for (size_t i = 0; i < headers.size(); ++i) width[i + 1] = display_width(headers[i]);
  rows.push_back(total);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], display_width(r[i]));

  std::ostringstream out;
  out << pad_right("class", width[0]);
  for (size_t i = 0; i < headers.size(); ++i) out << "  " << pad_left(headers[i], width[i + 1]);
  out << "\n";
  for (const auto& r : rows) {
    out << pad_right(r[0], width[0]);
    for (size_t i = 1; i < r.size(); ++i) out << "  " << pad_left(r[i], width[i]);
    out << "\n";
  }
  return out.str();
}

nlohmann::json plan_json(const SplitPlan& plan, const SplitResult& result, bool dry_run) {
  nlohmann::json j;
  j["source"] = plan.options.source;
  j["destination"] = plan.options.destination;
  j["mode"] = split_mode_name(plan.options.mode);
  j["seed"] = plan.options.seed;
  j["dry_run"] = dry_run;
  j["classes"] = plan.classes;
  nlohmann::json counts = nlohmann::json::object(), totals = nlohmann::json::object();
  for (int s = 0; s < 3; ++s) {
    nlohmann::json per_class = nlohmann::json::object();
    for (size_t c = 0; c < plan.classes.size(); ++c) per_class[plan.classes[c]] = plan.counts[c][s];
    counts[kSplitFolderNames[s]] = per_class;
    totals[kSplitFolderNames[s]] = plan.split_total(s);
  }
  nlohmann::json unused = nlohmann::json::object(), images = nlohmann::json::object();
  for (size_t c = 0; c < plan.classes.size(); ++c) {
    unused[plan.classes[c]] = plan.unused(c);
    images[plan.classes[c]] = plan.class_totals[c];
  }
  counts["unused"] = unused;
  totals["unused"] = plan.total_unused();
  totals["images"] = plan.total_images();
  j["images"] = images;  // images a class in SRC
  j["counts"] = counts;  // [split][class]
  j["totals"] = totals;
  j["planned"] = plan.files_to_write();
  j["written"] = result.written;
  j["skipped"] = dry_run ? plan.files.size() - plan.files_to_write() : result.skipped;
  j["warnings"] = plan.warnings;
  return j;
}

std::string split_folders(const SplitPlan& plan) {
  std::string out;
  for (int s = 0; s < 3; ++s)
    if (plan.split_total(s) > 0) out += (out.empty() ? "" : ", ") + std::string(kSplitFolderNames[s]) + "/";
  return out;
}

void run_split(const SplitArgs& a) {
  SplitOptions o;
  o.source = a.source;
  o.destination = a.destination;
  if (a.train_opt->count()) o.train = a.train;
  if (a.validation_opt->count()) o.validation = a.validation;
  if (a.test_opt->count()) o.test = a.test;
  o.seed = a.seed;
  o.mode = parse_split_mode(a.mode);
  o.allow_fewer = a.allow_fewer;
  o.force = a.force;

  const SplitPlan plan = plan_split(o);
  for (const auto& w : plan.warnings) std::cerr << "imagefit: warning: " << w << "\n";

  const std::string verb = split_mode_verb(o.mode);
  const size_t planned = plan.files_to_write(), already = plan.files.size() - planned;
  if (!a.json) {
    std::cout << "split " << o.source << " (" << plural(static_cast<long long>(plan.classes.size()), "class", "classes") << ", "
              << plural(static_cast<long long>(plan.total_images()), "image") << ") into " << o.destination << ", seed " << o.seed << ", mode " << a.mode << ":\n"
              << format_table(plan);
    std::cout.flush();
  }

  SplitResult result;
  if (!a.dry_run) {
    std::unique_ptr<ProgressBar> bar;
    if (!a.json && ProgressBar::is_terminal(stderr) && planned > 0)
      bar = std::make_unique<ProgressBar>(o.mode == SplitMode::kCopy   ? "copying"
                                          : o.mode == SplitMode::kMove ? "moving"
                                                                       : "linking",
                                          long(plan.files.size()));
    result = execute_split(plan, [&](size_t done, size_t) {
      if (bar) bar->update(long(done));
    });
    if (bar) bar->finish();
  }

  if (a.json) {
    std::cout << plan_json(plan, result, a.dry_run).dump(2) << "\n";
    return;
  }
  std::string skipped;
  if (already > 0) skipped = " (" + with_commas(already) + " already there with the same content, skipped)";
  if (a.dry_run) {
    std::string would;
    if (o.mode == SplitMode::kSymlink || o.mode == SplitMode::kHardlink)
      would = "create " + with_commas(static_cast<long long>(planned)) + (o.mode == SplitMode::kSymlink ? " symbolic" : " hard") +
              (planned == 1 ? " link in" : " links in");
    else
      would = split_mode_name(o.mode) + " " + plural(static_cast<long long>(planned), "file") + " into";
    std::cout << "dry run: would " << would << " " << o.destination << " (" << split_folders(plan) << ")" << skipped
              << "; nothing was written\n";
  } else {
    std::cout << verb << " " << plural(static_cast<long long>(result.written), "file") << " into " << o.destination << " ("
              << split_folders(plan) << ")" << skipped << "\n";
  }
}

}  // namespace

void add_split_command(CLI::App& app) {
  auto args = std::make_shared<SplitArgs>();
  CLI::App* cmd = app.add_subcommand(
      "split",
      "Split a folder of class folders into DST/train/, DST/validation/ and DST/test/: stratified (each class on\n"
      "its own), seeded, by fractions or by counts; copies, links or moves; never overwrites a file.");
  cmd->add_option("SRC", args->source, "folder of class folders (SRC/cats/*.jpg, SRC/dogs/*.jpg, ...)")->required();
  cmd->add_option("DST", args->destination, "where train/, validation/ and test/ are written (new or empty folder)")
      ->required();
  args->train_opt = cmd->add_option("--train", args->train,
                                    "train images a class: a count (>= 1) or a fraction (< 1); default: the rest");
  args->validation_opt =
      cmd->add_option("--val,--validation", args->validation,
                      "validation images a class: a count or a fraction (0.15 when no size is given, else 0)");
  args->test_opt = cmd->add_option("--test", args->test,
                                   "test images a class: a count or a fraction (0.15 when no size is given, else 0)");
  cmd->add_option(
         "--mode", args->mode,
         "copy, symlink (absolute links to SRC), hardlink (same file system) or move (takes the files out of SRC)")
      ->check(CLI::IsMember({"copy", "symlink", "hardlink", "move"}))
      ->capture_default_str();
  cmd->add_flag("--allow-fewer", args->allow_fewer,
                "a class with fewer images than asked gets a proportional share (with a warning) instead of an error");
  cmd->add_flag("--force", args->force,
                "add to a non-empty DST: files already there with the same content are skipped, any other existing "
                "file is an error (nothing is ever deleted or overwritten)");
  cmd->add_flag("--dry-run", args->dry_run, "print the plan (counts a split and class) and write nothing");
  auto common = std::make_shared<CommonOptions>();
  CommonHelp help;
  help.json = "print the counts as a JSON object instead of a table";
  add_common_options(cmd, *common, {Common::Seed, Common::Json}, help);
  cmd->footer(
      "Sizes (per class): a value >= 1 is a number of images, below 1 a fraction of the class, 0 no such split.\n"
      "  No size given: validation 0.15, test 0.15, train the rest (70/15/15).\n"
      "  Without --train, train gets the rest. With --train, it gets exactly that and any images left over stay\n"
      "  unused in SRC (shown as 'unused'); three fractions that add up to 1 lose no image to rounding.\n"
      "  Counts and fractions may be mixed: a fraction is always of the class's own images (--val 0.1 --test 50).\n"
      "  A fraction gives every class at least one image. A class with fewer images than asked is an error,\n"
      "  unless --allow-fewer. Files keep their names; the split of a class depends only on the seed and its files.\n"
      "\n"
      "Examples:\n"
      "  imagefit split photos data                                           # 70/15/15, copies\n"
      "  imagefit split cats-vs-dogs small --train 1000 --val 500 --test 500  # the Keras tutorial's subset\n"
      "  imagefit split sign-digits data --val 90 --test 10 --mode move       # train gets the rest\n"
      "  imagefit split photos data --val 0.2 --mode symlink --dry-run        # 80/20, no test/, plan only");
  cmd->callback([args, common] {
    args->seed = common->seed;
    args->json = common->json;
    run_split(*args);
  });
}

}  // namespace imagefit::cli
