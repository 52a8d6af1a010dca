#!/bin/sh
# sipprov import / export through the real CLI on a real database: a
# 10,000-row file with one swapped username/auth username at row 7,777
# writes nothing and names that row and field; the clean file imports in one
# transaction with one audit entry; export -> import into an empty database
# renders every device identically; quoting, BOM, CRLF, duplicates, unknown
# columns, foreign devices and missing passwords are refused by row.
. "$(dirname "$0")/../lib.sh"
need sqlite3 awk

counts() { sql_db "$1" "select (select count(*) from device)||'/'||(select count(*) from account)"; }

setup() { # setup DB
	"$SIPPROV" -d "$1" init >/dev/null || bail "init failed"
	"$SIPPROV" -d "$1" tenant add acme --username-pattern '^u[0-9]{6}$' --auth-username-pattern '^a[0-9]{6}x$' >/dev/null ||
		bail "tenant add failed"
	"$SIPPROV" -d "$1" template set acme main registrar=sip.acme.test server=sip.acme.test port=5060 transport=udp >/dev/null
	"$SIPPROV" -d "$1" template set acme tls registrar=sip.acme.test server=tls.acme.test port=5061 transport=tls >/dev/null
	"$SIPPROV" -d "$1" tenant add other >/dev/null
}
setup "$DB"

# gen N [SWAPROW]: N data rows, one line per device; at SWAPROW the username
# and auth username trade places (each matches the other's tenant pattern).
gen() {
	awk -v n="$1" -v swap="${2:-0}" 'BEGIN {
		print "mac,layout,model,label,template,line,display_name,extension,username,auth_username,password"
		for (i = 1; i <= n; i++) {
			u = sprintf("u%06d", i); a = sprintf("a%06dx", i)
			if (i == swap) { t = u; u = a; a = t }
			printf "0015650%05x,yealink,T46G,desk %d,main,1,User %d,%d,%s,%s,pw-%d\n", i, i, i, 1000 + i, u, a, i
		}
	}'
}

gen 10000 7777 > "$T/swap.csv"
before=$(counts "$DB")
out=$(sp import "$T/swap.csv" --tenant acme 2>&1); rc=$?
is "$rc" 1 "import with a swap at row 7777 exits 1"
is "$(counts "$DB")" "$before" "nothing was written (devices/accounts unchanged: $before)"
like "$out" 'error: row 7777 \(line 7778\): .*auth_username' "the error names row 7777 and the auth_username field"
like "$out" 'username "a007777x"' "the error quotes the swapped username"
is "$(printf '%s\n' "$out" | grep -c '^error: row')" 1 "exactly one row is reported"
is "$(sql "select count(*) from audit_log where action='import'")" 0 "no audit entry for a refused import"

gen 10000 > "$T/clean.csv"
out=$(sp import "$T/clean.csv" --tenant acme --dry-run 2>&1); rc=$?
is "$rc" 0 "dry run of the clean file passes"
is "$(counts "$DB")" "$before" "dry run writes nothing"
out=$(sp import "$T/clean.csv" --tenant acme 2>&1); rc=$?
is "$rc" 0 "clean 10,000-row file imports"
diag "$out"
is "$(counts "$DB")" "10000/10000" "10,000 devices and accounts written"
is "$(sql "select count(*) from audit_log where action='import'")" 1 "one audit entry"
pw=$(sql "select password_enc from account a join device d on d.id=a.device_id where d.mac='001565000001'")
unlike "$pw" 'pw-1' "passwords are stored encrypted"
like "$(sp render 001565000001)" 'account.1.auth_name = a000001x' "render shows the imported auth username"
# Re-import of the same file: devices updated, nothing duplicated.
out=$(sp import "$T/clean.csv" --tenant acme 2>&1); rc=$?
is "$rc" 0 "re-import of the same file updates in place"
like "$out" '0 devices created, 10000 updated; 0 lines added, 10000 replaced' "re-import reports updates"
is "$(counts "$DB")" "10000/10000" "still 10,000 devices and accounts"

