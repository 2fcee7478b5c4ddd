-- signed.lua: wrk script of tests/bench/bench-webhook. Each thread POSTs
-- the pre-signed bodies of its own file (PREFIX.<thread>: "signature TAB
-- body" per line, made with python3-twilio: wrk's LuaJIT has no HMAC-SHA1),
-- one per request from line START on, so every request has a CallSid of
-- its own; after the last line it starts over and counts a wrap.
--   wrk ... -s signed.lua URL -- PREFIX PATH START

threads = {}
local nthreads = 0

function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(args[1] .. "." .. tid, "r"))
  sigs, bodies = {}, {}
  for line in f:lines() do
    local tab = line:find("\t", 1, true)
    sigs[#sigs + 1] = line:sub(1, tab - 1)
    bodies[#bodies + 1] = line:sub(tab + 1)
  end
  f:close()
  path = args[2]
  i = tonumber(args[3] or "0") % #bodies
  wrapped = 0
end

function request()
  i = i + 1
  if i > #bodies then
    i = 1
    wrapped = wrapped + 1
  end
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = sigs[i],
  }, bodies[i])
end

function done(summary, latency, requests)
  local w = 0
  for _, t in ipairs(threads) do w = w + (t:get("wrapped") or 0) end
  local e = summary.errors
  io.write(string.format('BENCH {"requests": %d, "duration_us": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "status_errors": %d, ' ..
    '"socket_errors": %d, "wrapped": %d}\n', summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout, w))
end
