#!/bin/sh
# Install what sipprov needs on Debian 12: build dependencies, and with
# --test the real peers the test suite runs against (Kamailio, linphonec,
# sipp, nginx, wrk, curl, sqlite3, openssl, clang for fuzz/asan builds) and
# the tools that check what `make install` ships (systemd-analyze, mandoc,
# logrotate).
# Safe to re-run; does nothing when everything is present.
set -e
BUILD="build-essential pkg-config libmicrohttpd-dev libsqlite3-dev libxml2-dev libjansson-dev libssl-dev libgnutls28-dev libqrencode-dev"
TEST="sqlite3 curl openssl python3 perl jq bc iproute2 procps clang libclang-rt-14-dev kamailio kamailio-sqlite-modules
      kamailio-extra-modules kamailio-tls-modules linphone-cli sip-tester nginx-light wrk mandoc logrotate systemd zbar-tools prometheus"
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
