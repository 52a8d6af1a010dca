#!/bin/sh
# sipprov tenant move: the dry run lists per device which settings change
# (old -> new) and a summary, writing nothing; a target template that would
# give any device an invalid config refuses the whole move; the real run
# writes one transaction with one audit entry, drops version pins, and the
# renders follow.  10,000 devices are previewed (time reported).
. "$(dirname "$0")/../lib.sh"
need sqlite3 awk

sp init >/dev/null || bail "init failed"
sp tenant add acme >/dev/null || bail "tenant add failed"
sp template set acme old registrar=old.acme.test server=old.acme.test port=5060 transport=udp >/dev/null
sp template set acme new registrar=new.acme.test server=new.acme.test port=5061 transport=tls >/dev/null
sp template set acme same registrar=old.acme.test server=old.acme.test port=5060 transport=udp >/dev/null
awk 'BEGIN {
	print "mac,layout,model,label,template,line,display_name,extension,username,auth_username,password,port"
	for (i = 1; i <= 10000; i++)
		printf "0015650%05x,yealink,T46G,,old,1,User %d,%d,u%06d,a%06dx,pw-%d,%s\n", i, i, 1000 + i, i, i, i, (i == 2 ? "5070" : "")
}' > "$T/t.csv"
sp import "$T/t.csv" --tenant acme >/dev/null || bail "import failed"
sp template pin 001565000003 1 >/dev/null 2>&1
snap() { sql "select template||':'||pinned_version from device order by mac" | paste -sd, | cksum; }
before=$(snap)

out=$(sp tenant move acme --template new --dry-run 2>&1); rc=$?
is "$rc" 0 "dry run exits 0"
like "$out" '001565000001  template: old -> new; version: 1 -> 1; port: 5060 -> 5061; registrar: old.acme.test -> new.acme.test; server: old.acme.test -> new.acme.test; transport: udp -> tls' \
	"dry run lists each change old -> new"
like "$out" '001565000002  template: old -> new; version: 1 -> 1; registrar: old.acme.test -> new.acme.test; server: old.acme.test -> new.acme.test; transport: udp -> tls' \
	"a device override (port 5070) survives the move: port is not listed"
like "$out" 'summary: 10000 devices, 10000 changing; template 10000, version 10000, port 9999, registrar 10000, server 10000, transport 10000' \
	"summary with per-field counts"
secs=$(printf '%s\n' "$out" | sed -n 's/^summary: .*(\([0-9.]*\) s)$/\1/p')
diag "tenant move preview of 10,000 devices: $secs s"
# A figure, not a threshold: timing asserts fail on a loaded machine and
# under sanitizers without saying anything about the code.
ok "$(awk -v s="$secs" 'BEGIN { exit !(s != "") }'; echo $?)" "preview of 10,000 devices reports its time ($secs s)"
is "$(snap)" "$before" "dry run wrote nothing"
out=$(sp tenant move acme --template same --dry-run --json 2>&1)
like "$out" '"changing": 10000' "same settings, other template: every device changes template"
unlike "$out" '"field": "registrar"' "but no setting changes"
like "$(sp tenant move acme --template nosuch --dry-run 2>&1)" "no template 'nosuch' in tenant 'acme'" "unknown template refused"

# A template whose transport contradicts its port (created with --force):
# the move validates every device's merged settings and refuses.
sp --force template set acme bad registrar=new.acme.test server=new.acme.test port=5061 transport=udp >/dev/null 2>&1
is "$(sql "select count(*) from template where name='bad'")" 1 "a contradicting template exists (forced)"
out=$(sp tenant move acme --template bad 2>&1); rc=$?
is "$rc" 1 "move to a template giving invalid configs is refused"
like "$out" 'error: device 001565000001: ' "the refusal names the device"
like "$out" '9999 devices would get an invalid config: nothing was changed' "and counts them (device 2's port override is no contradiction)"
is "$(snap)" "$before" "nothing changed"

audits=$(sql "select count(*) from audit_log where action='tenant move'")
out=$(sp tenant move acme --template new 2>&1); rc=$?
is "$rc" 0 "real move exits 0"
like "$out" 'moved 10000 devices of tenant acme to template new' "reports the move"
is "$(sql "select count(*) from device where template='new' and pinned_version=0")" 10000 "every device on template new, pins dropped"
is "$(sql "select count(*) from audit_log where action='tenant move'")" $((audits + 1)) "one audit entry"
like "$(sp render 001565000001)" 'account.1.sip_server.1.address = new.acme.test' "render follows the move"
like "$(sp render 001565000002)" 'account.1.sip_server.1.port = 5070' "device override still applies"
out=$(sp tenant move acme --template new --dry-run 2>&1)
like "$out" 'summary: 10000 devices, 0 changing' "moving again changes nothing"
done_testing
