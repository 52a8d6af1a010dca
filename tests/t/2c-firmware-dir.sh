#!/bin/sh
# firmware_dir (issue 17): the folder of firmware images, named in
# sipprovd.conf, which the CLI (-f / SIPPROV_CONF) and sipprovd both read.
# SQLite: it overrides firmware/ beside the database file, for add, serving
# and rm.  PostgreSQL: `firmware add` without it is refused naming the key,
# and nothing is written; two nodes sharing one folder both serve an image.
# Either backend: a node whose folder lacks an image (or lacks the key)
# answers 404 as for an unknown image and logs the hash once however many
# phones ask; once the file is copied there (its name is its SHA-256), it
# serves it.
. "$(dirname "$0")/../lib.sh"
need curl sha256sum

sp init >/dev/null || bail "init"
head -c 200000 /dev/urandom >"$T/T46S-1.rom"
SHA=$(sha256sum <"$T/T46S-1.rom" | cut -d' ' -f1)
P="/fw/$SHA/T46S-1.rom"
code() { curl -s -o /dev/null -w '%{http_code}' "$1"; }

if backend_is pg; then
	# Without firmware_dir: refused naming the key; no row, no file.
	echo "# no firmware_dir" >"$T/none.conf"
	err=$(SIPPROV_CONF="$T/none.conf" sp firmware add "$T/T46S-1.rom" --vendor yealink --model T46S --version 1 \
		2>&1); rc=$?
	is "$rc" 1 "PostgreSQL without firmware_dir: firmware add is a user error"
	is "$err" "error: firmware images on PostgreSQL need firmware_dir (a folder every node reads, e.g. shared storage) in sipprovd.conf" \
		"naming the key and what it is for"
	is "$(sql "SELECT count(*) FROM firmware")" 0 "no row written"
	[ -z "$(find "$T" -name "$SHA" 2>/dev/null)" ]; ok $? "no file written anywhere"
else
	skip_check "needs pg: only PostgreSQL refuses firmware without firmware_dir (SQLite has its default)"
	skip_check "needs pg: the refusal"
	skip_check "needs pg: the refusal writes no row"
	skip_check "needs pg: the refusal writes no file"
fi

# The folder named in the configuration: add stores there (on SQLite not
# beside the database), sipprovd -f of the same file serves from there.
SHARED="$T/shared"
printf 'firmware_dir = %s\n' "$SHARED" >"$T/sipprovd.conf"
export SIPPROV_CONF="$T/sipprovd.conf"
out=$(sp firmware add "$T/T46S-1.rom" --vendor yealink --model T46S --version 1); ok $? "firmware add with firmware_dir"
like "$out" "stored in: $SHARED/$SHA" "says where the file went"
cmp -s "$SHARED/$SHA" "$T/T46S-1.rom"; ok $? "the image is stored in firmware_dir as <sha256>"
[ ! -e "$T/firmware" ]; ok $? "and not in firmware/ beside the database"

if backend_is pg; then
	# Two nodes on one database and one folder (shared storage): both serve.
	pg_node_start A -o firmware_dir="$SHARED"; PORT_A=$NODE_PORT
	pg_node_start B -f "$SIPPROV_CONF"; PORT_B=$NODE_PORT
	is "$(code "http://127.0.0.1:$PORT_A$P")" 200 "node A serves the image from the shared folder"
	is "$(code "http://127.0.0.1:$PORT_B$P")" 200 "node B (the same sipprovd.conf as the CLI) serves it too"
	curl -s "http://127.0.0.1:$PORT_B$P" | cmp -s - "$T/T46S-1.rom"; ok $? "byte-identical"
	# A node without firmware_dir has no folder: 404, said once.
	pg_node_start D; PORT_D=$NODE_PORT
	is "$(code "http://127.0.0.1:$PORT_D$P")" 404 "a node without firmware_dir answers 404"
	code "http://127.0.0.1:$PORT_D$P" >/dev/null
	is "$(grep -c "firmware $SHA: firmware_dir is not set" "$T/D.log")" 1 "and logs it once, with the hash"
else
	start_sipprovd -f "$SIPPROV_CONF"
	is "$(code "$URL$P")" 200 "sipprovd -f of the same configuration serves it from firmware_dir"
	curl -s "$URL$P" | cmp -s - "$T/T46S-1.rom"; ok $? "byte-identical"
	stop_sipprovd
	skip_check "needs pg: two nodes on one database"
	skip_check "needs pg: a node without firmware_dir (SQLite has its default)"
	skip_check "needs pg: its log line"
fi

# A node whose folder lacks the image (not copied there yet): 404 as for
# an unknown image, one log line naming the hash for two requests; after
# the copy it serves the image and says so.
mkdir "$T/empty"
if backend_is pg; then
	pg_node_start C -o firmware_dir="$T/empty"; URL_C="http://127.0.0.1:$NODE_PORT"; LOG_C="$T/C.log"
else
	start_sipprovd -o firmware_dir="$T/empty"; URL_C=$URL; LOG_C=$SIPPROVD_LOG
fi
is "$(code "$URL_C$P")" 404 "a node whose firmware_dir lacks the image answers 404"
is "$(code "$URL_C/fw/$(echo "$SHA" | tr 0-9a-f a-f0-9)/T46S-1.rom")" 404 "as for an unknown image"
code "$URL_C$P" >/dev/null
is "$(grep -c "firmware $SHA: not in this node's firmware_dir '$T/empty' (No such file or directory): answering 404 until the file $SHA is copied there" "$LOG_C")" \
	1 "and logs the hash to copy once, for two requests"
grep "firmware " "$LOG_C" | grep -v "$SHA" | grep -q .; ok $((!$?)) "an unknown image is not logged"
cp "$SHARED/$SHA" "$T/empty/$SHA"
is "$(code "$URL_C$P")" 200 "once the file is copied there, it serves it"
like "$(cat "$LOG_C")" "firmware $SHA: now in '$T/empty': serving it" "and says so"

# rm removes the file from firmware_dir.
sp firmware rm --vendor yealink --model T46S --version 1 >/dev/null; ok $? "firmware rm with firmware_dir"
[ ! -e "$SHARED/$SHA" ]; ok $? "removes the file from firmware_dir"

done_testing
