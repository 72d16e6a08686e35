-- wrk script for bench/serve_load.sh: POSTs one image file (path in $IMAGE) to /api/predict as a raw
-- body, and prints one machine-readable RESULT line at the end.
local path = os.getenv("IMAGE")
assert(path, "set IMAGE to the image file to post")
local f = assert(io.open(path, "rb"))
local body = f:read("*a")
f:close()
local types = { jpg = "image/jpeg", jpeg = "image/jpeg", png = "image/png", bmp = "image/bmp", webp = "image/webp" }
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = types[(path:lower():match("%.(%w+)$"))] or "application/octet-stream"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_s=%.2f rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f " ..
    "non2xx=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, e.status, e.connect, e.read, e.write, e.timeout))
end
