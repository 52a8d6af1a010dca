-- wrk script for tests/t/4d-fetch-coalesce.sh: fetch every path of a list
-- exactly PASSES times, pass by pass, as fast as wrk can; User-Agent
-- "4d-pass-P" names the pass.  Thread k of T takes the paths k, k+T, ...
-- so no two threads fetch one device.  Once done, a thread asks /healthz
-- (not a device fetch).  Prints "RESULT ok=N bad=N healthz=N errors=N".
-- With DONEFILE, a thread appends a line to it once all its fetches (but
-- the one wrk never sends) are answered, so the caller can end wrk (SIGINT)
-- when the work is done rather than after a fixed time.
-- wrk ... -s wrk_passes.lua URL -- PATHFILE PASSES THREADS [DONEFILE]
local threads = {}
local nthreads = 0

function setup(thread)
	thread:set("id", nthreads)
	nthreads = nthreads + 1
	table.insert(threads, thread)
end

function init(args)
	paths = {}
	local T = tonumber(args[3])
	local i = 0
	for line in io.lines(args[1]) do
		if i % T == id then table.insert(paths, line) end
		i = i + 1
	end
	passes = tonumber(args[2])
	donefile = args[4]
	n, ok, bad, healthz = 0, 0, 0, 0
end

function request()
	n = n + 1
	if n > #paths * passes then
		return wrk.format("GET", "/healthz")
	end
	local p = math.floor((n - 1) / #paths) + 1
	return wrk.format("GET", paths[(n - 1) % #paths + 1], { ["User-Agent"] = "4d-pass-" .. p })
end

function response(status, headers, body)
	if body == "ok\n" then
		healthz = healthz + 1
	elseif status == 200 then
		ok = ok + 1
	else
		bad = bad + 1
	end
	-- Before any thread starts, wrk calls request() once on the first
	-- thread's script (script_verify_request) and never sends that
	-- request: that thread's first pass-1 fetch.
	local want = #paths * passes - (id == 0 and 1 or 0)
	if donefile and body ~= "ok\n" and ok + bad == want then
		local f = io.open(donefile, "a")
		f:write("done\n")
		f:close()
	end
end

function done(summary, latency, requests)
	local a, b, h = 0, 0, 0
	for _, t in ipairs(threads) do
		a = a + t:get("ok")
		b = b + t:get("bad")
		h = h + t:get("healthz")
	end
	local e = summary.errors
	io.write(string.format("RESULT ok=%d bad=%d healthz=%d errors=%d\n", a, b, h,
		e.connect + e.read + e.write + e.status + e.timeout))
end
