#!/usr/bin/python3
"""The torchvision counterpart of bench/augment_bench.cpp: the Keras tutorial's augmentation
(rotation 40, shifts 0.2, shear 0.2 degrees, zoom 0.8..1.2, horizontal flip) done the PyTorch way,
ImageFolder + transforms in a DataLoader with one worker a core, 180x180 float CHW batches of 32.

  /usr/bin/python3 bench/torchvision_augment.py --data ../shared/data/cats-dogs [--epochs 3]
                   [--order resize-first|warp-first] [--modes decode_each_time,cached_decoded,cached_resized]

--order (default resize-first):
  resize-first  Resize((180, 180)) first, then RandomAffine + RandomHorizontalFlip + ToTensor: what
                Keras does (flow_from_directory resizes at load, the augmentation works at 180x180)
                and how a PyTorch user who knows the cost writes it.
  warp-first    RandomAffine at full size, then Resize: the order of the first benchmark runs
                (docs/BENCHMARKS.md, "Augmentation throughput"), kept to reproduce them.

Prints "RESULT torchvision_<mode> <images/s> images/s (<images per CPU-second> images per CPU-second)":
  decode_each_time  the usual ImageFolder: every epoch decodes every JPEG (PIL)
  cached_decoded    PIL images decoded once in the main process (shared with the forked workers)
  cached_resized    PIL images decoded and resized to 180x180 once (the counterpart of imagefit's
                    cached_network); only RandomAffine + flip + ToTensor each epoch (resize-first only)
"""
import argparse
import json
import os
import resource
import time

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import datasets
from torchvision import transforms as T


def keras_tutorial_augment():
    # Keras: rotation_range=40, width/height_shift_range=0.2, shear_range=0.2 (degrees in Keras 2.x,
    # as torchvision's shear), zoom_range=0.2, horizontal_flip=True. Bilinear, as Keras and imagefit.
    return [
        T.RandomAffine(degrees=40, translate=(0.2, 0.2), shear=0.2, scale=(0.8, 1.2),
                       interpolation=T.InterpolationMode.BILINEAR),
        T.RandomHorizontalFlip(),
    ]


def keras_tutorial_transform(size, order="resize-first"):
    if order == "resize-first":
        return T.Compose([T.Resize((size, size))] + keras_tutorial_augment() + [T.ToTensor()])
    if order == "warp-first":
        return T.Compose(keras_tutorial_augment() + [T.Resize((size, size)), T.ToTensor()])
    raise ValueError(f"unknown order {order!r} (resize-first, warp-first)")


class CachedImages(Dataset):
    """ImageFolder's samples, decoded once."""

    def __init__(self, folder, transform, resize_to=None):
        self.images = []
        for path, label in folder.samples:
            with Image.open(path) as img:
                img = img.convert("RGB")
                if resize_to:  # what T.Resize((size, size)) does, once
                    img = T.functional.resize(img, [resize_to, resize_to])
                self.images.append((img, label))
        self.transform = transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        img, label = self.images[i]
        return self.transform(img), label


def cpu_seconds():
    # This process plus its finished children (the DataLoader workers of finished epochs).
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        u = resource.getrusage(who)
        total += u.ru_utime + u.ru_stime
    return total


def measure(dataset, args):
    # Default DataLoader (workers started each epoch, as in the tutorials), so every worker has
    # exited and is counted in RUSAGE_CHILDREN when an epoch ends.
    loader = DataLoader(dataset, batch_size=32, shuffle=True, num_workers=args.workers)
    for _ in loader:  # warm-up epoch: page cache, imports in the workers
        pass
    t0, c0, n, check = time.perf_counter(), cpu_seconds(), 0, 0.0
    for _ in range(args.epochs):
        for x, _y in loader:
            n += x.shape[0]
            check += float(x[0, 0, args.size // 2, args.size // 2])
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    assert x.shape[1:] == (3, args.size, args.size) and x.dtype == torch.float32
    return n / wall, n / cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--size", type=int, default=180)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--order", default="resize-first", choices=["resize-first", "warp-first"])
    ap.add_argument("--modes", default="decode_each_time,cached_decoded")
    ap.add_argument("--json", action="store_true", help="also print one JSON line a mode")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(42)
    transform = keras_tutorial_transform(args.size, args.order)
    folder = datasets.ImageFolder(args.data, transform=transform)
    print(f"torchvision {__import__('torchvision').__version__}, torch {torch.__version__}: {len(folder)} images, "
          f"{args.size}x{args.size}, {args.order}, {args.epochs} epochs, {args.workers} DataLoader workers", flush=True)
    for mode in args.modes.split(","):
        if mode == "decode_each_time":
            dataset = folder
        elif mode == "cached_decoded":
            dataset = CachedImages(folder, transform)
        elif mode == "cached_resized":
            if args.order != "resize-first":
                raise SystemExit("cached_resized needs --order resize-first")
            dataset = CachedImages(folder, T.Compose(keras_tutorial_augment() + [T.ToTensor()]), resize_to=args.size)
        else:
            raise SystemExit(f"unknown mode {mode!r} (decode_each_time, cached_decoded, cached_resized)")
        per_s, per_cpu_s = measure(dataset, args)
        print(f"RESULT torchvision_{mode} {per_s:.1f} images/s ({per_cpu_s:.1f} images per CPU-second)", flush=True)
        if args.json:
            print(json.dumps({"program": "pytorch", "workload": "augment", "mode": mode, "order": args.order,
                              "size": args.size, "images": len(folder), "epochs": args.epochs,
                              "workers": args.workers, "images_per_second": round(per_s, 2),
                              "images_per_cpu_second": round(per_cpu_s, 2)}), flush=True)


if __name__ == "__main__":
    main()
