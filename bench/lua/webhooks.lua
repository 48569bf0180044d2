-- wrk driver for bench/webhooks.py: sends the pre-signed deliveries of a data file in order,
-- each thread its own disjoint share (item = thread_index + counter * threads), so every
-- request is a different deposit's charge.success. Bodies and signature headers are sent
-- verbatim (the signature covers the exact bytes). When a file runs out it wraps around and
-- counts the wrap (the script then reports repeats instead of distinct deliveries).
-- Usage: wrk -s bench/lua/webhooks.lua URL -- <data file> <threads>
-- done() prints "WRK_JSON {...}" like bench/lua/post.lua, plus "wrapped".

local threads = {}
non2xx = 0
wrapped = 0

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  request_list = dofile(args[1])
  thread_count = tonumber(args[2])
  request_count = #request_list
  counter = 0
end

function request()
  local index = thread_index + counter * thread_count
  counter = counter + 1
  if index >= request_count then
    wrapped = wrapped + 1
    index = index % request_count
  end
  local item = request_list[index + 1]
  return wrk.format("POST", item.path, item.headers, item.body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local failed, wraps = 0, 0
  for _, thread in ipairs(threads) do
    failed = failed + (thread:get("non2xx") or 0)
    wraps = wraps + (thread:get("wrapped") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "non2xx": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f, "wrapped": %d, ' ..
    '"p95_us": %d}\n',
    summary.requests, summary.duration, failed, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, wraps, latency:percentile(95)))
end
