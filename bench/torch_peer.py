#!/usr/bin/python3
"""The PyTorch peer of bench/compare.sh: each of imagefit's workloads written as a PyTorch user who
knows the cost writes it (torch 1.13 / torchvision 0.14, Debian's /usr/bin/python3). Every subcommand
prints one JSON line with its timing ({"program": "pytorch", "workload": ..., "variant": ...}).

  /usr/bin/python3 bench/torch_peer.py augment  --data DIR [--mode decode_each_time|cached_resized|cached_decoded] [--epochs 2]
  /usr/bin/python3 bench/torch_peer.py scratch  --data DIR [--variant fp32|bf16] [--epochs 2]
  /usr/bin/python3 bench/torch_peer.py finetune --data DIR [--variant fp32|bf16] [--epochs 1]
  /usr/bin/python3 bench/torch_peer.py extract  --data DIR [--variant fp32|bf16|jit]
  /usr/bin/python3 bench/torch_peer.py predict  --image JPG [--classes 2] [--variant fp32|bf16|jit] [--calls 50]

Common to all: torch.set_num_threads(os.cpu_count()) (--threads), DataLoader workers = cores
(--workers), channels_last for every network, random weights (speed only). Variants:
  fp32  plain float32
  bf16  torch.autocast("cpu", dtype=torch.bfloat16) around the forward pass (loss in float32)
  jit   inference only: torch.jit.trace + torch.jit.freeze (BatchNorm folded, as imagefit's frozen graph)

Workloads (what imagefit does in brackets):
  augment   the Keras tutorial's augmentation at 180x180, Resize((180, 180)) FIRST (Keras's
            flow_from_directory resizes at load), then RandomAffine(degrees=40, translate=(0.2, 0.2),
            shear=0.2, scale=(0.8, 1.2)) + RandomHorizontalFlip + ToTensor, DataLoader(batch_size=32,
            shuffle=True, num_workers=cores); bench/torchvision_augment.py's code. --order warp-first
            gives the old order.  [bench/augment_bench.cpp]
  scratch   the Keras tutorial's convnet (Conv32-Pool-Conv64-Pool-Conv128-Pool-Conv256-Pool-Conv256-
            Flatten-Dropout0.5-Dense, 3x3 valid convolutions, ReLU; 7x7x256 before Flatten at 180) on
            images decoded and resized once and kept in memory as uint8, x/255 per batch, RMSprop
            lr 1e-3 (rho 0.9, eps 1e-7), batch 32, cross-entropy; training images per second of each
            epoch's training loop.  [imagefit train --arch simple-cnn --augment none; history.csv]
  finetune  torchvision mobilenet_v2(width_mult=0.35) at 224, every layer trainable, Adam (backbone
            1e-4, classifier 1e-3, as imagefit), BatchNorm layers in inference mode (imagefit's Keras
            trainable=False semantics; --bn train for PyTorch's usual), in-memory pre-resized images
            scaled to [-1, 1] per batch.  [imagefit train --strategy fine-tune --unfreeze all]
  extract   the bare frozen-feature pass: ImageFolder (PIL decode) + Resize((224, 224)) + ToTensor +
            Normalize to [-1, 1], DataLoader(batch_size=64, num_workers=cores), mobilenet_v2(0.35)
            .features + global average pooling, eval(), inference_mode; wall time from the first
            DataLoader iteration to all pooled features in one tensor.  [imagefit train
            --strategy feature-extract --augment none: the whole run, decode included]
  predict   one decoded image a call: Resize((224, 224)) + ToTensor + Normalize + model(x) + softmax
            with the whole mobilenet_v2(0.35, num_classes) in eval() and inference_mode; p50 of --calls
            calls after --warmup; also the bare model(x) + softmax on a ready tensor.  [predict_bench]
"""
import argparse
import json
import os
import sys
import time
import traceback

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision import transforms as T

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def emit(record):
    record = {"program": "pytorch", **record}
    print(json.dumps(record), flush=True)


def median(values):
    v = sorted(values)
    n = len(v)
    return None if n == 0 else (v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2]))


def autocast(variant):
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=(variant == "bf16"))


