#!/bin/sh
# The render cache's file (render_cache_disk, issue 18): a config pushed out
# of memory is served from it without a render, byte for byte; a change is
# never served stale from it; the file has no name and no plaintext secret;
# a record altered on disk is a miss (rendered again), never served; a
# record the kernel would have to read from disk is rendered instead of
# waited for (busy); a render_cache_dir that cannot be used leaves the
# memory tier working.
. "$(dirname "$0")/../lib.sh"
need curl
need python3

sp init >/dev/null
sp tenant add open --device-auth none >/dev/null
sp template set open main registrar=sip.open.test >/dev/null
awk 'BEGIN { print "mac,layout,template,line,extension,username,auth_username,password";
	for (i = 0; i < 40; i++) printf "0015aa%06x,yealink,main,1,%d,%d,a%d,Disk-Secret-%d-x\n", i, 1000 + i, 1000 + i,
		1000 + i, 1000 + i }' >"$T/fleet.csv"
sp import "$T/fleet.csv" --tenant open >/dev/null
is "$(sql "select count(*) from device")" 40 "40 devices with one account each"

renders() { metric sipprov_renders_total; }
disk() { metric "sipprov_render_cache_disk_total{result=\"$1\"}"; }
# pass N: every device's file once, in MAC order, one curl, bodies kept in $T/N/.
pass() {
	mkdir -p "$T/$1"
	awk -F, -v u="$URL" -v d="$T/$1" 'NR > 1 { printf "url = \"%s/%s.cfg\"\noutput = \"%s/%s\"\n", u, $1, d, $1 }' \
		"$T/fleet.csv" >"$T/pass.curl"
	curl -s -K "$T/pass.curl"
}
same() { diff -r "$T/$1" "$T/$2" >/dev/null; }
# The running sipprovd's descriptor of its render cache file (in $T/rc).
file_fd() { ls -l "/proc/$SIPPROVD_PID/fd" | awk -v d="$T/rc/sipprov-render-" 'index($0, d) { print $9 }'; }

# 8 configs in memory: most of a pass over 40 is pushed out of it.  A 1 MiB
# file: its index is 256 buckets of 64 bytes, the records after it.
mkdir "$T/rc"
start_sipprovd -o insecure_loopback=yes -o render_cache=8 -o render_cache_disk=1 -o render_cache_dir="$T/rc"
pass 1
is "$(renders)" 40 "the first pass renders each device once"
ok "$([ "$(disk stored)" -ge 32 ] && echo 0 || echo 1)" "what memory let go of went to the file ($(disk stored) of 40; memory keeps 8)"
grep -q 'Disk-Secret-1000-x' "$T/1/0015aa000000"; ok $? "the served config carries the line password"
pass 2
# A read that would wait (a page the kernel is writing back) renders: busy.
is "$(( $(renders) - $(disk busy) ))" 40 "the second pass renders nothing: what memory lost, the file had"
ok "$([ "$(disk hit)" -ge 30 ] && echo 0 || echo 1)" "most of the pass came from the file ($(disk hit) hits)"
same 1 2; ok $? "byte for byte the configs of the first pass"

# The file: open, unlinked, encrypted.
fd=$(file_fd)
ok "$([ -n "$fd" ] && echo 0 || echo 1)" "sipprovd holds the file open (fd ${fd:-none})"
like "$(readlink "/proc/$SIPPROVD_PID/fd/$fd")" '\(deleted\)$' "and it has no name left"
is "$(ls -A "$T/rc" | wc -l)" 0 "nothing is left in render_cache_dir"
size=$(stat -L -c %s "/proc/$SIPPROVD_PID/fd/$fd")
ok "$([ "$size" -gt 40000 ] && echo 0 || echo 1)" "the file holds the 40 configs ($size bytes)"
grep -qa -e 'Disk-Secret' -e 'sip.open.test' "/proc/$SIPPROVD_PID/fd/$fd"
is $? 1 "no password nor any other config text in it"

# A change: the next fetch of every device is the new config, from a render.
sp template set open main registrar=sip2.open.test >/dev/null
pass 3
is "$(grep -l 'sip2.open.test' "$T/3"/* | wc -l)" 40 "after a template change every device gets the new registrar"
is "$(renders)" 80 "each one rendered: nothing stale came from the file"
pass 4
is "$(( $(renders) - $(disk busy) ))" 80 "the new configs are kept in the file in turn"

# Alter byte 40 of every 64-byte unit after the index: inside each record's
# sealed bytes (a record starts on a unit, its length and nonce are its first
# 16 bytes).  Every record then fails its tag: rendered again, never served.
hits=$(disk hit) stored=$(disk stored)
python3 - "/proc/$SIPPROVD_PID/fd/$fd" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    data = bytearray(f.read())
    for i in range(256 * 64 + 40, len(data), 64):
        data[i] ^= 0x5a
    f.seek(0)
    f.write(data)