# ---- round trip: a mixed tenant exported and imported into an empty database ----
cat > "$T/mixed.csv" <<'EOF'
mac,layout,model,label,template,line,display_name,extension,username,auth_username,password,port,vendor.note
00:04:f2:00:00:01,polycom,VVX400,"Lobby, 2nd floor",main,1,"Ann <""O'Brien""> & Co",201,u100001,a100001x,"p,w""1",,
00:04:f2:00:00:01,polycom,VVX400,"Lobby, 2nd floor",main,2,Bob,202,u100002,a100002x,pw<>&2,,
000b828aa872,grandstream,GXP2135,,tls,1,Carol ☎,203,u100003,a100003x,pw3,5062,x
0002fdff2103,cisco,SPA508G,,main,1,Dan,204,u100004,a100004x,pw4,,
000413741767,snom,710,,main,1,Eve,205,u100005,a100005x,pw5,5080,
0c383e07e16c,fanvil,X4,,,1,Fay,206,u100006,a100006x,pw6,,
0c383e07e16d,json,soft,,main,1,Gil,207,u100007,a100007x,pw7,,
02aa00000001,linphone,,,main,1,Hal,208,u100008,a100008x,pw8,,
001565f429a4,yealink,T58A,,main,1,Ivy,209,u100009,a100009x,pw9,,
001565f429a4,yealink,T58A,,main,3,Jon,210,u100010,a100010x,pw10,,
001565f429a5,yealink,T58A,spare,main,,,,,,,,
EOF
out=$(sp import "$T/mixed.csv" --tenant acme 2>&1); rc=$?
is "$rc" 0 "mixed file (every layout, quotes, commas, overrides) imports"
[ "$rc" -eq 0 ] || diag "$out"
sp export --tenant acme --show-secrets > "$T/export.csv" 2>"$T/export.err"
is "$(head -1 "$T/export.csv" | tr -d '\r')" "mac,layout,model,label,template,line,display_name,extension,username,auth_username,password,token,port,vendor.note" \
	"export header: fixed columns then override keys"
DB2=$(new_db second)
setup "$DB2"
out=$("$SIPPROV" -d "$DB2" import "$T/export.csv" --tenant acme 2>&1); rc=$?
is "$rc" 0 "export imports into an empty database"
[ "$rc" -eq 0 ] || diag "$out"
is "$(counts "$DB2")" "$(counts "$DB")" "same device and account count after the round trip"
is "$(counts "$DB2")" "10009/10010" "10,009 devices, 10,010 lines"
same=0 diff=0
for mac in 0004f2000001 000b828aa872 0002fdff2103 000413741767 0c383e07e16c 0c383e07e16d 02aa00000001 001565f429a4 001565f429a5 001565000001 001565002710; do
	a=$(sp render "$mac" 2>&1); b=$("$SIPPROV" -d "$DB2" render "$mac" 2>&1)
	if [ "$a" = "$b" ] && [ -n "$a" ]; then same=$((same + 1)); else diff=$((diff + 1)); diag "render of $mac differs"; fi
done
is "$same/$diff" "11/0" "render identical for every sampled device, every layout"
"$SIPPROV" -d "$DB2" export --tenant acme --show-secrets > "$T/export2.csv" 2>/dev/null
ok "$(cmp -s "$T/export.csv" "$T/export2.csv"; echo $?)" "export of the copy is byte-identical to the original export"
# One device in 40 of the big set too (a render is one process each), by
# digest; one in 200 under sanitizers, where each process starts slowly.
macs=$(sql "select mac from device where id % $((SP_SLOW > 1 ? 200 : 40)) = 0 order by mac")
all_same=$(for m in $macs; do sp render "$m" 2>&1 | cksum; done | cksum)
all_copy=$(for m in $macs; do "$SIPPROV" -d "$DB2" render "$m" 2>&1 | cksum; done | cksum)
is "$all_copy" "$all_same" "renders identical for $(echo "$macs" | wc -l) more devices of the 10,000"

# Without --show-secrets: empty passwords, a note on stderr; re-import keeps them.
sp export --tenant acme > "$T/nosecret.csv" 2>"$T/nosecret.err"
like "$(cat "$T/nosecret.err")" 'passwords omitted' "stderr says secrets were omitted"
is "$(grep -c 'pw' "$T/nosecret.csv")" 0 "no password in the export"
# The database holds only the token's keyed hash; the CLI shows it with the key.
tmac=$(sql "select d.mac from account a join device d on d.id = a.device_id where a.token_hash is not null limit 1")
tok=$(sp account list "$tmac" --show-secrets --json | sed -n 's|.*"token_url": ".*/s/\([0-9a-f]*\)".*|\1|p' | head -1)
like "$tok" '^[0-9a-f]{32}$' "softphone accounts have a token"
is "$(grep -c "$tok" "$T/nosecret.csv")" 0 "no softphone token in the export"
is "$(grep -c "$tok" "$T/export.csv")" 1 "the token is in the export with secrets"
r1=$(sp render 0004f2000001)
out=$(sp import "$T/nosecret.csv" --tenant acme 2>&1); rc=$?
is "$rc" 0 "re-import without passwords keeps the existing ones"
is "$(sp render 0004f2000001)" "$r1" "render unchanged after re-importing a secretless export"
DB3=$(new_db third)
setup "$DB3"
out=$("$SIPPROV" -d "$DB3" import "$T/nosecret.csv" --tenant acme 2>&1); rc=$?
is "$rc" 1 "secretless export into an empty database is refused"
like "$out" "column 'password': empty password for new line" "the error names the password column"
is "$(counts "$DB3")" "0/0" "nothing written"