def load_in_memory(data, size, workers):
    """Every image of an ImageFolder decoded and resized to size x size once, as one uint8 N x 3 x S x S
    tensor (channels_last) and its labels: what imagefit's ImageCache holds."""
    folder = datasets.ImageFolder(data, transform=T.Compose([T.Resize((size, size)), T.PILToTensor()]))
    loader = DataLoader(folder, batch_size=64, num_workers=workers)
    xs, ys = [], []
    for x, y in loader:
        xs.append(x)
        ys.append(y)
    x = torch.cat(xs).contiguous(memory_format=torch.channels_last)
    return x, torch.cat(ys), len(folder.classes)


def train_split(n, val_split, seed=0):
    # The training part of a --val-split hold-out (imagefit trains on 1 - val_split of the images).
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=g)
    return perm[: n - int(round(n * val_split))]


def train_epochs(model, optimizer, x_all, y_all, epochs, batch_size, variant, scale, bn_eval=False):
    """Epochs of minibatch training on in-memory uint8 images; seconds of each epoch's training loop."""
    n = x_all.shape[0]
    seconds, stats = [], []
    for epoch in range(epochs):
        model.train()
        if bn_eval:
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        perm = torch.randperm(n)
        t0 = time.perf_counter()
        loss_sum, correct = 0.0, 0
        for first in range(0, n, batch_size):
            idx = perm[first:first + batch_size]
            x = scale(x_all[idx].float()).contiguous(memory_format=torch.channels_last)
            y = y_all[idx]
            optimizer.zero_grad(set_to_none=True)
            with autocast(variant):
                logits = model(x)
            loss = F.cross_entropy(logits.float(), y)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(idx)
            correct += int((logits.argmax(1) == y).sum())
        seconds.append(time.perf_counter() - t0)
        stats.append({"loss": round(loss_sum / n, 4), "accuracy": round(correct / n, 4)})
    return seconds, stats


def keras_tutorial_convnet(size, classes):
    layers, channels, s = [], 3, size
    for i, out in enumerate([32, 64, 128, 256, 256]):
        layers += [nn.Conv2d(channels, out, 3), nn.ReLU(inplace=True)]
        channels, s = out, s - 2
        if i < 4:
            layers.append(nn.MaxPool2d(2))
            s //= 2
    layers += [nn.Flatten(), nn.Dropout(0.5), nn.Linear(channels * s * s, classes)]
    for m in layers:  # glorot_uniform kernels, zero biases (Keras, as imagefit)
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return nn.Sequential(*layers), s


def cmd_augment(args):
    import torchvision_augment as ta
    transform = ta.keras_tutorial_transform(args.size, args.order)
    folder = datasets.ImageFolder(args.data, transform=transform)
    if args.mode == "decode_each_time":
        dataset = folder
    elif args.mode == "cached_decoded":
        dataset = ta.CachedImages(folder, transform)
    elif args.mode == "cached_resized":
        dataset = ta.CachedImages(folder, T.Compose(ta.keras_tutorial_augment() + [T.ToTensor()]), resize_to=args.size)
    ns = argparse.Namespace(epochs=args.epochs, workers=args.workers, size=args.size)
    per_s, per_cpu_s = ta.measure(dataset, ns)
    emit({"workload": "augment", "variant": args.mode, "order": args.order, "images": len(folder),
          "size": args.size, "epochs": args.epochs, "workers": args.workers,
          "images_per_second": round(per_s, 2), "images_per_cpu_second": round(per_cpu_s, 2)})


def cmd_scratch(args):
    x_all, y_all, classes = load_in_memory(args.data, args.size, args.workers)
    keep = train_split(len(y_all), args.val_split)
    x, y = x_all[keep], y_all[keep]
    torch.manual_seed(0)
    model, s = keras_tutorial_convnet(args.size, classes)
    model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    seconds, stats = train_epochs(model, optimizer, x, y, args.epochs, args.batch_size, args.variant, lambda t: t / 255)
    rates = [len(y) / s_ for s_ in seconds]
    emit({"workload": "scratch", "variant": args.variant, "size": args.size, "train_images": len(y),
          "feature_map": [256, s, s], "epochs": args.epochs, "batch_size": args.batch_size,
          "epoch_seconds": [round(v, 3) for v in seconds], "epoch_images_per_second": [round(v, 2) for v in rates],
          "images_per_second": round(median(rates), 2), "last_epoch": stats[-1]})


class Clamp6(nn.Module):
    def forward(self, t):
        return torch.clamp(t, 0, 6)


def relu6_as_clamp(model):
    """ReLU6 as clamp(0, 6): the same function, with a bf16 backward in torch 1.13 (hardtanh has none)."""
    for m in model.modules():
        for name, child in m.named_children():
            if isinstance(child, nn.ReLU6):
                setattr(m, name, Clamp6())


