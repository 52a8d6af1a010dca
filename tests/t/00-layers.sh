#!/bin/sh
# The layer rule (HACKING.md), checked on the tree and on the binaries:
#   core  includes only core            sip   includes core, sip
#   daemon includes core, sip, ops, daemon   ops includes core, sip, ops
#   tools (the CLI) includes core, sip, ops
# Outside its own folder a layer is reached only through its public header
# (core/sipprov.h, sip/sip.h, daemon/daemon.h, ops/ops.h).  The CLI links
# no daemon code and no program links test-only code: shown with nm.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT" || exit 1

public() { # the one header of layer $1 that other folders may include
	case $1 in core) echo core/sipprov.h ;; sip) echo sip/sip.h ;;
	daemon) echo daemon/daemon.h ;; ops) echo ops/ops.h ;; esac
}
allowed() { # layers folder $1 may include
	case $1 in core) echo core ;; sip) echo "core sip" ;; daemon) echo "core sip ops daemon" ;;
	ops) echo "core sip ops" ;; tools) echo "core sip ops" ;; esac
}

check_folder() { # check_folder FOLDER LAYER
	bad=""
	for f in "$1"/*.[ch]; do
		for inc in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
			case $inc in
			*/*) l=${inc%%/*} ;;
			*) [ -e "$(dirname "$f")/$inc" ] && continue   # same folder
			   [ "$2" = tools ] && [ "$inc" = commands.def ] && continue
			   bad="$bad $f:$inc"; continue ;;
			esac
			echo " $(allowed "$2") " | grep -q " $l " || { bad="$bad $f:$inc"; continue; }
			[ "$l" = "$2" ] || [ "$inc" = "$(public "$l")" ] || bad="$bad $f:$inc"
		done
	done
	[ -z "$bad" ]; ok $? "$1 includes only what layer '$2' may:$bad"
}
for l in core sip daemon ops; do check_folder "server/$l" "$l"; done
check_folder tools tools

# The store speaks db.h (issue 17): sqlite3.h only in the SQLite driver and
# the files that still do SQLite-only work through db_sqlite_handle.
want="server/core/db_sqlite.c server/core/store.c server/core/store_admin.c server/core/store_health.c"
got=$(grep -l '^#include <sqlite3.h>' server/*/*.[ch] tools/*.[ch] | sort | tr '\n' ' ')
[ "$got" = "$want " ]; ok $? "only these include sqlite3.h: $want (got: $got)"
# libpq likewise: the PostgreSQL driver, the connect/migrate code and the
# config generation's LISTEN (store_gen.c).
want="server/core/db_pg.c server/core/store_gen.c server/core/store_pg.c server/core/store_pg.h"
got=$(grep -l '^#include <libpq-fe.h>' server/*/*.[ch] tools/*.[ch] | sort | tr '\n' ' ')
[ "$got" = "$want " ]; ok $? "only these include libpq-fe.h: $want (got: $got)"

# Symbols each layer's library defines, then who links them.
defs() { nm -g --defined-only "$1" 2>/dev/null | awk 'NF==3 && $2 ~ /[TDBR]/ {print $3}' | sort -u; }
in_bin() { # in_bin BINARY LIB: LIB's symbols present in BINARY
	defs "$2" > "$T/lib.syms"; nm "$1" | awk '{print $NF}' | sort -u > "$T/bin.syms"
	comm -12 "$T/lib.syms" "$T/bin.syms"
}
n=$(defs "$SP_BUILD/libsipprov-ops.a" | wc -l)
[ "$n" -gt 10 ]; ok $? "the ops library defines symbols ($n; CSV import/export moved to core)"
leak=$(in_bin "$SIPPROV" "$SP_BUILD/libsipprov-daemon.a" | head -5 | tr '\n' ' ')
[ -z "$leak" ]; ok $? "the CLI links no daemon symbol: $leak"
got=$(in_bin "$SP_BUILD/sipprovd" "$SP_BUILD/libsipprov-daemon.a" | grep -c '^http_')
[ "$got" -gt 0 ]; ok $? "the nm check sees daemon symbols in sipprovd ($got http_*)"
got=$(in_bin "$SIPPROV" "$SP_BUILD/libsipprov-ops.a" | grep -c '^bulk_')
[ "$got" -gt 0 ]; ok $? "the nm check sees ops symbols in the CLI ($got bulk_*)"
leak=$(in_bin "$SP_BUILD/sipprovd" "$SP_BUILD/libsipprov-test.a" | tr '\n' ' ')
[ -z "$leak" ]; ok $? "no test-only function ships in sipprovd: $leak"
done_testing
