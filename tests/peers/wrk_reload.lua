-- wrk script for tests/t/13-reload-stress.sh: GET a device's config and its
-- vendor's common file in turn, and check every response: status 200, a
-- Content-Length equal to the body received, and a body and Content-Type
-- that are exactly those of one layout variant (a or b), never a mix.
-- wrk ... -s wrk_reload.lua URL -- DEVPATH COMMONPATH DIR
-- DIR holds dev.a dev.b common.a common.b ctype.a ctype.b (expected bytes).
local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

local function slurp(p)
	local f = assert(io.open(p, "rb"))
	local s = f:read("*a")
	f:close()
	return s
end

function init(args)
	paths = { args[1], args[2] }
	local d = args[3]
	want = {
		[slurp(d .. "/dev.a")] = "a", [slurp(d .. "/common.a")] = "a",
		[slurp(d .. "/dev.b")] = "b", [slurp(d .. "/common.b")] = "b",
	}
	ctype = { a = slurp(d .. "/ctype.a"), b = slurp(d .. "/ctype.b") }
	n, ok_a, ok_b, bad, first_bad = 0, 0, 0, 0, ""
end

function request()
	n = n + 1
	return wrk.format("GET", paths[n % 2 + 1])
end

local function header(headers, name)
	for k, v in pairs(headers) do
		if k:lower() == name then return v end
	end
	return nil
end

function response(status, headers, body)
	local v = want[body]
	local why = nil
	if status ~= 200 then
		why = "status " .. status
	elseif tonumber(header(headers, "content-length") or "-1") ~= #body then
		why = "content-length " .. tostring(header(headers, "content-length")) .. " for " .. #body .. " bytes"
	elseif not v then
		why = "body is neither variant: " .. body:sub(1, 120)
	elseif header(headers, "content-type") ~= ctype[v] then
		why = "variant " .. v .. " body with content-type " .. tostring(header(headers, "content-type"))
	end
	if why then
		bad = bad + 1
		if first_bad == "" then first_bad = why:gsub("\n", " ") end
	elseif v == "a" then
		ok_a = ok_a + 1
	else
		ok_b = ok_b + 1
	end
end

function done(summary, latency, requests)
	local a, b, x, first = 0, 0, 0, ""
	for _, t in ipairs(threads) do
		a = a + t:get("ok_a")
		b = b + t:get("ok_b")
		x = x + t:get("bad")
		if first == "" then first = t:get("first_bad") end
	end
	local e = summary.errors
	io.write(string.format("RESULT ok_a=%d ok_b=%d bad=%d errors=%d first_bad=%s\n", a, b, x,
		e.connect + e.read + e.write + e.status + e.timeout, first))
end
