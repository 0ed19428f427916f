-- members.lua - wrk script for bench/run.sh: GET /v1/members/ID of random
-- enrolled members (ids "m" + 7 digits, as bench/workload.c makes them),
-- paced: each connection waits WRK_DELAY_MS between requests, so that
-- `-c N` connections ask about N * 1000 / (WRK_DELAY_MS + latency) per second.
local members = tonumber(os.getenv("WRK_MEMBERS") or "100000")
local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "1")

function setup(thread)
   thread:set("seed", math.random(1, 1000000))
end

function init(args)
   math.randomseed(seed or 1)
end

function request()
   return wrk.format("GET", string.format("/v1/members/m%07d", math.random(0, members - 1)))
end

function delay()
   return delay_ms
end
