#!/bin/sh
# The README's first command: install build dependencies, build, create an
# embedded database under ./var with a demo tenant, and run sipprovd on
# 127.0.0.1:8080 in the foreground (Ctrl-C stops it).
set -e
cd "$(dirname "$0")/.."
tools/install-deps.sh
make -s
mkdir -p var
export SIPPROV_DB="$PWD/var/sipprov.db" SIPPROV_TEMPLATES="$PWD/templates"
if [ ! -f var/sipprov.db ]; then
	build/sipprov init
	build/sipprov demo
	echo
fi
echo "sipprovd on http://127.0.0.1:8080 (database var/sipprov.db); Ctrl-C to stop"
exec build/sipprovd -d -o database="$PWD/var/sipprov.db" -o templates="$PWD/templates" \
	-o http_listen=127.0.0.1:8080 "$@"
