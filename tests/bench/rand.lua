-- wrk script: GET a pseudo-random device's {mac}.json among $DEVICES,
-- optionally with "Connection: close" ($CLOSE=1) for one request per connection.
-- Each thread walks the same permutation (steps of 7919, prime to 10^k),
-- started an equal share of it apart: in step, the threads asked for the
-- same device at about the same time, so half of a big fleet's fetches
-- were render-cache hits.
local n = tonumber(os.getenv("DEVICES") or "10000")
local close = os.getenv("CLOSE") == "1"
local i = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  for k, t in ipairs(threads) do
    t:set("id", k - 1)
    t:set("nthreads", #threads)
  end
end

function init(args)
  i = ((id or 0) * math.floor(n / (nthreads or 1)) * 7919) % n
end

request = function()
  i = (i + 7919) % n
  local k = i
  if k % 2 == 0 then k = (k + 1) % n end   -- odd devices use the json layout
  local hdr = {}
  if close then hdr["Connection"] = "close" end
  return wrk.format("GET", string.format("/0015%08x.json", 0x10000000 + k), hdr)
end
