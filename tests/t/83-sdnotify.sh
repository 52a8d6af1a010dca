#!/bin/sh
# Readiness for systemd's Type=notify: sipprovd sends READY=1 to
# $NOTIFY_SOCKET (a path, or an abstract name starting with '@') only once
# it accepts connections, STOPPING=1 when SIGTERM makes it drain, and runs
# as before when NOTIFY_SOCKET is unset or names no socket.
. "$(dirname "$0")/../lib.sh"
need python3 curl

sp init >/dev/null
# listen SOCKNAME DAEMON_LOG TAG: record datagrams; on READY=1 connect at
# once to the port the daemon logged (port 0: no port to race for).
listen() {
	python3 - "$1" "$2" "$T/notify.$3" <<'PY' &
import re, socket, sys
name, log, out = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + name[1:] if name.startswith("@") else name)
open(out + ".bound", "w").close()
s.settimeout(30)
with open(out, "w") as f:
    while True:
        try:
            d = s.recv(4096).decode()
        except socket.timeout:
            break
        f.write(d + "\n")
        if d == "READY=1":
            m = re.search(r"^http listening on .* port ([0-9]+)$", open(log).read(), re.M)
            port = int(m.group(1)) if m else 1
            c = socket.socket()
            try:
                c.connect(("127.0.0.1", port)); f.write("port open\n")
            except OSError as e:
                f.write("port closed: %s\n" % e)
            c.close()
        f.flush()
        if d == "STOPPING=1":
            break
PY
	track_pid $!
	for _ in $(seq 1 400); do [ -e "$T/notify.$3.bound" ] && break; sleep 0.05; done
}

run() { # run TAG NOTIFY_SOCKET
	listen "$2" "$T/d.$1.log" "$1"
	NOTIFY_SOCKET="$2" "$SIPPROVD" -d -o database="$DB" -o templates="$ROOT/templates" \
		-o http_listen=127.0.0.1:0 -o hep_listen= -o admin_listen= -o access_log= >"$T/d.$1.log" 2>&1 &
	pid=$!
	track_pid $pid
	for _ in $(seq 1 600); do grep -q '^port' "$T/notify.$1" 2>/dev/null && break; sleep 0.05; done
	is "$(head -2 "$T/notify.$1")" "READY=1
port open" "$1 socket: READY=1, and the port accepts connections when it arrives"
	grep -q '^port open' "$T/notify.$1" || sed 's/^/# sipprovd: /' "$T/d.$1.log"
	kill -TERM $pid
	wait $pid; ok $? "$1 socket: SIGTERM, exit 0"
	for _ in $(seq 1 200); do grep -q STOPPING "$T/notify.$1" && break; sleep 0.05; done
	grep -qx STOPPING=1 "$T/notify.$1"; ok $? "$1 socket: STOPPING=1 on SIGTERM"
}
run path "$T/notify.sock"
run abstract "@sipprov-test-$$-$(date +%s%N)"

# No service manager, or a socket nobody listens on: the daemon serves anyway.
for ns in "" "$T/nobody.sock"; do
	export NOTIFY_SOCKET="$ns"
	start_sipprovd          # bails out unless /healthz answers
	unset NOTIFY_SOCKET
	curl -fsS "$URL/healthz" >/dev/null; ok $? "NOTIFY_SOCKET='${ns:+unreachable}': sipprovd serves"
	stop_sipprovd
	is "$SIPPROVD_RC" 0 "and exits 0 on SIGTERM"
done
done_testing
