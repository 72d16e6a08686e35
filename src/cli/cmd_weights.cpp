// imagefit weights list | fetch NAME... | path NAME
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "weights/catalog.h"
#include "weights/download.h"

namespace imagefit::cli {

namespace {

std::string arch_label(const WeightsEntry& e) {
  char alpha[32] = "";
  if (e.arch.rfind("keras-", 0) == 0)
    std::snprintf(alpha, sizeof alpha, e.alpha == static_cast<int>(e.alpha) ? " alpha=%.1f" : " alpha=%g", e.alpha);
  return e.arch + alpha;
}

std::string size_label(const WeightsEntry& e) {
  if (e.size_bytes <= 0) return "?";
  return (e.size_exact ? "" : "~") + format_bytes(e.size_bytes);
}

void list_weights(bool json) {
  const auto entries = weights_catalog();
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : entries) {
      const auto cached = find_cached(e);
      out.push_back({{"name", e.name},
                     {"arch", e.arch},
                     {"alpha", e.alpha},
                     {"file_name", e.file_name},
                     {"url", resolve_weights_url(e)},
                     {"sha256", e.sha256},
                     {"sha256_source", e.sha256_source},
                     {"size_bytes", e.size_bytes},
                     {"size_exact", e.size_exact},
                     {"imagenet_top1", e.imagenet_top1},
                     {"description", e.description},
                     {"cached", cached.has_value()},
                     {"path", cached ? cached->string() : std::string()}});
    }
    std::cout << out.dump(2) << std::endl;
    return;
  }
  std::printf("%-24s %-30s %10s %6s  %-8s %s\n", "NAME", "ARCHITECTURE", "SIZE", "TOP-1", "CHECK", "CACHED");
  bool any_unchecked = false;
  for (const auto& e : entries) {
    const auto cached = find_cached(e);
    const char* check = e.sha256.empty() ? "none*" : e.sha256.size() >= 64 ? "sha256" : "prefix";
    any_unchecked |= e.sha256.empty();
    char top1[16] = "?";
    if (e.imagenet_top1 > 0) std::snprintf(top1, sizeof top1, "%.1f%%", e.imagenet_top1);
    std::printf("%-24s %-30s %10s %6s  %-8s %s\n", e.name.c_str(), arch_label(e).c_str(), size_label(e).c_str(), top1,
                check, cached ? ("yes  " + cached->string()).c_str() : "no");
  }
  std::printf("\nweights folder: %s (set IMAGEFIT_CACHE to change it)\n", weights_cache_dir().string().c_str());
  if (any_unchecked)
    std::printf(
        "* Keras publishes no checksum for its application weights: those downloads are checked for\n"
        "  completeness and format only (their sha256 is printed so you can compare it with a copy you trust).\n");
  if (auto best = best_cached_backbone())
    std::printf("default backbone for 'imagefit train': %s\n", best->entry.name.c_str());
  else
    std::printf("no pretrained weights downloaded yet: try 'imagefit weights fetch keras-mobilenet-v2-1.0'\n");
}

void fetch(const std::vector<std::string>& names, const std::string& url, const std::string& ca_cert, bool force,
           bool quiet) {
  if (names.size() > 1 && !url.empty() && url.back() != '/')
    throw Error("--url names one file; with several weights give a base URL ending in '/'");
  for (const auto& name : names) {
    const WeightsEntry entry = find_weights_entry(name);
    FetchOptions opt;
    opt.url = url;
    opt.force = force;
    opt.show_progress = !quiet;
    opt.ca_cert_file = ca_cert;
    opt.should_stop = interrupted;
    const FetchResult r = fetch_weights(entry, opt);
    if (!r.downloaded) {
      std::fprintf(stderr, "%s is already present%s\n", name.c_str(),
                   entry.sha256.empty() ? "" : " (sha256 checked)");
    } else if (entry.sha256.empty()) {
      std::fprintf(stderr, "%s: no published checksum to compare with; its sha256 is %s\n", name.c_str(),
                   r.sha256.c_str());
    }
    std::printf("%s\n", r.path.string().c_str());
  }
}

void print_path(const std::string& name) {
  const WeightsEntry entry = find_weights_entry(name);
  const auto cached = find_cached(entry);
  if (!cached)
    throw Error(name + " is not downloaded yet: run 'imagefit weights fetch " + name + "', or copy " + entry.file_name +
                " (from " + entry.url + ") into " + weights_cache_dir().string());
  std::printf("%s\n", cached->string().c_str());
}

}  // namespace

void add_weights_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("weights", "List, download and locate ImageNet-pretrained backbone weights.");
  cmd->require_subcommand(1);

  auto json = std::make_shared<bool>(false);
  auto* list = cmd->add_subcommand("list", "Show the known pretrained weights, their size, and which are downloaded.");
  list->add_flag("--json", *json, "Print the list as JSON");
  list->callback([json] { list_weights(*json); });

  auto names = std::make_shared<std::vector<std::string>>();
  auto url = std::make_shared<std::string>();
  auto ca_cert = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  auto quiet = std::make_shared<bool>(false);
  auto* fetch_cmd = cmd->add_subcommand(
      "fetch", "Download pretrained weights into the weights folder, checking their size and hash; prints the path.");
  fetch_cmd->add_option("names", *names, "Names from 'imagefit weights list'")->required();
  fetch_cmd->add_option("--url", *url,
                        "Download from this URL instead (a mirror); a URL ending in '/' is a base the file name is "
                        "appended to. Default: $IMAGEFIT_WEIGHTS_URL_BASE, else the publisher's URL");
  fetch_cmd->add_option("--ca-cert", *ca_cert, "Trust this CA bundle (PEM) for HTTPS, e.g. a company proxy's")
      ->check(CLI::ExistingFile);
  fetch_cmd->add_flag("--force", *force, "Download again even if a good copy is present");
  fetch_cmd->add_flag("-q,--quiet", *quiet, "No progress output");
  fetch_cmd->callback([names, url, ca_cert, force, quiet] {
    install_interrupt_handler();
    fetch(*names, *url, *ca_cert, *force, *quiet);
  });

  auto name = std::make_shared<std::string>();
  auto* path = cmd->add_subcommand("path", "Print where downloaded weights are (error if they are not downloaded).");
  path->add_option("name", *name, "Name from 'imagefit weights list'")->required();
  path->callback([name] { print_path(*name); });
}

}  // namespace imagefit::cli