# ---- malformed and conflicting files ----
bad() { # bad NAME: import $T/NAME.csv into $DB3, expect exit 1 and nothing written
	out=$("$SIPPROV" -d "$DB3" import "$T/$1.csv" --tenant acme 2>&1); rc=$?
	is "$rc:$(counts "$DB3")" "1:0/0" "$1: refused, nothing written"
}
printf 'mac,layout,line,username,auth_username,password\n001565aa0001,yealink,1,u200001,a200001x,pw\n001565aa0002,yealink,"1\n2",u200002,a200002x,pw\n"001565aa0003",yealink,1,u200003,a200003x,pw",x\n' > "$T/newline.csv"
bad newline
like "$out" "row 2 \\(line 3\\), column 'line': '1
2' is not a line number" "a quoted newline stays inside its field"
like "$out" 'row 3 \(line 5\): column 6: quote in an unquoted field' "line numbers count the embedded newline"
printf '\357\273\277mac,layout,line,username,auth_username,password\r\n001565bb0001,yealink,1,u300001,a300001x,"p,w"\r\n' > "$T/bom.csv"
out=$("$SIPPROV" -d "$DB3" import "$T/bom.csv" --tenant acme 2>&1); rc=$?
is "$rc:$(counts "$DB3")" "0:1/1" "UTF-8 BOM and CRLF line ends import"
like "$("$SIPPROV" -d "$DB3" render 001565bb0001)" 'account.1.password = p,w' "quoted comma kept in the password"
printf 'mac,layout,line,username,auth_username,password\n001565cc0001,yealink,1,u400001,a400001x,pw\n001565CC0001,yealink,1,u400002,a400002x,pw\n' > "$T/dupline.csv"
before=$(counts "$DB3")
out=$("$SIPPROV" -d "$DB3" import "$T/dupline.csv" --tenant acme 2>&1); rc=$?
is "$rc:$(counts "$DB3")" "1:$before" "duplicate MAC and line refused"
like "$out" "row 2 \\(line 3\\), column 'line': line 1 of device 001565cc0001 is already given on row 1" "names both rows"
printf 'mac,layout,model,line,username,auth_username,password\n001565cc0002,yealink,T46G,1,u400003,a400003x,pw\n001565cc0002,yealink,T48G,2,u400004,a400004x,pw\n' > "$T/dupdev.csv"
out=$("$SIPPROV" -d "$DB3" import "$T/dupdev.csv" --tenant acme 2>&1); rc=$?
is "$rc:$(counts "$DB3")" "1:$before" "one device with two models refused"
like "$out" "row 2 \\(line 3\\), column 'model': 'T48G' differs from row 1's 'T46G'" "names the column and the first row"
printf 'mac,layout,colour,line,username,auth_username,password\n001565cc0003,yealink,red,1,u400005,a400005x,pw\n' > "$T/unknown.csv"
out=$("$SIPPROV" -d "$DB3" import "$T/unknown.csv" --tenant acme 2>&1); rc=$?
is "$rc:$(counts "$DB3")" "1:$before" "unknown column refused"
like "$out" "unknown column 'colour'" "the error names the unknown column"
printf 'mac,layout,line,username,auth_username,password\n001565000001,yealink,2,u500001,a500001x,pw\n' > "$T/foreign.csv"
out=$(sp import "$T/foreign.csv" --tenant other 2>&1); rc=$?
is "$rc" 1 "a device of another tenant is refused"
like "$out" "device 001565000001 belongs to tenant 'acme', not 'other'" "names the owning tenant"
printf 'mac,layout,line,username,auth_username,password,port\n001565cc0004,yealnk,1,u600001,a600001x,pw,99999\n001565cc0005,yealink,1,u600002,u600002,pw,\n' > "$T/multi.csv"
out=$("$SIPPROV" -d "$DB3" import "$T/multi.csv" --tenant acme 2>&1); rc=$?
is "$rc:$(counts "$DB3")" "1:$before" "several bad rows refused"
like "$out" "row 1 \\(line 2\\), column 'layout': unknown layout 'yealnk'" "unknown layout named"
like "$out" "row 1 \\(line 2\\): device 001565cc0004 overrides: .*port" "bad port override named"
like "$out" "row 2 \\(line 3\\): .*" "the second row's error is listed too"
like "$out" "3 errors" "every error is counted"
done_testing
