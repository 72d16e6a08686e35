// imagefit check DATA: unreadable files, class counts, duplicates and train/test leakage, odd images.
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/error.h"
#include "core/text.h"
#include "data/check.h"
#include "data/image_hash.h"

namespace imagefit::cli {

namespace {

struct CheckArgs {
  std::string data;
  CommonOptions common;
  CheckOptions check;
  int list = 10;
  bool quick = false;
};

std::string megabytes(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", double(bytes) / 1e6);
  return buf;
}

std::string pad(const std::string& s, size_t width, bool left) { return left ? pad_left(s, width) : pad_right(s, width); }

// Titles of the file findings, in the order they are listed.
const std::vector<std::pair<std::string, std::string>>& finding_titles() {
  static const std::vector<std::pair<std::string, std::string>> t = {
      {"extension", "extension does not match the content"},
      {"tiny", "tiny images"},
      {"huge", "huge images"},
      {"animated", "animated images"},
      {"cmyk", "CMYK images"},
      {"16-bit", "16-bit images"},
      {"alpha", "images with an alpha channel"},
      {"grayscale", "grayscale images in a colour dataset"}};
  return t;
}

std::string counts_table(const CheckReport& r) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"class"};
  for (const auto& s : r.splits) header.push_back(s.name);
  rows.push_back(header);
  for (size_t c = 0; c < r.classes.size(); ++c) {
    std::vector<std::string> row = {printable(r.classes[c])};
    for (const auto& s : r.splits) row.push_back(with_commas(s.counts[c]));
    rows.push_back(row);
  }
  std::vector<std::string> total = {"total"};
  for (const auto& s : r.splits) total.push_back(with_commas(s.images()));
  rows.push_back(total);
  std::vector<size_t> width(header.size(), 0);
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], display_width(row[i]));
  std::ostringstream out;
  for (const auto& row : rows) {
    out << "  " << pad(row[0], width[0], false);
    for (size_t i = 1; i < row.size(); ++i) out << "  " << pad(row[i], width[i], true);
    out << "\n";
  }
  out << "  imbalance (largest / smallest class):";
  for (const auto& s : r.splits) {
    char buf[64];
    if (s.imbalance() > 0) std::snprintf(buf, sizeof buf, " %s %.2f", s.name.c_str(), s.imbalance());
    else std::snprintf(buf, sizeof buf, " %s - (a class has no image)", s.name.c_str());
    out << buf;
  }
  out << "\n";
  return out.str();
}

void print_group(std::ostream& out, const CheckReport& r, const DuplicateGroup& g) {
  out << "  " << (g.exact ? "identical files" : "near duplicates (perceptual hashes " + std::to_string(g.distance) + " of 64 bits apart)");
  if (g.conflicting_labels) out << ", DIFFERENT CLASSES";
  out << ":\n";
  for (size_t k : g.files) {
    const auto& f = r.files[k];
    out << "    " << printable(f.path) << "  [" << r.splits[size_t(f.split)].name << "/" << printable(r.classes[size_t(f.label)]) << "]\n";
  }
}

// `limit` 0: everything.
template <class T, class F>
void print_section(std::ostream& out, const std::string& title, const std::vector<T>& items, size_t limit, F&& print) {
  if (items.empty()) return;
  out << "\n" << title << " (" << with_commas(items.size()) << "):\n";
  for (size_t i = 0; i < items.size() && (limit == 0 || i < limit); ++i) print(items[i]);
  if (limit > 0 && items.size() > limit) out << "  ... and " << with_commas(items.size() - limit) << " more (--list 0 or --json lists all)\n";
}

