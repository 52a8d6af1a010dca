/*
 * unit/firmware.c: the Range header parser against RFC 9110 section 14
 * (single ranges served, suffix ranges, clamping, unsatisfiable ones, and
 * everything else ignored as "send the whole file"), and the firmware
 * folder and file name helpers.
 */
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "daemon/daemon.h"
#include "core/sipprov.h"

static const struct {
	const char *hdr;
	uint64_t size;
	int rc;
	uint64_t off, len;
} cases[] = {
	{ NULL, 1000, 0, 0, 0 },
	{ "bytes=0-99", 1000, 1, 0, 100 },
	{ "bytes=100-199", 1000, 1, 100, 100 },
	{ "bytes=900-", 1000, 1, 900, 100 },
	{ "bytes=900-5000", 1000, 1, 900, 100 },        /* last-pos past the end is clamped */
	{ "bytes=999-999", 1000, 1, 999, 1 },
	{ "bytes=-100", 1000, 1, 900, 100 },             /* the last 100 */
	{ "bytes=-5000", 1000, 1, 0, 1000 },             /* more than there is: all of it */
	{ "bytes=1000-", 1000, -1, 0, 0 },               /* first-pos at the end */
	{ "bytes=5000-6000", 1000, -1, 0, 0 },
	{ "bytes=-0", 1000, -1, 0, 0 },
	{ "bytes=0-", 0, -1, 0, 0 },                     /* nothing to send from an empty file */
	{ "bytes=200-100", 1000, 0, 0, 0 },              /* invalid: ignored */
	{ "bytes=0-99,200-299", 1000, 0, 0, 0 },         /* several ranges: whole file */
	{ "items=0-99", 1000, 0, 0, 0 },
	{ "bytes=", 1000, 0, 0, 0 },
	{ "bytes=a-b", 1000, 0, 0, 0 },
	{ "bytes=-", 1000, 0, 0, 0 },
	{ "bytes=99999999999999999999-", 1000, 0, 0, 0 },  /* overflow: ignored, not wrapped */
	{ "bytes=0-18446744073709551615", 1000, 1, 0, 1000 },
};

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t off = 7, len = 7;
		int rc = firmware_range(cases[i].hdr, cases[i].size, &off, &len);
		is_int(rc, cases[i].rc, "'%s' of %llu bytes -> %d", cases[i].hdr ? cases[i].hdr : "(none)",
		       (unsigned long long)cases[i].size, cases[i].rc);
		if (rc == 1 && cases[i].rc == 1)
			ok(off == cases[i].off && len == cases[i].len, "'%s': offset %llu length %llu", cases[i].hdr,
			   (unsigned long long)off, (unsigned long long)len);
	}

	char d[64], p[128];
	is_int(firmware_dir("/var/lib/sipprov/sipprov.db", NULL, d, sizeof(d)), 0, "dir of an absolute path");
	is_str(d, "/var/lib/sipprov/firmware", "firmware next to the database");
	firmware_dir("sipprov.db", "", d, sizeof(d));
	is_str(d, "firmware", "a bare database name: ./firmware");
	firmware_dir("/sipprov.db", NULL, d, sizeof(d));
	is_str(d, "/firmware", "a database in / keeps the slash");
	is_int(firmware_dir("/a/very/long/path/that/does/not/fit/sipprov.db", NULL, d, 16), -1, "too long: refused");
	is_int(firmware_dir("/var/lib/sipprov/sipprov.db", "/srv/fw", d, sizeof(d)), 0, "firmware_dir set");
	is_str(d, "/srv/fw", "firmware_dir overrides the folder beside a SQLite file");
	is_int(firmware_dir("postgresql://sp:pw@db/sipprov", NULL, d, sizeof(d)), -1, "PostgreSQL, no firmware_dir");
	is_str(d, "", "no folder made up from a URL");
	is_int(firmware_dir("postgresql://sp:pw@db/sipprov", "/mnt/shared/fw", d, sizeof(d)), 0,
	       "PostgreSQL with firmware_dir");
	is_str(d, "/mnt/shared/fw", "the folder named");
	is_int(firmware_dir("x.db", "/a/very/long/firmware/folder", d, 16), -1, "a firmware_dir too long: refused");

	const char *sha = "8c1bd9f5417eef817a77656b9f6cce1ab5c2c8b27940280710bbf49208ee4222";
	ok(firmware_sha_ok(sha), "a SHA-256 hex");
	ok(!firmware_sha_ok("8C1BD9F5417EEF817A77656B9F6CCE1AB5C2C8B27940280710BBF49208EE4222"), "uppercase refused");
	ok(!firmware_sha_ok("8c1bd9"), "short refused");
	ok(!firmware_sha_ok("../../../../etc/passwd"), "a path refused");
	is_int(firmware_file("/fw", "../x", p, sizeof(p)), -1, "no file name from a non-hash");
	is_int(firmware_file("/fw", sha, p, sizeof(p)), 0, "file of a hash");
	ok(!strcmp(p + 4, sha) && !strncmp(p, "/fw/", 4), "dir/sha");
	return tap_done();
}
