#!/usr/bin/python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/): small valid files of each format,
so that the fuzzer starts from inputs that reach deep into each reader. Needs /usr/bin/python3 with
torch, h5py, numpy and PIL (scripts/setup.sh --test), except `make_corpus.py http_request`, which
writes only the HTTP seeds. Deterministic; rerun only to change the seeds.
"""
import collections
import io
import json
import os
import pickle
import struct
import sys
import zipfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def out(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- HTTP: one client's whole stream each (fuzz/http_request.cpp serves it as one connection) ----
def request(method, path, headers=(), body=b"", version="HTTP/1.1"):
    head = "%s %s %s\r\n" % (method, path, version) + "".join("%s: %s\r\n" % h for h in headers) + "\r\n"
    return head.encode() + body


PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
                    "0000000c4944415408d763f8ffff3f0005fe02fea7d6a4d00000000049454e44ae426082")
HOST = ("Host", "127.0.0.1")
boundary = "----imagefit7MA4YWxk"
multipart = ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
             "Content-Type: image/png\r\n\r\n" % boundary).encode() + PNG + (
             "\r\n--%s\r\nContent-Disposition: form-data; name=\"top_k\"\r\n\r\n3\r\n--%s--\r\n"
             % (boundary, boundary)).encode()
SMUGGLED = request("GET", "/smuggled", [HOST])
chunked = b"4;ext=1\r\nabcd\r\n3\r\nefg\r\n0\r\nX-Trailer: t\r\n\r\n"
HTTP = {
    "get_healthz": request("GET", "/healthz", [HOST]),
    "head_healthz_http10": request("HEAD", "/healthz", [HOST, ("Connection", "keep-alive")], version="HTTP/1.0"),
    "get_query_range": request("GET", "/healthz?a=%41&b%5B%5D=1&c", [HOST, ("Range", "bytes=0-3,5-,-2")]),
    "post_predict": request("POST", "/predict?top_k=2", [HOST, ("Content-Type", "image/png"),
                                                         ("Content-Length", str(len(PNG)))], PNG),
    "post_multipart": request("POST", "/api/predict", [HOST, ("Content-Type", "multipart/form-data; boundary=" + boundary),
                                                       ("Content-Length", str(len(multipart)))], multipart),
    "post_chunked": request("POST", "/predict", [HOST, ("Transfer-Encoding", "chunked")], chunked),
    "post_expect_continue": request("POST", "/predict", [HOST, ("Expect", "100-continue"), ("Content-Length", "4")], b"abcd"),
    "pipelined": request("GET", "/healthz", [HOST]) +
                 request("POST", "/predict", [HOST, ("Content-Length", "5")], b"hello") +
                 request("GET", "/nope", [HOST]) +
                 request("GET", "/healthz", [HOST, ("Connection", "close")]),
    "unread_body": request("GET", "/healthz", [HOST, ("Content-Length", str(len(SMUGGLED)))], SMUGGLED) +
                   request("GET", "/healthz", [HOST]),
    "conflicting_length": request("POST", "/predict", [HOST, ("Content-Length", "5"), ("Content-Length", "30")], b"hello") +
                          request("GET", "/healthz", [HOST]),
    "same_length_list": request("POST", "/predict", [HOST, ("Content-Length", "5, 5"), ("Content-Length", "5")], b"hello"),
    "length_and_chunked": request("POST", "/predict", [HOST, ("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
                                  b"0\r\n\r\n"),
    "transfer_gzip": request("POST", "/predict", [HOST, ("Transfer-Encoding", "gzip, chunked")], b"0\r\n\r\n"),
    "bad_length": request("POST", "/predict", [HOST, ("Content-Length", "-1")]),
    "too_large": request("POST", "/predict", [HOST, ("Content-Length", "100000")], b"x" * 64),
    "partial_headers": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: abc",
    "partial_body": request("POST", "/predict", [HOST, ("Content-Length", "1000")], b"only a little"),
    "put_other": request("PUT", "/x/y", [HOST, ("Content-Length", "2")], b"{}") + request("OPTIONS", "*", [HOST]),
}


for name, data in HTTP.items():
    out("http_request", name, data)
if sys.argv[1:] == ["http_request"]:
    sys.exit(0)

import h5py  # noqa: E402 (the other corpora need these; the HTTP seeds above do not)
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402


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
