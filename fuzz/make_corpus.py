#!/usr/bin/python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/): small valid files of each format,
so that the fuzzer starts from inputs that reach deep into each reader. Needs /usr/bin/python3 with
torch, h5py, numpy and PIL (scripts/setup.sh --test). Deterministic; rerun only to change the seeds.
"""
import collections
import io
import json
import os
import pickle
import struct
import zipfile

import h5py
import numpy as np
import torch
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def out(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- model files, laid out as weights/model_file.cpp writes them ----
def fnv1a(b):
    h = 0xCBF29CE484222325
    for c in b:
        h = ((h ^ c) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def model_file(meta, tensors):
    index, data = [], b""
    for name, dtype, shape, raw in tensors:
        index.append({"name": name, "dtype": dtype, "shape": shape, "offset": len(data), "nbytes": len(raw)})
        data += raw
    meta = dict(meta, format="imagefit-model", format_version=1, tensors=index)
    js = json.dumps(meta, separators=(",", ":")).encode()
    b = b"IMAGEFIT" + struct.pack("<IIQ", 1, 0, len(js)) + js + data
    return b + struct.pack("<Q", fnv1a(b)) + b"IFITEND\n"


network = {"arch": "simple-cnn", "alpha": 1.0, "image_size": 16, "normalization": "unit", "resize": "squash",
           "classes": ["cat", "dog"],
           "head": {"pooling": "flatten", "in_features": 3, "hidden": 0, "dropout": 0.5, "classes": 2}}
fc = np.arange(6, dtype="<f4").tobytes()
out("model_file", "simple", model_file({"network": network, "training": {"best_epoch": 1, "val_loss": 0.5}},
                                       [("head.fc.weight", "float32", [2, 3], fc),
                                        ("head.fc.bias", "float32", [2], np.zeros(2, "<f4").tobytes()),
                                        ("steps", "int64", [], struct.pack("<q", 7))]))
out("model_file", "no_tensors", model_file({"network": dict(network, resize="crop")}, []))
out("model_file", "mobilenet", model_file(
    {"network": dict(network, arch="keras-mobilenet-v2", alpha=0.35, image_size=96, normalization="symmetric",
                     head={"pooling": "avg", "in_features": 1280, "hidden": 8, "dropout": 0.2, "classes": 2})},
    [("head.hidden.weight", "float32", [2, 2], np.ones(4, "<f4").tobytes()), ("empty", "float32", [0, 4], b"")]))

# ---- Keras .h5: the layer names read_keras_backbone looks for, tiny shapes ----
def h5(name, layout):
    path = "/tmp/imagefit-corpus.h5"
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights") if layout == "saved" else f
        layers = ([("Conv1", "kernel:0", (3, 3, 3, 4)), ("bn_Conv1", "gamma:0", (4,)),
                   ("expanded_conv_depthwise", "depthwise_kernel:0", (3, 3, 4, 1)), ("block_1_expand", "kernel:0", (1, 1, 4, 8)),
                   ("dense", "kernel:0", (8, 2))]
                  if layout != "v1" else
                  [("conv1", "kernel:0", (3, 3, 3, 2)), ("conv1_bn", "moving_variance:0", (2,)),
                   ("conv_dw_1", "depthwise_kernel:0", (3, 3, 2, 1)), ("conv_pw_1", "kernel:0", (1, 1, 2, 4))])
        for layer, var, shape in layers:
            g = root.require_group(layer).require_group("sequential" if layout == "saved" else layer)
            g.create_dataset(var, data=np.linspace(-1, 1, int(np.prod(shape)), dtype="f4").reshape(shape))
    with open(path, "rb") as f:
        out("keras_h5", name, f.read())
    os.remove(path)


h5("weights_only_v2", "top")
h5("saved_model_v2", "saved")
h5("weights_only_v1", "v1")

# ---- .pth: torch.save zip and legacy, a checkpoint, views ----
def pth(name, obj, zip_format=True):
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=zip_format)
    out("pth", name, buf.getvalue())
    return buf.getvalue()


base = torch.arange(12, dtype=torch.float32)
sd = collections.OrderedDict([("conv.weight", base.view(3, 4)), ("conv.bias", base[2:5]),
                              ("bn.num_batches_tracked", torch.tensor(3)), ("t", base.view(3, 4).t()),
                              ("h", torch.ones(2, dtype=torch.float16))])
zipped = pth("state_dict_zip", sd)
pth("state_dict_legacy", sd, zip_format=False)
pth("checkpoint_zip", {"epoch": 3, "state_dict": collections.OrderedDict([("w", torch.zeros(2, 2))]), "lr": 0.1})

# ---- pickles: torch's data.pkl, the legacy stream, and plain Python values in protocols 2-5 ----
with zipfile.ZipFile(io.BytesIO(zipped)) as z:
    out("pickle", "torch_data_pkl", z.read([n for n in z.namelist() if n.endswith("data.pkl")][0]))
with open(os.path.join(ROOT, "pth", "state_dict_legacy"), "rb") as f:
    out("pickle", "legacy_stream", f.read()[:600])
values = {"a": [1, -2, 300, 70000, 2 ** 40, 2 ** 70, -(2 ** 70)], "f": 2.5, "s": "x\u00e9", "b": b"\x00\xff",
          "t": (1, (2, 3), ()), "n": None, "yes": True, "no": False, "set": {1, 2}, "fs": frozenset([3])}
for proto in (2, 3, 4, 5):
    out("pickle", "values_p%d" % proto, pickle.dumps(values, protocol=proto))
out("pickle", "values_p0", pickle.dumps([1, 2.5, "s", (1, 2), {"k": None}], protocol=0))

# ---- images: every format imagefit decodes, in the variants image_io converts ----
rgb = Image.fromarray(np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3) * 3)
for fmt, name, img, kw in [("PNG", "rgb.png", rgb, {}), ("PNG", "gray.png", rgb.convert("L"), {}),
                           ("PNG", "rgba.png", rgb.convert("RGBA"), {}), ("PNG", "palette.png", rgb.convert("P"), {}),
                           ("PNG", "gray16.png", Image.fromarray((np.arange(64, dtype=np.uint16) * 1000).reshape(8, 8)), {}),
                           ("JPEG", "rgb.jpg", rgb, {"quality": 50}), ("JPEG", "gray.jpg", rgb.convert("L"), {}),
                           ("JPEG", "progressive.jpg", rgb, {"progressive": True}),
                           ("BMP", "rgb.bmp", rgb, {}), ("TIFF", "rgb.tif", rgb, {}), ("WEBP", "rgb.webp", rgb, {"quality": 50})]:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    out("image_decode", name, buf.getvalue())
# EXIF orientation 6 (rotate 90): decode applies it.
exif = Image.Exif()
exif[0x0112] = 6
buf = io.BytesIO()
rgb.save(buf, "JPEG", exif=exif.tobytes())
out("image_decode", "exif_rotated.jpg", buf.getvalue())
