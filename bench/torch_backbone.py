"""The same frozen-backbone forward pass in PyTorch (torchvision's models), for bench/backbone_bench.cpp.
Usage: /usr/bin/python3 bench/torch_backbone.py ARCH [alpha] [size] [batch] [iterations] [threads]
ARCH: mobilenet_v2 (alpha = width_mult), resnet18, squeezenet1_1, ..."""
import json, os, sys, time
import torch, torchvision

arch = sys.argv[1]
alpha = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
size = int(sys.argv[3]) if len(sys.argv) > 3 else 224
batch = int(sys.argv[4]) if len(sys.argv) > 4 else 32
iterations = int(sys.argv[5]) if len(sys.argv) > 5 else 5
threads = int(sys.argv[6]) if len(sys.argv) > 6 else os.cpu_count()
torch.set_num_threads(threads)
kwargs = {"width_mult": alpha} if arch == "mobilenet_v2" else {}
full = getattr(torchvision.models, arch)(**kwargs)
# The part before pooling, as imagefit's backbones: `.features`, or ResNet without avgpool/fc.
model = (full.features if hasattr(full, "features") else torch.nn.Sequential(*list(full.children())[:-2])).eval()
x = torch.rand(batch, 3, size, size)
with torch.no_grad():
    model(x)
    t0 = time.perf_counter()
    for _ in range(iterations):
        model(x)
    s = time.perf_counter() - t0
print(json.dumps({"program": "pytorch", "arch": arch, "alpha": alpha, "size": size, "batch": batch,
                  "threads": threads, "images_per_second": round(batch * iterations / s, 1)}))
