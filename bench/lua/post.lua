-- Generic wrk driver for bench/: POSTs requests taken at random from a data file that
-- bench/harness.py writes (a Lua file returning { {method=, path=, headers={...}, body=}, ... }).
-- "@@UNIQUE@@" in a header or body becomes <nonce>-<thread>-<counter>: unique Idempotency-Keys.
-- Usage: wrk -s bench/lua/post.lua http://host:port -- <data file> <nonce>
-- done() prints one line "WRK_JSON {...}" with the counts and latency percentiles (us);
-- every response outside 2xx is counted as a failure.

local threads = {}
local counter = 0
non2xx = 0

function setup(thread)
  thread:set("thread_index", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local data_file = args[1]
  nonce = args[2] or tostring(os.time())
  request_list = dofile(data_file)
  request_count = #request_list
  math.randomseed(os.time() * 1000 + thread_index)
end

local function unique(value)
  if value == nil then return nil end
  local key = nonce .. "-" .. thread_index .. "-" .. counter
  return (string.gsub(value, "@@UNIQUE@@", key))
end

function request()
  counter = counter + 1
  local item = request_list[math.random(request_count)]
  local headers = {}
  for name, value in pairs(item.headers) do
    headers[name] = unique(value)
  end
  return wrk.format(item.method or "POST", item.path, headers, unique(item.body))
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do
    failed = failed + (thread:get("non2xx") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "non2xx": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f, "p95_us": %d}\n',
    summary.requests, summary.duration, failed, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency:percentile(95)))
end
