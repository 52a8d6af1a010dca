-- wrk script: GET a pseudo-random device's {mac}.json among $DEVICES,
-- optionally with "Connection: close" ($CLOSE=1) for one request per connection.
local n = tonumber(os.getenv("DEVICES") or "10000")
local close = os.getenv("CLOSE") == "1"
local i = 0
request = function()
  i = (i + 7919) % n
  local k = i
  if k % 2 == 0 then k = (k + 1) % n end   -- odd devices use the json layout
  local hdr = {}
  if close then hdr["Connection"] = "close" end
  return wrk.format("GET", string.format("/0015%08x.json", 0x10000000 + k), hdr)
end