EOF
pass 5
same 3 5; ok $? "after the file was altered the configs served are still right"
# Memory's 8 were never in the file: the renders pushing them out write
# them there, after the change, and a later fetch may find them.
ok "$([ $(( $(disk hit) - hits )) -le $(( $(disk stored) - stored )) ] && echo 0 || echo 1)" \
	"no altered record was served ($(( $(disk hit) - hits )) hits, all of records written since)"
ok "$([ "$(renders)" -ge 110 ] && echo 0 || echo 1)" "the devices memory lost were rendered again ($(renders) renders)"
stop_sipprovd
is "$SIPPROVD_RC" 0 "sipprovd stops cleanly"

# A folder it cannot use: said once, and the memory tier serves.
start_sipprovd -o insecure_loopback=yes -o render_cache=8 -o render_cache_dir="$T/none"
grep -q "cannot create a file in render_cache_dir '$T/none'" "$SIPPROVD_LOG"
ok $? "a missing render_cache_dir is logged by name"
pass 6
same 3 6; ok $? "configs are served without the file"
is "$(disk stored)" 0 "and none is kept"

# A fleet that fits in memory: nothing is written to the file (a boot
# storm of it pays no disk write).
stop_sipprovd
start_sipprovd -o insecure_loopback=yes -o render_cache=1000 -o render_cache_dir="$T/rc"
pass 8
pass 9
is "$(renders)" 40 "40 devices in a 1000-config memory: rendered once"
is "$(disk stored)" 0 "and nothing written to the file"
same 3 9; ok $? "the same configs"

# render_cache_disk = 0: no file at all.
stop_sipprovd
start_sipprovd -o insecure_loopback=yes -o render_cache_disk=0 -o render_cache_dir="$T/rc"
pass 7
ls -l "/proc/$SIPPROVD_PID/fd" | grep -q sipprov-render
is $? 1 "render_cache_disk = 0 opens no file"
same 3 7; ok $? "and serves the same configs"

# Memory keeps what is fetched again soon, not every hit in the file: a
# fleet five times render_cache, fetched in turn, leaves memory's 8 configs
# where they are, and each pass finds them there (before, every hit in the
# file pushed one of them out, and the next pass found none).
stop_sipprovd
start_sipprovd -o insecure_loopback=yes -o render_cache=8 -o render_cache_dir="$T/rc"
mem() { echo $(( $(metric 'sipprov_http_requests_total{route="device",code="200"}') - $(disk hit) - $(disk miss) - $(disk busy) )); }
pass 10
is "$(disk hit)" 0 "a new daemon's first pass is all renders"
m0=$(mem); pass 11
is "$(( $(mem) - m0 ))" 8 "the second pass: memory's 8 configs from memory"
is "$(disk hit)" 32 "the other 32 from the file"
m0=$(mem); pass 12
is "$(( $(mem) - m0 ))" 8 "the third pass: the same 8 still in memory"
same 3 12; ok $? "the same configs"
# One config fetched three times in a row: the second hit in the file
# (memory missed it twice within render_cache misses) is kept in memory.
mac=$(awk -F, 'NR > 1 { print $1 }' "$T/fleet.csv" | while read -r m; do
	h=$(disk hit); curl -fs -o /dev/null "$URL/$m.cfg"
	[ "$(disk hit)" -gt "$h" ] && { echo "$m"; break; }; done)
h=$(disk hit); curl -fs -o /dev/null "$URL/$mac.cfg"
is "$(( $(disk hit) - h ))" 1 "a config fetched again at once comes from the file once more ($mac)"
m0=$(mem); curl -fs -o /dev/null "$URL/$mac.cfg"
is "$(( $(mem) - m0 ))" 1 "and is then kept: the third fetch is served from memory"
stop_sipprovd

# The file's pages dropped from the kernel's cache (written out, then let
# go): a hit would now wait for the disk, and the HTTP loop, with every
# connection it serves, with it (up to 33 ms under load).  Those fetches
# are rendered instead (busy), the kernel reads the pages in meanwhile, and
# the configs are the same.  The build before read them, waiting: no busy.
start_sipprovd -o insecure_loopback=yes -o render_cache=8 -o render_cache_dir="$T/rc"
pass 13
fd=$(file_fd)
python3 - "/proc/$SIPPROVD_PID/fd/$fd" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.fdatasync(fd)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.close(fd)
EOF
r0=$(renders) b0=$(disk busy) m0=$(disk miss)
pass 14
busy=$(( $(disk busy) - b0 ))
ok "$([ "$busy" -ge 1 ] && echo 0 || echo 1)" \
	"a pass over the dropped file: $busy fetches found their record busy ($(stat -f -c %T "$T/rc"))"
is "$(( $(renders) - r0 ))" "$busy" "each of them rendered, and only they"
is "$(( $(disk miss) - m0 ))" 0 "no record was lost: the others came from the file"
same 3 14; ok $? "the same configs"

done_testing
