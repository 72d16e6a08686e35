// imagefit augment DATA -o grid.png: a preview grid of what an --augment setting does.
#include <cstdio>

#include "augment/augment_params.h"
#include "augment/augmenter.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "core/fs.h"
#include "core/error.h"
#include "core/random.h"
#include "data/dataset.h"
#include "data/image_io.h"
#include "report/image_grid.h"
#include "models/input.h"

namespace imagefit::cli {

void add_augment_command(CLI::App& app) {
  struct Opts {
    std::string data, output = "augment-preview.png", augment = "keras-tutorial";
    int rows = 2, cols = 4, cell = 200;
    CommonOptions common;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("augment", "Write a preview grid of augmented training images (see what --augment does).");
  cmd->footer("Each row is one training image: the original, then augmented versions.\n"
              "Example: imagefit augment data/ --augment keras-tutorial -o preview.png\n"
              "Presets: none, light, keras-tutorial, strong, d2l-hotdog; or key=value pairs, e.g.\n"
              "  --augment rotation_range=40,zoom_range=0.2,horizontal_flip=true,fill_mode=nearest");
  cmd->add_option("data", o->data, "Dataset folder")->required()->check(existing_dir());
  cmd->add_option("-o,--output", o->output, "PNG file to write")->capture_default_str();
  cmd->add_option("--augment", o->augment, "Preset or key=value list")->capture_default_str();
  cmd->add_option("--rows", o->rows, "Rows (one training image each)")->capture_default_str()->check(int_range(1, 64));
  cmd->add_option("--cols", o->cols, "Columns (original + augmented versions)")->capture_default_str()->check(int_range(2, 64));
  o->common.image_size = 180;
  CommonHelp help;
  help.image_size = "Network input size the augmentation produces";
  add_common_options(cmd, o->common, {Common::ImageSize, Common::Resize, Common::Seed}, help);
  cmd->get_option("--image-size")->capture_default_str();
  cmd->callback([o] {
    // A preview written into a class folder would be read as a training image by the next run.
    check_output_path(o->output, {}, {o->data}, true, "-o");
    const int image_size = o->common.image_size;
    const uint64_t seed = o->common.seed;
    AugmentParams params = parse_augment(o->augment);
    Augmenter augmenter(params, image_size, image_size);
    Dataset ds = open_dataset(o->data);
    Rng pick(mix_seed({seed, 0x91C}));
    std::vector<GridCell> cells;
    for (int r = 0; r < o->rows; ++r) {
      const auto& item = ds.train.images[pick() % ds.train.images.size()];
      cv::Mat base = resize_to_input(read_image_rgb(item.path), image_size, resize_mode_from_string(o->common.resize));
      cells.push_back({base, "original: " + ds.classes[item.label], std::filesystem::path(item.path).filename().string()});
      for (int c = 1; c < o->cols; ++c) {
        Rng rng(mix_seed({seed, uint64_t(r), uint64_t(c)}));
        cells.push_back({augmenter.apply(base, rng), "augmented #" + std::to_string(c), ""});
      }
    }
    write_image_grid_png(cells, o->cols, o->cell, "--augment " + o->augment + "  (" + describe(params) + ")", o->output);
    std::printf("wrote %s (%dx%d grid, %s)\n", o->output.c_str(), o->rows, o->cols, describe(params).c_str());
  });
}

}  // namespace imagefit::cli
