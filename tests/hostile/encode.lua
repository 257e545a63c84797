-- wrk script for tests/hostile/load.test.mjs: POST /encode with a short text, and count
-- the answers by status and the 429s that lack Retry-After. done() prints one line,
-- "WRKSTATS {json}", that the test reads.
wrk.method = "POST"
wrk.body = '{"text": "The quick brown fox jumps over the lazy dog, again and again."}'
wrk.headers["Content-Type"] = "application/json"

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    statuses = {}
    no_retry_after = 0
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
    if status == 429 and headers["Retry-After"] == nil and headers["retry-after"] == nil then
        no_retry_after = no_retry_after + 1
    end
end

function done(summary, latency, requests)
    local total, missing = {}, 0
    for _, t in ipairs(threads) do
        for k, v in pairs(t:get("statuses")) do total[k] = (total[k] or 0) + v end
        missing = missing + t:get("no_retry_after")
    end
    local parts = {}
    for k, v in pairs(total) do table.insert(parts, string.format('"%d": %d', k, v)) end
    local e = summary.errors
    io.write(string.format('WRKSTATS {"statuses": {%s}, "no_retry_after": %d, "requests": %d, ' ..
        '"seconds": %.3f, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, ' ..
        '"latency_ms": {"mean": %.2f, "p50": %.2f, "p99": %.2f, "max": %.2f}}\n',
        table.concat(parts, ", "), missing, summary.requests, summary.duration / 1e6,
        e.connect, e.read, e.write, e.status, e.timeout, latency.mean / 1000,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
