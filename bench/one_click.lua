-- RFC 8058 one-click unsubscribes for wrk, paced to a fixed rate (Debian's wrk has no
-- -R): each request takes the next slot of a schedule, start + n / rate, so the
-- connections share one steady rate instead of bursting. Each request unsubscribes the
-- next subscriber in the paths file (one path a line); wrk --latency reports the
-- percentiles, done() the answers that were not 200. Each 200 answer's page links to
-- the subscriber's preferences, v1.<id>.<mac>: that id is written to the answered file,
-- so the benchmark checks exactly the subscribers who were told they are unsubscribed.
--
--   wrk -t1 -c4 -d30s --latency -s bench/one_click.lua http://127.0.0.1:8080 -- paths.txt 200 answered.txt

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_usec; } bench_timeval;
  int gettimeofday(bench_timeval *tv, void *tz);
]]
local tv = ffi.new("bench_timeval")
local function now_ms()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

local paths = {}
local rate = 200
local slot = 0
local start = nil
local answered_file = nil
next_path = 0
answered = 0
not_ok = 0
statuses = ""

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  rate = tonumber(args[2] or "200")
  answered_file = io.open(args[3] or "/dev/null", "w")
  wrk.method = "POST"
  wrk.body = "List-Unsubscribe=One-Click"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function delay()
  if start == nil then start = now_ms() end
  local due = start + slot * 1000 / rate
  slot = slot + 1
  local wait = due - now_ms()
  if wait > 0 then return math.floor(wait) end
  return 0
end

function request()
  next_path = next_path + 1
  return wrk.format(nil, paths[((next_path - 1) % #paths) + 1])
end

function response(status, headers, body)
  answered = answered + 1
  local id = body:match("/preferences/v1%.(%d+)%.")
  if status == 200 and id then
    answered_file:write(id, "\n")
    answered_file:flush()
  end
  if status ~= 200 then
    not_ok = not_ok + 1
    if #statuses < 200 then statuses = statuses .. status .. " " end
  end
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.write(string.format("lua: issued %d, answered %d, not 200: %d %s\n", thread:get("next_path"),
      thread:get("answered"), thread:get("not_ok"), thread:get("statuses")))
  end
  for _, p in ipairs({ 50, 90, 99, 99.9 }) do
    io.write(string.format("lua: p%s %.2f ms\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("lua: max %.2f ms\n", latency.max / 1000))
end
