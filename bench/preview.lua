-- preview.lua - wrk script for bench/run_history.sh: POST /v1/preview of a
-- purchase by a random enrolled member (ids "m" + 7 digits, as
-- bench/workload.c makes them), paced like members.lua: each connection
-- waits WRK_DELAY_MS between requests. Every request has a txn of its own,
-- so none is a retry; ts is left out (the engine clock).
local members = tonumber(os.getenv("WRK_MEMBERS") or "100000")
local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "1")
local n = 0

function setup(thread)
   thread:set("seed", math.random(1, 1000000))
end

function init(args)
   math.randomseed(seed or 1)
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   n = n + 1
   local body = string.format(
      '{"v":1,"kind":"purchase","txn":"pv-%d-%d","member":"m%07d","store":"store_%03d","amount":%d}',
      seed, n, math.random(0, members - 1), math.random(0, 199), math.random(100, 50000))
   return wrk.format("POST", "/v1/preview", nil, body)
end

function delay()
   return delay_ms
end