std::string text_report(const CheckReport& r, size_t limit) {
  std::ostringstream out;
  std::vector<const CheckedFile*> unreadable;
  for (const auto& f : r.files)
    if (!f.error.empty()) unreadable.push_back(&f);
  std::vector<DuplicateGroup> leaks, within_exact, within_near;
  for (const auto& g : r.duplicates) (g.across_splits ? leaks : g.exact ? within_exact : within_near).push_back(g);
  std::map<std::string, std::vector<FileFinding>> by_kind;
  for (const auto& f : r.findings) by_kind[f.kind].push_back(f);

  std::string splits;
  for (const auto& s : r.splits) splits += (splits.empty() ? "" : ", ") + s.name;
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f s", r.seconds);
  out << "check " << printable(r.root) << ": " << (r.layout == "splits" ? "splits " + splits : "class folders (no splits)") << "; "
      << plural(r.classes.size(), "class", "classes") << "; " << plural(r.files.size(), "image", "images") << " ("
      << megabytes(r.total_bytes) << "); " << secs << (r.decoded ? "" : " (quick: not decoded)") << "\n";

  std::vector<std::string> problems, warnings;
  if (!unreadable.empty()) problems.push_back(plural(unreadable.size(), "unreadable file", "unreadable files"));
  if (!r.skipped.empty()) problems.push_back(plural(r.skipped.size(), "skipped entry", "skipped entries") + " (links, permissions)");
  if (!leaks.empty()) {
    size_t files = 0;
    for (const auto& g : leaks) files += g.files.size();
    problems.push_back(plural(leaks.size(), "picture", "pictures") + " in more than one split (leakage: " + with_commas(files) + " files)");
  }
  if (!r.layout_problems.empty()) problems.push_back(plural(r.layout_problems.size(), "layout problem", "layout problems") + " (train would refuse)");
  if (!within_exact.empty()) warnings.push_back(plural(within_exact.size(), "group", "groups") + " of identical files within a split");
  if (!within_near.empty()) warnings.push_back(plural(within_near.size(), "group", "groups") + " of near duplicates within a split");
  for (const auto& s : r.splits)
    if (s.counts.size() > 1 && (s.imbalance() == 0 || s.imbalance() >= 3)) {
      char buf[96];
      if (s.imbalance() == 0) std::snprintf(buf, sizeof buf, "%s: a class has no image", s.name.c_str());
      else std::snprintf(buf, sizeof buf, "%s: classes imbalanced %.1f : 1", s.name.c_str(), s.imbalance());
      warnings.push_back(buf);
    }
  for (const auto& [kind, title] : finding_titles())
    if (by_kind.count(kind)) warnings.push_back(with_commas(by_kind[kind].size()) + " " + title);
  if (problems.empty()) out << "problems: none\n";
  else {
    out << "PROBLEMS (exit code 1):\n";
    for (const auto& p : problems) out << "  " << p << "\n";
  }
  if (warnings.empty()) out << "warnings: none\n";
  else {
    out << "warnings:\n";
    for (const auto& w : warnings) out << "  " << w << "\n";
  }

  out << "\nimages a class (readable ones):\n" << counts_table(r);
  // Problems are listed in full: each is a file to fix.
  print_section(out, "unreadable files", unreadable, 0, [&](const CheckedFile* f) { out << "  " << printable(f->path) << ": " << printable(f->error) << "\n"; });
  print_section(out, "skipped entries", r.skipped, 0, [&](const ScanIssue& s) { out << "  " << printable(s.path) << ": " << printable(s.reason) << "\n"; });
  print_section(out, "layout problems", r.layout_problems, 0, [&](const LayoutFinding& l) { out << "  " << printable(l.path) << ": " << printable(l.detail) << "\n"; });
  print_section(out, "leakage: the same picture in more than one split", leaks, 0, [&](const DuplicateGroup& g) { print_group(out, r, g); });
  print_section(out, "identical files within a split", within_exact, limit, [&](const DuplicateGroup& g) { print_group(out, r, g); });
  print_section(out, "near duplicates within a split", within_near, limit, [&](const DuplicateGroup& g) { print_group(out, r, g); });
  for (const auto& [kind, title] : finding_titles())
    if (by_kind.count(kind))
      print_section(out, title, by_kind[kind], limit, [&](const FileFinding& f) { out << "  " << printable(f.path) << ": " << printable(f.detail) << "\n"; });
  return out.str();
}

}  // namespace

void add_check_command(CLI::App& app) {
  auto a = std::make_shared<CheckArgs>();
  auto* cmd = app.add_subcommand("check", "Check a dataset before training: unreadable files, class counts, duplicates and\n"
                                          "train/test leakage, tiny or huge images, odd formats.");
  cmd->footer(
      "DATA is a folder of class folders, or a folder with train/, validation/ (val/, valid/) and test/.\n"
      "Every image is read and decoded once, as training does, on all cores. Duplicates: identical bytes\n"
      "(a 64-bit content hash with the file size), and near duplicates: the same picture resized,\n"
      "recompressed or re-encoded: DCT perceptual hashes (64 bits) at most --near-distance bits apart\n"
      "(default " +
      std::to_string(kNearDuplicateDistance) +
      ") and normalised 16x16 grey thumbnails that agree. A duplicate in two\n"
      "splits is leakage: the test score then measures memory, not generalisation.\n"
      "\n"
      "Exit code: 0 no problems (warnings are fine); 1 problems: an unreadable file, an entry the scan\n"
      "skipped (a symbolic link loop, no permission), leakage across splits, or a layout train refuses\n"
      "(an empty class, splits with different classes); other errors (DATA not a folder) also exit 1 with a message.\n"
      "\n"
      "Examples:\n"
      "  imagefit check data/\n"
      "  imagefit check data/ --json > check.json\n"
      "  imagefit check photos/ --near-distance 10 --list 0");
  cmd->add_option("DATA", a->data, "Dataset folder")->required()->check(existing_dir());
  CommonHelp help;
  help.json = "Print the report as one JSON object (every finding, with paths)";
  add_common_options(cmd, a->common, {Common::Threads, Common::Json}, help);
  cmd->add_option("--near-distance", a->check.near_distance, "Near duplicate: perceptual hashes at most this many bits apart (of 64), thumbnails alike")
      ->check(int_range(0, 32))
      ->default_str(std::to_string(kNearDuplicateDistance));
  cmd->add_option("--min-side", a->check.min_side, "Tiny: an image side shorter than this (pixels)")->check(int_range(1, 100000))->capture_default_str();
  cmd->add_option("--max-megapixels", a->check.max_megapixels, "Huge: more pixels than this (millions)")
      ->check(positive_real())
      ->capture_default_str();
  cmd->add_option("--list", a->list, "Files listed a warning section in the text report (0: all); problems are always listed in full")
      ->check(int_range(0, 100000000))
      ->capture_default_str();
  cmd->add_flag("--quick", a->quick,
                "Only what needs no decoding (the check train runs): counts, unreadable files, identical files, leakage of "
                "identical files");
  cmd->callback([a] {
    a->check.threads = a->common.threads;
    CheckReport report;
    if (a->quick) {
      Dataset ds = open_dataset(a->data);  // train's own scan: what it refuses, this refuses
      report = quick_check(ds, a->common.threads);
    } else {
      report = check_dataset(a->data, a->check);
    }
    if (a->common.json) std::cout << check_report_json(report).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    else std::cout << text_report(report, size_t(a->list));
    std::cout.flush();
    if (report.has_problems()) throw CLI::RuntimeError(1);
  });
}

}  // namespace imagefit::cli
