-- wrk script for `make bench`: POSTs the JSON body in the file $BENCH_BODY to the URL
-- given to wrk, and prints one tab-separated result line for report.py:
--   wrk  requests  duration_us  req_per_s  p50_ms  p99_ms  mean_ms  max_ms  non2xx  socket_errors
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = body

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wrk\t%d\t%d\t%.2f\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, latency.mean / 1e3,
    latency.max / 1e3, e.status, e.connect + e.read + e.write + e.timeout))
end
