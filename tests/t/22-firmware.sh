#!/bin/sh
# Firmware: `sipprov firmware add|list|rm` keeps images once by SHA-256
# under the data folder; sipprovd serves them at /fw/<sha256>/<name> with
# ETag, If-None-Match, HEAD and one byte range.  A 30 MB download cut off
# half way resumes with `curl -C -` and ends byte-identical (sha256sum);
# 20 slow downloads at once do not copy the file into the daemon's memory;
# bad input is refused by name and changes nothing.
. "$(dirname "$0")/../lib.sh"
need curl sha256sum sqlite3 jq

# On PostgreSQL images live in firmware_dir (nothing sits beside a URL):
# name $T/firmware, the folder SQLite's default gives, in the configuration
# both the CLI (SIPPROV_CONF) and sipprovd (-f) read.
FW="$T/firmware"
if backend_is pg; then echo "firmware_dir = $FW"; else echo "# firmware/ beside $DB"; fi >"$T/fw.conf"
export SIPPROV_CONF="$T/fw.conf"
sp init >/dev/null
head -c 31457280 /dev/urandom >"$T/T46S-66.86.0.15.rom"
SHA=$(sha256sum <"$T/T46S-66.86.0.15.rom" | cut -d' ' -f1)

out=$(sp firmware add "$T/T46S-66.86.0.15.rom" --vendor yealink --model T46S --version 66.86.0.15); rc=$?
is "$rc" 0 "firmware add exits 0"
like "$out" "31457280 bytes, sha256 $SHA" "says the size and the SHA-256"
like "$out" "served at: /fw/$SHA/T46S-66.86.0.15.rom" "and the URL path it is served at (SPEC)"
is "$(stat -c %a "$FW/$SHA")" 640 "stored as firmware/<sha256>, 0640"
cmp -s "$FW/$SHA" "$T/T46S-66.86.0.15.rom"
ok $? "the stored file is the image"
is "$(ls -A "$FW" | wc -l)" 1 "no temporary file left"
sp firmware add "$T/T46S-66.86.0.15.rom" --vendor yealink --model T46U --version 66.86.0.15 >/dev/null
is "$(ls -A "$FW" | wc -l)" 1 "the same image for a second model is stored once"
js=$(sp --json firmware list)
is "$(echo "$js" | jq length)" 2 "list --json has both rows"
is "$(echo "$js" | jq -r '.[0] | .vendor + " " + .model + " " + .version + " " + .filename')" \
	"yealink T46S 66.86.0.15 T46S-66.86.0.15.rom" "a row names vendor, model, version and file"

# Refusals name the field and write nothing.
before=$(sql "SELECT count(*) FROM firmware")
err=$(sp firmware add "$T/T46S-66.86.0.15.rom" --vendor yealink --model T46S --version 66.86.0.15 2>&1); rc=$?
is "$rc" 1 "a duplicate vendor/model/version is a user error"
like "$err" "firmware yealink T46S 66.86.0.15 already exists" "the error names it"
err=$(sp firmware add "$T/T46S-66.86.0.15.rom" --vendor acme --model X --version 1 2>&1)
like "$err" "vendor 'acme' is not a desk-phone layout" "an unknown vendor is named"
err=$(sp firmware add "$T/T46S-66.86.0.15.rom" --vendor yealink --model 'T4/6' --version 1 2>&1)
like "$err" "model 'T4/6'" "a model with a slash is named"
err=$(sp firmware add "$T/T46S-66.86.0.15.rom" --vendor yealink --model T46 --version '1 2' 2>&1)
like "$err" "version '1 2'" "a version with a space is named"
err=$(sp firmware add "$T/missing.rom" --vendor yealink --model T48 --version 1 2>&1); rc=$?
is "$rc" 1 "a missing file is a user error"
like "$err" "cannot read '$T/missing.rom'" "the error names the file"
err=$(sp firmware add "$T" --vendor yealink --model T48 --version 1 2>&1)
like "$err" "is not a regular file" "a folder is refused"
sp firmware add "$T/T46S-66.86.0.15.rom" --vendor yealink --model T48 >/dev/null 2>&1
is "$?" 2 "a missing --version is a usage error"
is "$(sql "SELECT count(*) FROM firmware")" "$before" "no refused add wrote a row"
is "$(ls -A "$FW" | wc -l)" 1 "no refused add left a file"

start_sipprovd -f "$SIPPROV_CONF"
F="$URL/fw/$SHA/T46S-66.86.0.15.rom"
curl -s -o "$T/full" "$F"
is "$(sha256sum <"$T/full" | cut -d' ' -f1)" "$SHA" "a whole download is byte-identical"
h=$(curl -sI "$F")
like "$h" "HTTP/1.1 200" "HEAD answers 200"
like "$h" "Content-Length: 31457280" "HEAD gives the length"
like "$h" "ETag: \"$SHA\"" "the ETag is the SHA-256"
like "$h" "Accept-Ranges: bytes" "ranges are offered"
is "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: \"$SHA\"" "$F")" 304 "If-None-Match: 304"
h=$(curl -s -D - -o "$T/part" -r 1000-1999 "$F")
like "$h" "HTTP/1.1 206" "a range answers 206"
like "$h" "Content-Range: bytes 1000-1999/31457280" "with its Content-Range"
dd if="$T/T46S-66.86.0.15.rom" of="$T/want" bs=1000 skip=1 count=1 2>/dev/null
cmp -s "$T/part" "$T/want"
ok $? "the range holds those bytes"
h=$(curl -s -D - -o /dev/null -r 40000000- "$F")
like "$h" "HTTP/1.1 416" "a range past the end answers 416"
like "$h" "Content-Range: bytes \\*/31457280" "naming the size"
is "$(curl -s -o /dev/null -w '%{http_code}' -H 'If-Range: "other"' -r 0-9 "$F")" 200 \
	"If-Range with another ETag sends the whole file"

