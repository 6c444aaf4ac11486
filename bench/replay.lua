-- wrk script for bench/ingest.py: replays pre-built raw HTTP requests from a file.
--
--   wrk -t2 -c32 -d15s -s bench/replay.lua http://127.0.0.1:8080 -- requests.bin SLICES FIRST
--
-- The file starts with the number of records on a line of its own; each record is its
-- length in bytes on a line, then the exact request bytes (request line, headers, body).
-- The records are cut into SLICES equal slices (default 1); thread k takes slice FIRST + k
-- (FIRST defaults to 0) and cycles through it, so threads, and runs given different
-- FIRSTs, never send the same request. `wrapped` counts how often a thread started its
-- slice over (from then on, it sends requests it already sent). `done` prints one JSON
-- line prefixed with "WRK_JSON " (latencies in microseconds).

local threads = {}
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

function init(args)
   local path = args[1]
   local slices = tonumber(args[2] or "1")
   local slice = tonumber(args[3] or "0") + id
   local f = assert(io.open(path, "rb"))
   local total = tonumber(f:read("*l"))
   local per = math.floor(total / slices)
   assert(slice < slices, "not enough slices for this thread")
   local first = slice * per
   local last = first + per - 1
   reqs = {}
   for i = 0, last do
      local n = tonumber(f:read("*l"))
      if i >= first then
         reqs[#reqs + 1] = f:read(n)
      else
         f:seek("cur", n)
      end
   end
   f:close()
   count = #reqs
   pos = 0
   wrapped = 0
end

function request()
   pos = pos + 1
   if pos > count then
      pos = 1
      wrapped = wrapped + 1
   end
   return reqs[pos]
end

function done(summary, latency, requests)
   local wraps = 0
   for _, thread in ipairs(threads) do
      wraps = wraps + (thread:get("wrapped") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"duration_us":%d,"requests":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,'
         .. '"write_errors":%d,"status_errors":%d,"timeouts":%d,"latency_mean_us":%.1f,'
         .. '"latency_p50_us":%d,"latency_p90_us":%d,"latency_p99_us":%d,"latency_max_us":%d,'
         .. '"wrapped":%d}\n',
      summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status,
      e.timeout, latency.mean, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, wraps))
end
