#!/bin/sh
# Issue 16: `sipprov firmware rm` of an image that a firmware.<model>
# setting still picks is refused, naming every template (its current
# version, or a version a device is pinned to), tenant default and device
# override that references it; nothing is removed.  Once no setting picks
# it, rm removes the row and the file.
. "$(dirname "$0")/../lib.sh"
need sqlite3

# On PostgreSQL images live in firmware_dir (nothing sits beside a URL):
# name $T/firmware, the folder SQLite's default gives, in the configuration
# both the CLI (SIPPROV_CONF) and sipprovd (-f) read.
FW="$T/firmware"
if backend_is pg; then echo "firmware_dir = $FW"; else echo "# firmware/ beside $DB"; fi >"$T/fw.conf"
export SIPPROV_CONF="$T/fw.conf"
sp init >/dev/null || bail "init"
sp tenant add acme >/dev/null && sp tenant add beta >/dev/null || bail "tenants"
head -c 4096 /dev/urandom >"$T/a.rom"; head -c 4096 /dev/urandom >"$T/b.rom"; head -c 4096 /dev/urandom >"$T/c.rom"
sp firmware add "$T/a.rom" --vendor yealink --model T46G --version 1.2 >/dev/null &&
sp firmware add "$T/b.rom" --vendor yealink --model T46G --version 1.3 >/dev/null &&
sp firmware add "$T/c.rom" --vendor yealink --model T48G --version 2.0 >/dev/null || bail "firmware add"
FWDIR=$FW
sha() { sha256sum "$1" | cut -c1-64; }
rows() { sql "SELECT count(*) FROM firmware"; }

sp template set acme main registrar=example.test firmware.T46G=1.2 >/dev/null || bail "template"
err=$(sp firmware rm --vendor yealink --model T46G --version 1.2 2>&1); rc=$?
is "$rc" 1 "rm of an image the current template version picks is refused"
like "$err" "firmware yealink T46G 1.2 is still picked by 1 setting: template acme/main v1 \\(firmware.T46G\\)" \
	"the refusal names the template, its version and the setting"
is "$(rows)" 3 "no row removed"
test -f "$FWDIR/$(sha "$T/a.rom")"; ok $? "the file is kept"

# Tenant defaults and device overrides reference it too (the model's case may differ).
sp tenant set beta firmware.t48g=2.0 >/dev/null || bail "tenant default"
sp device add 001565000291 --tenant acme --layout yealink --model T48G firmware.T48G=2.0 >/dev/null || bail "device"
err=$(sp firmware rm --vendor yealink --model T48G --version 2.0 2>&1); rc=$?
is "$rc" 1 "rm of an image a tenant default and a device override pick is refused"
like "$err" "picked by 2 settings: .*tenant beta \\(firmware.t48g\\)" "counts them and names the tenant default"
like "$err" "device 001565000291 \\(firmware.T48G\\)" "names the device override"
is "$(rows)" 3 "still no row removed"

# A new template version that picks 1.3 frees 1.2 ... unless a device is pinned to v1.
sp template set acme main firmware.T46G=1.3 >/dev/null || bail "template v2"
sp device add 001565000292 --tenant acme --layout yealink --model T46G --template main >/dev/null || bail "device 2"
sp template pin 001565000292 1 >/dev/null || bail "pin"
err=$(sp firmware rm --vendor yealink --model T46G --version 1.2 2>&1); rc=$?
is "$rc" 1 "rm refused while a device is pinned to the version that picks it"
like "$err" "template acme/main v1 \\(firmware.T46G\\)" "naming the pinned version"
unlike "$err" "v2" "the current version (1.3) is not named"
sp template unpin 001565000292 >/dev/null || bail "unpin"
out=$(sp firmware rm --vendor yealink --model T46G --version 1.2 2>&1); rc=$?
is "$rc" 0 "rm succeeds once only history references it"
like "$out" "firmware yealink T46G 1.2 removed" "and says so"
is "$(rows)" 2 "its row is gone"
test ! -e "$FWDIR/$(sha "$T/a.rom")"; ok $? "and its file"
like "$(sp firmware rm --vendor yealink --model T46G --version 1.3 2>&1)" "template acme/main v2" \
	"the image v2 picks is refused in turn"
done_testing
