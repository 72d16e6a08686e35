#include "weights/pretrained.h"

#include <fstream>

#include "core/error.h"
#include "weights/keras_h5.h"
#include "weights/torchvision_pth.h"

namespace imagefit {

Pretrained load_pretrained(const std::string& path, const std::string& arch_hint) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open weights file " + path);
  char magic[8] = {};
  in.read(magic, 8);
  if (in.gcount() < 2) throw Error(path + ": not a weights file (too short)");
  static const char hdf5[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  if (in.gcount() == 8 && std::equal(magic, magic + 8, hdf5)) return load_keras_backbone(path, arch_hint);
  if (magic[0] == 'P' && magic[1] == 'K') return load_torchvision_backbone(path, arch_hint);     // zip (torch.save)
  if (static_cast<unsigned char>(magic[0]) == 0x80) return load_torchvision_backbone(path, arch_hint);  // legacy pickle
  throw Error(path + ": not a known weights file (expected a Keras .h5 or a torchvision .pth state_dict)");
}

}  // namespace imagefit
