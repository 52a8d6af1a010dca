/*
 * pgurl.c: store_is_pg_url and store_pg_url_redact (store_pg.c), table
 * driven: which database strings are PostgreSQL URLs, and that a URL in a
 * message never carries its password (userinfo or password= parameter),
 * multi-host and IPv6 forms included.  No server needed: 9c runs one.
 */
#include <stdio.h>
#include <string.h>
#include "tap.h"
#include "core/sipprov.h"

static const struct { const char *db; bool pg; } kinds[] = {
	{ "postgresql://db1/sipprov", true },
	{ "postgres://u:p@db1/sipprov", true },
	{ "postgresql://", true },
	{ "sipprov.db", false },
	{ "/var/lib/sipprov/sipprov.db", false },
	{ ":memory:", false },
	{ "file:x.db?mode=ro", false },
	{ "postgresql:/x", false },
	{ "Postgresql://db1/x", false },        /* libpq's scheme is lowercase */
	{ "", false },
};

static const struct { const char *url, *shown; } redact[] = {
	{ "postgresql://sp:s3cret@127.0.0.1:5432/sipprov", "postgresql://sp@127.0.0.1:5432/sipprov" },
	{ "postgres://sp:s3cret@db1/sipprov", "postgres://sp@db1/sipprov" },
	{ "postgresql://sp@db1/sipprov", "postgresql://sp@db1/sipprov" },
	{ "postgresql://db1/sipprov", "postgresql://db1/sipprov" },
	{ "postgresql://sp:s3cret@db1:5432,db2:5432/sipprov?target_session_attrs=read-write",
	  "postgresql://sp@db1:5432,db2:5432/sipprov?target_session_attrs=read-write" },
	{ "postgresql://sp:s3cret@[::1]:5432/sipprov", "postgresql://sp@[::1]:5432/sipprov" },
	{ "postgresql://sp:p%40ss@db1/sipprov", "postgresql://sp@db1/sipprov" },
	{ "postgresql://sp:a@b@db1/sipprov", "postgresql://sp@db1/sipprov" },   /* the last @ ends userinfo */
	{ "postgresql://sp@db1/sipprov?password=s3cret", "postgresql://sp@db1/sipprov" },
	{ "postgresql://sp@db1/sipprov?sslmode=require&password=s3cret&connect_timeout=3",
	  "postgresql://sp@db1/sipprov?sslmode=require&connect_timeout=3" },
	{ "postgresql://sp:s3cret@db1?password=s3cret", "postgresql://sp@db1" },
	{ "postgresql://:s3cret@db1/x", "postgresql://@db1/x" },
	{ "postgresql://db1/x?user=sp&", "postgresql://db1/x?user=sp" },
	{ "sipprov.db", "sipprov.db" },
};

int main(void)
{
	char out[256];
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		is_int(store_is_pg_url(kinds[i].db), kinds[i].pg, "'%s' %s a PostgreSQL URL", kinds[i].db,
		       kinds[i].pg ? "is" : "is not");
	ok(!store_is_pg_url(NULL), "NULL is not a PostgreSQL URL");
	for (size_t i = 0; i < sizeof(redact) / sizeof(redact[0]); i++) {
		store_pg_url_redact(redact[i].url, out, sizeof(out));
		is_str(out, redact[i].shown, "redacted '%s'", redact[i].url);
		ok(!strstr(out, "s3cret") && !strstr(out, "p%40ss"), "(no password left in '%s')", out);
	}
	/* A small buffer truncates, never overflows. */
	char tiny[12];
	store_pg_url_redact("postgresql://sp:s3cret@db1/sipprov", tiny, sizeof(tiny));
	is_str(tiny, "postgresql:", "a short buffer gets a truncated, NUL-terminated prefix");
	return tap_done();
}