# Interrupted at about half, then resumed.
curl -s --limit-rate 10M --max-time 1.5 -o "$T/resumed" "$F"
got=$(stat -c %s "$T/resumed")
[ "$got" -gt 0 ] && [ "$got" -lt 31457280 ]
ok $? "the first download was cut off part way ($got bytes)"
curl -s -C - -o "$T/resumed" "$F"
is "$(sha256sum <"$T/resumed" | cut -d' ' -f1)" "$SHA" "curl -C - resumes it to a byte-identical file"
like "$(tail -3 "$T/access.log")" "\"GET /fw/<redacted>/T46S-66.86.0.15.rom\" 206" "the resume is logged as a 206"

# Twenty slow downloads at once: the daemon streams from the file
# (sendfile), it never holds a copy (20 x 30 MB would be 600 MB).
rss0=$(awk '/VmRSS/ {print $2}' /proc/$SIPPROVD_PID/status)
pids=""
for i in $(seq 1 20); do
	curl -s --limit-rate 2M -o /dev/null "$F" &
	pids="$pids $!"
done
sleep 2
rss1=$(awk '/VmRSS/ {print $2}' /proc/$SIPPROVD_PID/status)
kill $pids 2>/dev/null; wait $pids 2>/dev/null
diag "daemon RSS $rss0 kB before, $rss1 kB with 20 downloads in flight"
[ $((rss1 - rss0)) -lt 32768 ]
ok $? "20 concurrent downloads add less than 32 MB to the daemon's RSS"

# Unknown or malformed URLs, and a damaged file.
is "$(curl -s -o /dev/null -w '%{http_code}' "$URL/fw/$(echo "$SHA" | tr 0-9 a-j | cut -c1-64)/x.rom")" 404 \
	"an unknown hash is 404"
is "$(curl -s -o /dev/null -w '%{http_code}' "$URL/fw/$SHA")" 404 "no name: 404"
is "$(curl -s -o /dev/null -w '%{http_code}' "$URL/fw/$SHA/a/b")" 404 "two names: 404"
is "$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "$URL/fw/../$SHA/x")" 404 "a dot segment: 404"
is "$(curl -s -o /dev/null -w '%{http_code}' "$URL/fw/$(echo "$SHA" | tr a-f A-F)/x.rom")" 404 "uppercase hash: 404"
# A file that is not its name's image is, for this node, not there: 404
# as for an unknown image (another node may hold the right one), logged
# once per image with the hash, so the admin knows what to copy.
cp "$FW/$SHA" "$T/keep"
truncate -s 100 "$FW/$SHA"
is "$(curl -s -o /dev/null -w '%{http_code}' "$F")" 404 "a file whose size differs from its row is not served"
curl -s -o /dev/null "$F"
is "$(grep -c "firmware $SHA: '$FW/$SHA' is not that image (size 100 differs from the table's 31457280)" \
	"$SIPPROVD_LOG")" 1 "the daemon says why, once for two requests"
cp "$T/keep" "$FW/$SHA"
is "$(curl -s -o /dev/null -w '%{http_code}' "$F")" 200 "the right file copied back is served again"
like "$(cat "$SIPPROVD_LOG")" "firmware $SHA: now in '$FW': serving it" "and the daemon says so"
# Same size, other bytes: only the SHA-256 tells (checked once per file
# version: the write changes its mtime).
b=X; [ "$(dd if="$FW/$SHA" bs=1 skip=12345 count=1 2>/dev/null)" = X ] && b=Y
printf %s "$b" | dd of="$FW/$SHA" bs=1 seek=12345 conv=notrunc 2>/dev/null
is "$(curl -s -o /dev/null -w '%{http_code}' "$F")" 404 "a file of the right size but another SHA-256 is not served"
like "$(cat "$SIPPROVD_LOG")" "firmware $SHA: '$FW/$SHA' is not that image \\(its sha256 is [0-9a-f]{16}\\.\\.\\)" \
	"the daemon names the mismatch"
cp "$T/keep" "$FW/$SHA"
is "$(curl -s -o /dev/null -w '%{http_code}' "$F")" 200 "and serves the right bytes once they are back"

# rm: the file stays while another row holds it.
out=$(sp firmware rm --vendor yealink --model T46S --version 66.86.0.15)
like "$out" "its file is kept" "removing one of two rows keeps the file"
is "$(curl -s -o /dev/null -w '%{http_code}' "$F")" 200 "and it is still served"
sp firmware rm --vendor yealink --model T46U --version 66.86.0.15 >/dev/null
[ ! -e "$FW/$SHA" ]
ok $? "removing the last row removes the file"
is "$(curl -s -o /dev/null -w '%{http_code}' "$F")" 404 "then it is 404"
err=$(sp firmware rm --vendor yealink --model T46U --version 66.86.0.15 2>&1); rc=$?
is "$rc" 1 "removing it again is a user error"
like "$err" "no firmware yealink T46U 66.86.0.15" "naming it"
is "$(sql "SELECT action FROM audit_log WHERE action LIKE 'firmware.%' ORDER BY id" | paste -sd,)" \
	"firmware.add,firmware.add,firmware.rm,firmware.rm" "adds and removals are audited"

done_testing