def mobilenet(classes, width=0.35):
    return torchvision.models.mobilenet_v2(width_mult=width, num_classes=classes)


def cmd_finetune(args):
    x_all, y_all, classes = load_in_memory(args.data, args.size, args.workers)
    keep = train_split(len(y_all), args.val_split)
    x, y = x_all[keep], y_all[keep]
    torch.manual_seed(0)
    model = mobilenet(classes).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam([{"params": model.features.parameters(), "lr": 1e-4},
                                  {"params": model.classifier.parameters(), "lr": 1e-3}])
    record = {"workload": "finetune", "variant": args.variant, "size": args.size, "train_images": len(y),
              "epochs": args.epochs, "batch_size": args.batch_size, "batchnorm": args.bn}
    scale = lambda t: t / 127.5 - 1
    try:
        seconds, stats = train_epochs(model, optimizer, x, y, args.epochs, args.batch_size, args.variant, scale,
                                      bn_eval=args.bn == "eval")
    except (RuntimeError, NotImplementedError) as e:
        if args.variant != "bf16":
            raise
        # torch 1.13 on CPU: a backward kernel without bf16. Name the op, then do what a user would:
        # ReLU6 as clamp (same function, bf16 backward), and if that is not enough report it unavailable.
        record["bf16_error"] = str(e).splitlines()[0][:300]
        record["workaround"] = "nn.ReLU6 -> clamp(0, 6)"
        relu6_as_clamp(model)
        try:
            seconds, stats = train_epochs(model, optimizer, x, y, args.epochs, args.batch_size, args.variant, scale,
                                          bn_eval=args.bn == "eval")
        except (RuntimeError, NotImplementedError) as e2:
            record["error"] = "bf16 unavailable: " + str(e2).splitlines()[0][:300]
            emit(record)
            return
    rates = [len(y) / s_ for s_ in seconds]
    record.update({"epoch_seconds": [round(v, 3) for v in seconds], "epoch_images_per_second": [round(v, 2) for v in rates],
                   "images_per_second": round(median(rates), 2), "last_epoch": stats[-1]})
    emit(record)


def cmd_train_step(args):
    """Forward + backward + Adam step of the whole MobileNetV2-0.35 on random input (no data pipeline),
    as bench/train_step_bench.cpp times imagefit's: the network's own training cost."""
    torch.manual_seed(0)
    model = mobilenet(2).to(memory_format=torch.channels_last)
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
    if args.variant == "bf16":  # hardtanh has no bf16 backward in torch 1.13
        relu6_as_clamp(model)
    optimizer = torch.optim.Adam([{"params": model.features.parameters(), "lr": 1e-4},
                                  {"params": model.classifier.parameters(), "lr": 1e-3}])
    x = (torch.rand(args.batch_size, 3, args.size, args.size) * 2 - 1).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 2, (args.batch_size,))

    def step():
        optimizer.zero_grad(set_to_none=True)
        with autocast(args.variant):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    for _ in range(2):
        step()
    t0 = time.perf_counter()
    for _ in range(args.iterations):
        step()
    s_ = time.perf_counter() - t0
    emit({"program": "pytorch", "workload": "train-step", "variant": args.variant, "size": args.size,
          "batch": args.batch_size, "threads": args.threads, "images_per_second": round(args.batch_size * args.iterations / s_, 1)})


class Pooled(nn.Module):
    """mobilenet_v2's backbone and global average pooling: the frozen features imagefit computes."""

    def __init__(self, features):
        super().__init__()
        self.features = features

    def forward(self, x):
        return torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1)


def inference_model(model, variant, size):
    model = model.eval().to(memory_format=torch.channels_last)
    if variant == "jit":
        example = torch.rand(1, 3, size, size).contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            model = torch.jit.freeze(torch.jit.trace(model, example))
    return model


