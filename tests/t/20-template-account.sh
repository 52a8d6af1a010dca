#!/bin/sh
# The template and account commands through the real CLI: versions with
# sha256 of the canonical JSON, unchanged sets, refused and forced
# contradictions (audit-logged), history/diff/list --json, rollback then
# render byte-identical to the version rolled back to (apart from the
# version marker), pin/unpin, and accounts: the SPEC.md swap error, no
# secrets without --show-secrets, token rotate/revoke, rm.
. "$(dirname "$0")/../lib.sh"
need sqlite3 jq python3

MAC=00:15:65:4a:a9:37
sp init >/dev/null
sp tenant add acme --username-pattern '^[0-9]{3,6}$' --auth-username-pattern '^[a-z0-9]{8}$' >/dev/null
ok $? "tenant with patterns"

out=$(sp --json template set acme main registrar=acme.example.com server=sip.example.com port=5060 transport=udp --comment "first")
ok $? "template set v1"
is "$(echo "$out" | jq -r .version)" 1 "first set is v1"
sha=$(printf '%s' '{"port":"5060","registrar":"acme.example.com","server":"sip.example.com","transport":"udp"}' | sha256sum | cut -d' ' -f1)
is "$(echo "$out" | jq -r .sha256)" "$sha" "v1 sha256 is the sha256 of its canonical JSON"
is "$(echo "$out" | jq -r .comment)" first "v1 keeps its comment"
V1SHA=$sha

out=$(sp template set acme main port=5060 transport=udp); rc=$?
is "$rc" 0 "identical set exits 0"
like "$out" "unchanged" "identical set says nothing changed"
is "$(sp --json template history acme main | jq length)" 1 "identical set wrote no version"

err=$(sp template set acme main transport=tls 2>&1 >/dev/null); rc=$?
is "$rc" 1 "tls on 5060 is a user error"
like "$err" 'transport "tls" and port 5060 contradict' "error names transport and port"
is "$(sp --json template history acme main | jq length)" 1 "refused set wrote no version"

err=$(sp template set acme main port=70000 2>&1 >/dev/null); rc=$?
is "$rc" 1 "port 70000 is a user error"
like "$err" 'setting port "70000" is out of range: use 1 to 65535' "error names the field and range"
err=$(sp template set acme main srvr=x 2>&1 >/dev/null); rc=$?
is "$rc" 1 "unknown key is a user error"
like "$err" "unknown setting 'srvr'" "error names the key"
sp template set acme >/dev/null 2>&1; is "$?" 2 "missing arguments are a usage error"
sp template frobnicate >/dev/null 2>&1; is "$?" 2 "unknown subcommand is a usage error"

out=$(sp --force template set acme main transport=tls 2>&1); rc=$?
is "$rc" 0 "--force lets the contradiction through"
like "$out" "v2" "forced set is v2"
audit=$(sql "SELECT detail FROM audit_log WHERE object LIKE 'template acme/main@v2'")
like "$audit" "forced: transport \"tls\" and port 5060" "forced contradiction is in the audit log"
sp template set acme main port=5061 expires=600 --comment "tls port" >/dev/null
ok $? "v3"

is "$(sp --json template history acme main | jq -r 'map(.version) | join(",")')" "1,2,3" "history lists v1..v3"
is "$(sp --json template history acme main | jq -r 'map(select(.current)) | .[0].version')" 3 "v3 is current"
is "$(sp --json template list acme | jq -r '.[0].name + "@" + (.[0].version|tostring)')" "main@3" "list shows current version"
d=$(sp --json template diff acme main 1 3 | jq -c '.changes')
is "$d" '[{"key":"expires","old":null,"new":"600"},{"key":"port","old":"5060","new":"5061"},{"key":"transport","old":"udp","new":"tls"}]' "diff is field by field"
like "$(sp template diff acme main 1 3)" "port +5060 +5061" "text diff shows key, old, new"
sp template show acme main 9 >/dev/null 2>&1; is "$?" 1 "unknown version is a user error"
is "$(sp --json template show acme main 1 | jq -r .settings.transport)" udp "show V gives that version"

sp device add $MAC --tenant acme --layout yealink >/dev/null
ok $? "device add"
sp tenant set acme --default-template main >/dev/null 2>&1
sp account add $MAC --username 1001 --auth-username k8f2m1x9 --password 'p<>&"x' --display-name 'Ann' >/dev/null
ok $? "account add"
sp template pin $MAC 1 >/dev/null
ok $? "pin to v1"
r1=$(sp render $MAC)
like "$r1" "acme-main@v1" "pinned render names v1"
sp template unpin $MAC >/dev/null
like "$(sp render $MAC)" "acme-main@v3" "unpinned render names v3"

