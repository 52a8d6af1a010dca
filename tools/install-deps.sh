#!/bin/sh
# Install what sipprov needs on Debian 12: build dependencies, and with
# --test the real peers the test suite runs against (Kamailio, linphonec,
# sipp, nginx, wrk, curl, sqlite3, openssl, clang for fuzz/asan builds) and
# the tools that check what `make install` ships (systemd-analyze, mandoc,
# logrotate), and the DHCP servers whose own checkers read the examples in
# docs/dhcp-and-redirection.md (their services are stopped and disabled
# right after install: the tests never run a DHCP server), and for the
# admin API's OpenAPI checks python3-jsonschema and Redocly CLI (npm,
# pinned, into ~/.cache/sipprov-redocly, not the system), and for the web
# console's browser tests Debian's chromium with puppeteer-core and
# axe-core (npm, pinned, into ~/.cache/sipprov-console), and PostgreSQL 15
# whose binaries tests/pglib.sh runs as throwaway clusters (the packaged
# cluster service is stopped and disabled right after install).
# Safe to re-run; does nothing when everything is present.
set -e
BUILD="build-essential pkg-config libmicrohttpd-dev libsqlite3-dev libxml2-dev libjansson-dev libssl-dev libgnutls28-dev libqrencode-dev libpq-dev"
TEST="sqlite3 curl openssl python3 perl jq bc iproute2 procps clang libclang-rt-14-dev kamailio kamailio-sqlite-modules
      kamailio-extra-modules kamailio-tls-modules linphone-cli sip-tester nginx-light wrk mandoc logrotate systemd zbar-tools
      dnsmasq-base isc-dhcp-server kea-dhcp4-server python3-jsonschema prometheus chromium
      postgresql-15"
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
# The console's browser tests (tests/t/96-console.sh): puppeteer-core
# drives Debian's chromium (it downloads no browser); axe-core checks
# accessibility.  puppeteer-core 24 is the last line that runs on Debian's
# node 18/20 (25 wants node 22).
console_npm() {
	[ "${1:-}" = "--test" ] || return 0
	dir=${XDG_CACHE_HOME:-$HOME/.cache}/sipprov-console
	[ -f "$dir/node_modules/puppeteer-core/package.json" ] && [ -f "$dir/node_modules/axe-core/axe.min.js" ] &&
		return 0
	command -v npm >/dev/null || { $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null; }
	echo "installing puppeteer-core and axe-core into $dir"
	mkdir -p "$dir" && npm install --no-audit --no-fund --prefix "$dir" puppeteer-core@24.43.1 axe-core@4.14.1 >/dev/null
}
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
if [ -z "$missing" ]; then redocly "${1:-}"; console_npm "${1:-}"; exit 0; fi
echo "installing:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
# Debian's packages enable isc-dhcp-server and kea-dhcp4-server at install
# and start them unless policy-rc.d forbids it: a test machine must not
# answer DHCP.  prometheus is wanted for promtool only: its server would
# scrape and keep port 9090.
for s in isc-dhcp-server kea-dhcp4-server prometheus; do
	case " $missing " in *" $s "*) ;; *) continue ;; esac
	$SUDO systemctl stop "$s" >/dev/null 2>&1 || $SUDO service "$s" stop >/dev/null 2>&1 || true
	$SUDO systemctl disable "$s" >/dev/null 2>&1 || $SUDO update-rc.d "$s" disable >/dev/null 2>&1 || true
done
# postgresql-15 creates and starts a cluster (15/main, port 5432): the
# tests never use it (tests/pglib.sh starts its own), so it is stopped.
case " $missing " in *" postgresql-15 "*)
	$SUDO systemctl stop postgresql >/dev/null 2>&1 || $SUDO service postgresql stop >/dev/null 2>&1 || true
	$SUDO systemctl disable postgresql >/dev/null 2>&1 || $SUDO update-rc.d postgresql disable >/dev/null 2>&1 || true
esac
redocly "${1:-}"
console_npm "${1:-}"
