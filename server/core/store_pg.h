/*
 * store_pg.h: a libpq connection for store_pg.c (migrations) and db_pg.c
 * (the store's driver), opened and reported one way: libpq's messages on
 * one line, the URL shown without its password, the password (as typed or
 * decoded) replaced by *** wherever libpq quotes it.
 */
#ifndef SP_STORE_PG_H
#define SP_STORE_PG_H
#include <libpq-fe.h>
#include "sipprov.h"

#define PG_PW_MAX 1024

struct pg {
	PGconn *conn;
	const char *url;                    /* as given (with its password): the caller keeps it alive */
	char shown[SP_FIELD_MAX];           /* the URL without its password */
	char pw[PG_PW_MAX];                 /* wiped by store_pg_close */
};

/* Connect to url (connect_timeout 10 s and application_name sipprov unless
 * the URL says otherwise); NOTICEs are dropped.  0, or -1 with err naming
 * the URL without its password (g closed). */
int store_pg_connect(struct pg *g, const char *url, char *err, size_t errlen);
void store_pg_close(struct pg *g);
/* store_pg_schema on g's connection, which it leaves open. */
struct store_schema;
int store_pg_schema_on(struct pg *g, struct store_schema *sc, char *err, size_t errlen);
/* msg (libpq's words; NULL: "unknown error") on one line into out[n], url
 * replaced by shown, the password (pw, and as written in url) by ***. */
void store_pg_msg(const char *msg, const char *url, const char *shown, const char *pw, char *out, size_t n);
#endif