out=$(sp --json template rollback acme main 1)
ok $? "rollback to v1"
is "$(echo "$out" | jq -r .version)" 4 "rollback creates v4"
is "$(echo "$out" | jq -r .sha256)" "$V1SHA" "v4 has v1's sha256"
is "$(echo "$out" | jq -r .comment)" "rollback to v1" "rollback comment"
r4=$(sp render $MAC)
like "$r4" "acme-main@v4" "render after rollback names v4"
is "$(printf '%s' "$r4" | sed 's/acme-main@v4/acme-main@vN/g')" "$(printf '%s' "$r1" | sed 's/acme-main@v1/acme-main@vN/g')" \
	"rollback then render is byte-identical to v1 apart from the version marker"
n=$(sql "SELECT count(*) FROM audit_log WHERE action IN ('template.set','template.rollback','template.pin','template.unpin')")
is "$n" 6 "every template change is audit-logged"

err=$(sp account add $MAC --line 2 --username k8f2m1x9 --auth-username 1001 --password x 2>&1 >/dev/null); rc=$?
is "$rc" 1 "swapped account is a user error"
is "$err" "error: account 2 on 00:15:65:4a:a9:37: auth_username \"1001\" matches tenant acme's username pattern ^[0-9]{3,6}\$ and username \"k8f2m1x9\" matches its auth-username pattern: username and auth_username look swapped" \
	"swap error is SPEC.md's example"
err=$(sp account add $MAC --line 2 --username 1002@acme.example.com --auth-username p3q4r5s6 --password x 2>&1 >/dev/null)
like "$err" 'username "1002@acme.example.com" has a domain part' "domain part refused"
err=$(sp account add $MAC --line 2 --username 1002 --auth-username p3q4r5s6 --password "$(printf 'a\nb')" 2>&1 >/dev/null)
is "$err" "error: account 2 on 00:15:65:4a:a9:37: password contains a line break (CR/LF): it would end the line in a config file; remove it" "CR/LF password refused, not echoed"
long=$(python3 -c 'print("1"*200)')
err=$(sp account add $MAC --line 2 --username "$long" --auth-username p3q4r5s6 --password x 2>&1 >/dev/null)
is "$err" "error: account 2 on 00:15:65:4a:a9:37: username is longer than 127 bytes: shorten it" "oversize username refused"
is "$(sp --json account list $MAC | jq length)" 1 "refused adds wrote nothing"

list=$(sp --json account list $MAC)
unlike "$list" 'p<>&' "list without --show-secrets has no password"
is "$(echo "$list" | jq -r '.[0].auth_username')" k8f2m1x9 "list shows auth username"
is "$(sp --json --show-secrets account list $MAC | jq -r '.[0].password')" 'p<>&"x' "--show-secrets decrypts the password"
enc=$(sql "SELECT password_enc FROM account")
unlike "$enc" 'p<>&' "password is encrypted at rest"
unlike "$(sql "SELECT detail FROM audit_log")" 'p<>&' "audit log has no password"

sp account set $MAC --auth-username a1b2c3d4 >/dev/null
ok $? "account set"
is "$(sp --json account list $MAC | jq -r '.[0].auth_username')" a1b2c3d4 "account set changed auth username"
is "$(sp --json --show-secrets account list $MAC | jq -r '.[0].password')" 'p<>&"x' "account set kept the password"
err=$(sp account set $MAC --username a1b2c3d4x 2>&1 >/dev/null); is "$?" 1 "account set re-validates the merged account"

t1=$(sp --json --show-secrets account list $MAC | jq -r '.[0].token_url')
out=$(sp account token $MAC --rotate)
like "$out" 'token url: http://127\.0\.0\.1:8080/s/[0-9a-f]{32}' "rotate prints the new URL"
t2=$(sp --json --show-secrets account list $MAC | jq -r '.[0].token_url')
[ "$t1" != "$t2" ]; ok $? "rotate changed the token"
sp account token $MAC --revoke >/dev/null
is "$(sp --json account list $MAC | jq -r '.[0].token')" revoked "revoke marks the token revoked"
sp account token $MAC >/dev/null 2>&1; is "$?" 2 "token without --rotate/--revoke is a usage error"

SIPPROV_URL=http://prov.example:8080/ sp device add 02:00:00:00:00:01 --tenant acme --layout linphone >/dev/null
out=$(SIPPROV_URL=http://prov.example:8080/ sp account add 020000000001 --username 2001 --auth-username z9y8x7w6 --password pw)
like "$out" 'token url: http://prov\.example:8080/s/[0-9a-f]{32}$' "softphone account add prints its token URL"
unlike "$(sp account add $MAC --line 3 --username 1003 --auth-username a9b8c7d6 --password pw)" "token url" \
	"a desk phone layout prints no token URL"

sp account rm $MAC --line 1 >/dev/null
ok $? "account rm"
is "$(sp --json account list $MAC | jq -r 'map(.line) | join(",")')" 3 "line 1 removed, line 3 kept"
sp account rm $MAC --line 1 >/dev/null 2>&1; is "$?" 1 "removing a missing line is a user error"
done_testing
