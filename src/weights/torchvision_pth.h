#pragma once
// torchvision state_dict files (.pth): the zip container written by torch.save (a pickled
// OrderedDict plus one storage file a tensor) and the legacy pickle format, read directly
// (LibTorch 1.13's pickle_load cannot read an OrderedDict state_dict).
#include <string>

#include "weights/pretrained.h"
#include "weights/state_dict.h"

namespace imagefit {

// Reads every tensor of a .pth state_dict file, in file order. Throws Error naming the file.
StateDict read_pth(const std::string& path);

Pretrained load_torchvision_backbone(const std::string& path, const std::string& arch_hint);

}  // namespace imagefit
