-- wrk script of Vellum's benchmark: every request takes the next path of a list, so that
-- consecutive requests differ (wrk alone repeats one URL, which any cache answers).
-- Usage: wrk ... -s wrk.lua URL -- PATHS_FILE   (one request path per line)
-- At the end it prints one JSON line: requests, seconds, errors, latency percentiles.

local threads = {}
local paths = {}
local position = 0

-- In wrk's main Lua state, once per thread: each thread is told its number.
function setup(thread)
  thread:set("thread_number", #threads)
  table.insert(threads, thread)
end

-- In each thread's own Lua state: read the paths, start at this thread's own place.
function init(args)
  local file = args[1]
  if file == nil then
    error("wrk.lua needs the paths file after --")
  end
  for line in io.lines(file) do
    if line ~= "" then
      if string.sub(line, 1, 1) ~= "/" then
        error("not a request path: " .. line)
      end
      table.insert(paths, line)
    end
  end
  if #paths == 0 then
    error("no request paths in " .. file)
  end
  -- Threads start half a list apart (thread_number is 0, 1, ...).
  position = ((thread_number or 0) * math.floor(#paths / 2)) % #paths
end

function request()
  position = position % #paths + 1
  return wrk.format(nil, paths[position])
end

local function percentile_ms(latency, p)
  return latency:percentile(p) / 1000
end

-- Back in the main state: the figures as one JSON line, read by the benchmark.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.6f, "errors": {"connect": %d, "read": %d, "write": %d,'
      .. ' "status": %d, "timeout": %d}, "p50_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6, e.connect, e.read, e.write, e.status, e.timeout,
    percentile_ms(latency, 50), percentile_ms(latency, 99), latency.max / 1000
  ))
end
