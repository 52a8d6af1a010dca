#!/bin/bash
# 30-vendor-readback.sh: the address model, read back.  One template where
# registrar (SIP domain), server and outbound proxy all differ is rendered
# through every layout and every transport by the real CLI; each file is
# read back by tests/support/vendor_read.py (a per-vendor reader written from
# templates/<vendor>.md) into user, auth user, password, domain, the host
# REGISTER goes to, transport, and server / outbound proxy where the vendor
# keeps them apart; the values must be the same everywhere.  Then, for every
# desk-phone vendor, sipp registers to Kamailio on loopback using only the
# values read back from that vendor's file (Kamailio answers 404 to a wrong
# domain and 401/403 to wrong credentials).  Debian's sipp has no TLS: the
# Kamailio part runs UDP and TCP; TLS is covered by the read-back.
. "$(dirname "$0")/../lib.sh"
need python3 jq kamailio sipp sqlite3

READ="$ROOT/tests/support/vendor_read.py"
LAYOUTS="yealink polycom grandstream cisco snom fanvil linphone json"
DESK="yealink polycom grandstream cisco snom fanvil"

sp init >/dev/null || bail "init"
sp tenant add acme --device-auth none >/dev/null || bail "tenant"
sp template set acme main registrar=example.test server=sip.example.test port=5070 transport=udp >/dev/null || bail "template"
i=10
for l in $LAYOUTS; do
	mac="0015650000$i"; i=$((i + 1))
	eval "MAC_$l=$mac"
	sp device add "$mac" --tenant acme --layout "$l" --template main --model t46g >/dev/null || bail "device $l"
	sp account add "$mac" --line 1 --username "alice$i" --auth-username "a1xyzauth$i" --password "p<>&\"'w$i" >/dev/null ||
		bail "account $l"
	eval "N_$l=$i"
done

# readback LAYOUT: render the device of LAYOUT, read it back into $T/LAYOUT.json
readback() {
	local mac; eval "mac=\$MAC_$1"
	sp render "$mac" >"$T/$1.out" 2>"$T/$1.err" || { sed 's/^/# /' "$T/$1.err"; return 1; }
	python3 "$READ" "$1" "$T/$1.out" >"$T/$1.json" 2>"$T/$1.err" || { sed 's/^/# /' "$T/$1.err"; return 1; }
}
field() { jq -r --arg k "$2" '.[$k] // ""' "$T/$1.json"; }

# ---- read-back: registrar != server != outbound proxy, every transport ----
for tr in udp tcp tls; do
	port=5070; [ $tr = tls ] && port=5071
	for ob in "" "proxy.example.test:5090"; do
		sp template set acme main registrar=example.test server=sip.example.test port=$port transport=$tr \
			outbound_proxy=$ob dns_mode=a >/dev/null || bail "template $tr $ob"
		hop=${ob:-sip.example.test:$port}
		for l in $LAYOUTS; do
			eval "n=\$N_$l"
			readback "$l"; ok $? "$l/$tr${ob:+/outbound}: renders and reads back"
			got=$(jq -r '[.user, .auth, .password, .domain, .hop, .transport] | join("|")' "$T/$l.json")
			is "$got" "alice$n|a1xyzauth$n|p<>&\"'w$n|example.test|$hop|$tr" \
				"$l/$tr${ob:+/outbound}: user|auth|password|domain|REGISTER to|transport"
			srv=$(field $l server)
			[ -n "$srv" ] && is "$srv" "sip.example.test:$port" "$l/$tr${ob:+/outbound}: server kept apart"
			obr=$(field $l outbound_proxy)
			case $l in polycom|linphone|json)
				is "$obr" "$ob" "$l/$tr${ob:+/outbound}: outbound proxy kept apart" ;;
			esac
		done
	done
done

# ---- Kamailio: sipp registers with the values read back from each file ----
start_kamailio
sed 's|response="FINAL"|response="200"|' "$ROOT/tests/peers/drift_reg.xml" >"$T/reg.xml"
for l in $DESK; do eval "n=\$N_$l"; add_subscriber "a1xyzauth$n" example.test "p<>&\"'w$n"; done

# sipp_register LAYOUT: REGISTER with only what $T/LAYOUT.json holds
sipp_register() {
	local hop tr t
	hop=$(field "$1" hop); tr=$(field "$1" transport)
	case $tr in udp) t=u1 ;; tcp) t=t1 ;; *) echo "# $1: transport $tr"; return 1 ;; esac
	printf 'SEQUENTIAL\n%s;%s;[authentication username=%s password=%s];sipprov-readback %s\n' \
		"$(field "$1" user)" "$(field "$1" domain)" "$(field "$1" auth)" "$(field "$1" password)" "$1" >"$T/users.csv"
	# A local port not used before in this run (the next of $SIPP_PORTS,
	# picked distinct): a TCP connection to the same peer from the same
	# port can meet the last one's TIME_WAIT, and two dozen separate picks
	# from a random range can repeat.
	SIPP_NEXT=$((SIPP_NEXT + 1))
	local lp
	lp=$(echo "$SIPP_PORTS" | sed -n "${SIPP_NEXT}p")
	[ -n "$lp" ] || { echo "# sipp: no local port left" >&2; return 1; }
	# sipp's words on stderr: prove shows them in CI's log, where a
	# failure here cannot be run again.
	sipp "$hop" -sf "$T/reg.xml" -inf "$T/users.csv" -m 1 -i 127.0.0.1 -p "$lp" -t "$t" \
		-nostdin -timeout 10s -timeout_error >"$T/sipp.out" 2>&1 ||
		{ grep -v '^ *$' "$T/sipp.out" | head -30 | sed "s/^/# sipp ($1, port $lp): /" >&2; return 1; }
}
SIPP_PORTS=$(free_udp_tcp_port 24) || bail "no free ports"   # 6 layouts x 2 transports x 2 modes
SIPP_NEXT=0
for tr in udp tcp; do
	for mode in server outbound; do
		if [ $mode = server ]; then
			set -- registrar=example.test server=127.0.0.1 port=$KAM_PORT transport=$tr outbound_proxy=
		else # the server is never contacted: REGISTER must go to the outbound proxy
			set -- registrar=example.test server=sip.example.test port=$KAM_PORT transport=$tr \
				outbound_proxy=127.0.0.1:$KAM_PORT
		fi
		sp template set acme main "$@" >/dev/null || bail "template $tr $mode"
		for l in $DESK; do
			readback "$l" && sipp_register "$l"
			ok $? "$l/$tr/$mode: sipp registers to Kamailio with the values read back ($(field $l user)@$(field $l domain) via $(field $l hop))"
		done
	done
done
sqlite3 "$KAM_DIR/kam.db" "SELECT 1" >/dev/null
done_testing
