-- wrk script for tests/scale/run.sh: POSTs the JSON body in $SCALE_BODY and prints one
-- line of wrk's own counts:
--   wrk requests=N seconds=S rps=R p50_ms=.. p99_ms=.. non2xx=.. connect=.. read=.. write=.. timeout=..
local f = assert(io.open(os.getenv("SCALE_BODY"), "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = body

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "wrk requests=%d seconds=%.2f rps=%.1f p50_ms=%.2f p99_ms=%.2f non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    e.status, e.connect, e.read, e.write, e.timeout))
end
