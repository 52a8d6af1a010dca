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
      kamailio-extra-modules kamailio-tls-modules linphone-cli sip-tester nginx-light wrk mandoc logrotate systemd zbar-tools
      python3-jsonschema"
want="$BUILD"
[ "${1:-}" = "--test" ] && want="$BUILD $TEST"
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# The OpenAPI linter (tests/t/91-api-openapi-lint.sh): Redocly CLI from npm,
# pinned, into the user's cache rather than the system.
redocly() {
	[ "${1:-}" = "--test" ] || return 0
	dir=${XDG_CACHE_HOME:-$HOME/.cache}/sipprov-redocly
	[ -x "$dir/node_modules/.bin/redocly" ] && return 0
	# Debian's npm, unless one is there already (NodeSource's nodejs has its own).
	command -v npm >/dev/null || { $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null; }
	echo "installing @redocly/cli into $dir"
	mkdir -p "$dir" && npm install --no-audit --no-fund --prefix "$dir" @redocly/cli@2.77.0 >/dev/null
}
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
if [ -z "$missing" ]; then redocly "${1:-}"; exit 0; fi
echo "installing:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
redocly "${1:-}"
