-- wrk script for tests/peers/https_bench.sh: each wrk thread fetches its
-- own device's path with a pre-computed digest Authorization header
-- (one nonce per device, nc = 1, 2, 3, ... as libmicrohttpd requires),
-- on a new connection every time (Connection: close = full TLS handshake).
-- wrk ... -s wrk_digest.lua URL -- PATH1 HDRFILE1 PATH2 HDRFILE2 ...
local counter = 0
function setup(thread)
	thread:set("id", counter)
	counter = counter + 1
end

function init(args)
	path = args[id * 2 + 1]
	hdrs = {}
	for line in io.lines(args[id * 2 + 2]) do
		hdrs[#hdrs + 1] = line
	end
	i = 0
end

function request()
	i = i + 1
	if i > #hdrs then i = #hdrs end
	return wrk.format("GET", path, { ["Authorization"] = hdrs[i], ["Connection"] = "close" })
end
