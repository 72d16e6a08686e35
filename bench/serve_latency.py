#!/usr/bin/env python3
"""Latency client for bench/serve_latency.sh: POSTs one image to /api/predict N times over ONE
kept-alive connection and N times on a fresh connection each, one request at a time (the two
alternating), and prints p50/p99/mean/max per mode, and the same for the time each answer says the
server spent on it ("ms"). The client sets TCP_NODELAY and sends each request in one send()
(http.client joins headers and a bytes body), so what it measures is the server's side.

Usage: serve_latency.py URL IMAGE [N] [WARMUP]    (URL: http://127.0.0.1:PORT/; loopback only)
"""
import http.client
import json
import math
import socket
import sys
import time
import urllib.parse

TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".bmp": "image/bmp", ".webp": "image/webp"}


def connect(host, port):
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def post(conn, path, body, ctype, close=False):
    headers = {"Content-Type": ctype}
    if close:
        headers["Connection"] = "close"
    start = time.perf_counter()
    conn.request("POST", path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    ms = (time.perf_counter() - start) * 1000.0
    if resp.status != 200:
        raise SystemExit(f"serve_latency: HTTP {resp.status}: {data[:300]!r}")
    return ms, json.loads(data)


def percentile(sorted_ms, q):  # nearest rank
    k = max(0, min(len(sorted_ms) - 1, math.ceil(q / 100.0 * len(sorted_ms)) - 1))
    return sorted_ms[k]


def report(name, ms):
    s = sorted(ms)
    print(f"{name:<14} {len(s):>5} {percentile(s, 50):>8.2f} {percentile(s, 99):>8.2f} "
          f"{sum(s) / len(s):>8.2f} {s[-1]:>8.2f}")


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    url = urllib.parse.urlsplit(sys.argv[1])
    host, port = url.hostname, url.port
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("serve_latency: loopback addresses only")
    image = sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    warmup = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    with open(image, "rb") as f:
        body = f.read()
    ctype = TYPES.get(image[image.rfind("."):].lower(), "application/octet-stream")
    path = "/api/predict?top_k=1"

    # Keep-alive: one connection for the warm-up and all N requests on it. Fresh: a new connection
    # (connect + request + close) each time, timed from connect(). The two alternate, request by
    # request, so that a change in the machine's load affects both alike.
    conn = connect(host, port)
    for _ in range(warmup):
        post(conn, path, body, ctype)
    keep, fresh, keep_server, fresh_server = [], [], [], []
    for _ in range(n):
        ms, answer = post(conn, path, body, ctype)
        keep.append(ms)
        keep_server.append(answer.get("ms", 0.0))
        start = time.perf_counter()
        c = connect(host, port)
        _, answer = post(c, path, body, ctype, close=True)
        fresh.append((time.perf_counter() - start) * 1000.0)
        fresh_server.append(answer.get("ms", 0.0))
        c.close()
    conn.close()

    print(f"{'connection':<14} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'max ms':>8}")
    # "server's ms": what each answer reports, the server's own time from reading the body to the
    # JSON (decode, batch window, forward pass). The client's time minus it is the connection's cost.
    report("keep-alive", keep)
    report("  server's ms", keep_server)
    report("fresh", fresh)
    report("  server's ms", fresh_server)


if __name__ == "__main__":
    main()
