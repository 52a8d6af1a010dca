#!/bin/sh
# Install what sipprov needs on Debian 12: build dependencies, and with
# --test the real peers the test suite runs against (Kamailio, linphonec,
# sipp, nginx, wrk, curl, sqlite3, openssl, clang for fuzz/asan builds) and
# the tools that check what `make install` ships (systemd-analyze, mandoc,
# logrotate), and the DHCP servers whose own checkers read the examples in
# docs/dhcp-and-redirection.md (their services are stopped and disabled
# right after install: the tests never run a DHCP server).
# Safe to re-run; does nothing when everything is present.
set -e
BUILD="build-essential pkg-config libmicrohttpd-dev libsqlite3-dev libxml2-dev libjansson-dev libssl-dev libgnutls28-dev libqrencode-dev"
TEST="sqlite3 curl openssl python3 perl jq bc iproute2 procps clang libclang-rt-14-dev kamailio kamailio-sqlite-modules
      kamailio-extra-modules kamailio-tls-modules linphone-cli sip-tester nginx-light wrk mandoc logrotate systemd zbar-tools
      dnsmasq-base isc-dhcp-server kea-dhcp4-server"
want="$BUILD"
[ "${1:-}" = "--test" ] && want="$BUILD $TEST"
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "installing:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
# Debian's packages enable isc-dhcp-server and kea-dhcp4-server at install
# and start them unless policy-rc.d forbids it: a test machine must not
# answer DHCP.
for s in isc-dhcp-server kea-dhcp4-server; do
	case " $missing " in *" $s "*) ;; *) continue ;; esac
	$SUDO systemctl stop "$s" >/dev/null 2>&1 || $SUDO service "$s" stop >/dev/null 2>&1 || true
	$SUDO systemctl disable "$s" >/dev/null 2>&1 || $SUDO update-rc.d "$s" disable >/dev/null 2>&1 || true
done