def cmd_extract(args):
    t_start = time.perf_counter()
    normalize = T.Normalize([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])  # [0, 1] -> [-1, 1], MobileNetV2's input
    folder = datasets.ImageFolder(args.data, transform=T.Compose([T.Resize((args.size, args.size)), T.ToTensor(), normalize]))
    model = inference_model(Pooled(mobilenet(1000).features), args.variant, args.size)
    t_ready = time.perf_counter()
    loader = DataLoader(folder, batch_size=args.batch_size, num_workers=args.workers)
    t0 = time.perf_counter()
    parts = []
    with torch.inference_mode(), autocast(args.variant):
        for x, _y in loader:
            parts.append(model(x.contiguous(memory_format=torch.channels_last)).float())
    features = torch.cat(parts)
    seconds = time.perf_counter() - t0
    assert features.shape[0] == len(folder)
    emit({"workload": "extract", "variant": args.variant, "images": len(folder), "size": args.size,
          "batch_size": args.batch_size, "workers": args.workers, "features": list(features.shape),
          "seconds": round(seconds, 3), "images_per_second": round(len(folder) / seconds, 2),
          "setup_seconds": round(t_ready - t_start, 3)})


def cmd_predict(args):
    normalize = T.Normalize([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
    preprocess = T.Compose([T.Resize((args.size, args.size)), T.ToTensor(), normalize])
    with Image.open(args.image) as img:
        rgb = img.convert("RGB")
    rgb.load()
    model = inference_model(mobilenet(args.classes), args.variant, args.size)

    def predict():
        x = preprocess(rgb).unsqueeze(0).contiguous(memory_format=torch.channels_last)
        with autocast(args.variant):
            return torch.softmax(model(x).float(), 1)

    ready = (torch.rand(1, 3, args.size, args.size) * 2 - 1).contiguous(memory_format=torch.channels_last)

    def forward():
        with autocast(args.variant):
            return torch.softmax(model(ready).float(), 1)

    def timed(f):
        for _ in range(args.warmup):
            f()
        ms = []
        for _ in range(args.calls):
            t0 = time.perf_counter()
            f()
            ms.append((time.perf_counter() - t0) * 1e3)
        ms.sort()
        return {"p50_ms": round(median(ms), 3), "p90_ms": round(ms[min(len(ms) - 1, int(0.9 * (len(ms) - 1) + 0.5))], 3),
                "mean_ms": round(sum(ms) / len(ms), 3)}

    with torch.inference_mode():
        p, fw = timed(predict), timed(forward)
    emit({"workload": "predict", "variant": args.variant, "size": args.size, "classes": args.classes,
          "calls": args.calls, "predict": p, "forward": fw})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)

    def add(name, func, size):
        p = sub.add_parser(name)
        p.set_defaults(func=func)
        p.add_argument("--threads", type=int, default=os.cpu_count())
        p.add_argument("--workers", type=int, default=os.cpu_count())
        p.add_argument("--size", type=int, default=size)
        return p

    p = add("augment", cmd_augment, 180)
    p.add_argument("--data", required=True)
    p.add_argument("--mode", default="decode_each_time", choices=["decode_each_time", "cached_decoded", "cached_resized"])
    p.add_argument("--order", default="resize-first", choices=["resize-first", "warp-first"])
    p.add_argument("--epochs", type=int, default=2)
    for name, func, size, epochs in (("scratch", cmd_scratch, 180, 2), ("finetune", cmd_finetune, 224, 1)):
        p = add(name, func, size)
        p.add_argument("--data", required=True)
        p.add_argument("--variant", default="fp32", choices=["fp32", "bf16"])
        p.add_argument("--epochs", type=int, default=epochs)
        p.add_argument("--batch-size", type=int, default=32)
        p.add_argument("--val-split", type=float, default=0.2, help="train on 1 - this of the images, as imagefit")
        if name == "finetune":
            p.add_argument("--bn", default="eval", choices=["eval", "train"])
    p = add("train-step", cmd_train_step, 224)
    p.add_argument("--variant", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--iterations", type=int, default=10)
    p = add("extract", cmd_extract, 224)
    p.add_argument("--data", required=True)
    p.add_argument("--variant", default="fp32", choices=["fp32", "bf16", "jit"])
    p.add_argument("--batch-size", type=int, default=64)
    p = add("predict", cmd_predict, 224)
    p.add_argument("--image", required=True)
    p.add_argument("--classes", type=int, default=2)
    p.add_argument("--variant", default="fp32", choices=["fp32", "bf16", "jit"])
    p.add_argument("--calls", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    try:
        args.func(args)
    except Exception as e:  # one JSON line either way, so compare.sh can report what failed
        traceback.print_exc()
        emit({"workload": args.command, "variant": getattr(args, "variant", getattr(args, "mode", "")),
              "error": f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"})
        sys.exit(1)


if __name__ == "__main__":
    main()
