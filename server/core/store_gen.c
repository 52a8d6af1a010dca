/*
 * store_gen.c: the config generation as it changes (issue 17, cache
 * coherence across nodes).
 *
 * On SQLite one sipprovd owns the file and reads config_gen as often as it
 * likes (an indexed read of a local page).  On PostgreSQL several nodes
 * share the database and a read is a round trip, so the database pushes:
 * schema/pg/024 sends NOTIFY sipprov_config_gen with the new generation at
 * every commit that bumps it.  A watcher LISTENs on a connection of its
 * own (not the store's: a LISTEN must stay out of the store's transactions
 * and outlive a reconnect) and still reads config_gen every safety_ms, in
 * case a notification went with a dropped connection.
 *
 * When the connection is lost the watcher says so once, retries with a
 * doubling backoff (100 ms to 5 s) and, connected again, LISTENs before it
 * reads config_gen: a commit after that read is always notified, so
 * nothing is missed between the two.  Meanwhile the caller keeps the
 * generation it knows and serves what it cached.  The value read on a new
 * connection is flagged (2): the connection may now reach another server
 * (a promoted replica, through a multi-host URL) that lacks the newest
 * commits, where the generation went back and will count up again over
 * different contents, so what was cached under those numbers is suspect.
 *
 * On SQLite in WAL mode, a commit by any process becomes visible when it
 * writes the WAL-index header at the start of the "-shm" file: two copies
 * of 48 bytes whose frame count, salts and checksums change with every
 * commit (https://www.sqlite.org/walformat.html, 2.1 "The WAL-Index
 * Header").  store_gen_poll reads those 96 bytes (one pread) and
 * compares them with what it saw last, so the daemon's watcher tells "no
 * commit since" without a read of config_gen, which took a read transaction
 * (two file locks, and the page cache reloaded after every commit of the
 * fetch writer) at each of its 1,000 looks a second under load.
 *
 * libpq ownership as in store_pg.c: every PGresult is PQclear'ed by whoever
 * got it, every PGnotify PQfreemem'd.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "sipprov.h"
#include "store_int.h"
#include "store_pg.h"
#include "db_sqlite.h"

#define GEN_CHANNEL "sipprov_config_gen"
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define WAL_HDR 96              /* the WAL-index header's two copies */

struct store_genwatch {
	struct store *s;                /* SQLite: read through it */
	bool pg;
	char *url;                      /* PG, with its password: wiped at free */
	struct pg g;                    /* PG: the LISTEN connection; g.conn NULL while lost */
	int safety_ms;
	long long read_at;              /* when config_gen was last read (monotonic ms) */
	long long retry_at;             /* lost: the next connection attempt */
	int backoff_ms;
	bool lost;                      /* the outage was logged */
	int shm;                        /* SQLite in WAL mode: its -shm file, read-only; else -1 */
	unsigned char hdr[WAL_HDR];     /* the header at store_gen_poll's last read of config_gen */
};

static void nap_ms(long long ms)
{
	if (ms > 0)
		usleep((useconds_t)(ms * 1000));
}

bool store_gen_pushed(struct store *s)
{
	return store_is_pg_url(store_url(s));
}

/* libpq's words about what failed, without the password. */
static void pg_why(struct store_genwatch *w, const char *msg, char *out, size_t n)
{
	store_pg_msg(msg, w->url, w->g.shown, w->g.pw, out, n);
}

/* config_gen on the LISTEN connection; -1 with why set when it failed. */
static long pg_read(struct store_genwatch *w, char *why, size_t n)
{
	PGresult *r = PQexec(w->g.conn, "SELECT gen FROM config_gen WHERE id = 1");
	long v = -1;
	if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	else
		pg_why(w, r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) : PQerrorMessage(w->g.conn), why, n);
	PQclear(r);
	if (v >= 0)
		w->read_at = sp_mono_ms();
	return v;
}

/* Connect, LISTEN, then read: the generation, or -1 with why set (and the
 * connection closed). */
static long pg_listen(struct store_genwatch *w, char *why, size_t n)
{
	if (store_pg_connect(&w->g, w->url, why, n) < 0)
		return -1;
	PGresult *r = PQexec(w->g.conn, "LISTEN " GEN_CHANNEL);
	bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		pg_why(w, r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) : PQerrorMessage(w->g.conn), why, n);
	PQclear(r);
	long v = ok ? pg_read(w, why, n) : -1;
	if (v < 0)
		store_pg_close(&w->g);
	return v;
}

/* The connection failed (why): close it, log the outage once, and retry
 * after the backoff. */
static void pg_lost(struct store_genwatch *w, const char *why)
{
	store_pg_close(&w->g);
	if (!w->lost)
		log_warnx("database '%s': config generation: %s; serving cached configs, reconnecting", w->g.shown,
			  why);
	w->lost = true;
	w->retry_at = sp_mono_ms() + w->backoff_ms;
	w->backoff_ms = w->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : w->backoff_ms * 2;
}

/* The -shm file of w's SQLite database when it is in WAL mode (the unix
 * VFS's file, beside the database); left -1 otherwise (a rollback
 * journal, or a VFS without it), and store_gen_poll always reads. */
static void shm_open_ro(struct store_genwatch *w)
{
	char path[4096];
	if (db_sqlite_shm_path(store_db(w->s), path, sizeof(path)))
		w->shm = open(path, O_RDONLY | O_CLOEXEC);
}

int store_gen_poll(struct store_genwatch *w, bool force, long *gen)
{
	unsigned char now[WAL_HDR];
	bool seen = w->shm >= 0 && pread(w->shm, now, sizeof(now), 0) == (ssize_t)sizeof(now);
	if (seen && !force && !memcmp(now, w->hdr, sizeof(now)))
		return 0;
	/* Read after the header, and the header kept only once read: a
	 * commit between the two is seen again at the next look. */
	long g = store_config_gen(w->s);
	if (g < 0)
		return -1;
	if (seen)
		memcpy(w->hdr, now, sizeof(now));
	*gen = g;
	return 1;
}

struct store_genwatch *store_genwatch_new(struct store *s, int safety_ms, long *gen, char *err, size_t errlen)
{
	struct store_genwatch *w = xcalloc(1, sizeof(*w));
	w->s = s;
	w->pg = store_gen_pushed(s);
	w->safety_ms = safety_ms;
	w->backoff_ms = BACKOFF_MIN_MS;
	w->shm = -1;
	if (!w->pg) {
		*gen = store_config_gen(s);
		shm_open_ro(w);
		return w;
	}
	w->url = xstrdup(store_url(s));
	char why[SP_ERR_MAX];
	*gen = pg_listen(w, why, sizeof(why));
	if (*gen < 0) {
		sp_err(err, errlen, "%s", why);
		store_genwatch_free(w);
		return NULL;
	}
	return w;
}

void store_genwatch_free(struct store_genwatch *w)
{
	if (!w)
		return;
	if (w->shm >= 0)
		close(w->shm);
	store_pg_close(&w->g);
	if (w->url) {
		secret_wipe(w->url, strlen(w->url));
		free(w->url);
	}
	free(w);
}

/* Lost: a new connection when the backoff allows it, within timeout_ms. */
static int pg_reconnect(struct store_genwatch *w, int timeout_ms, long *gen)
{
	long long wait = w->retry_at - sp_mono_ms();
	if (wait > timeout_ms) {
		nap_ms(timeout_ms);
		return -1;
	}
	nap_ms(wait);
	char why[SP_ERR_MAX];
	long g = pg_listen(w, why, sizeof(why));
	if (g < 0) {
		pg_lost(w, why);
		return -1;
	}
	log_info("database '%s': config generation: listening again, generation %ld", w->g.shown, g);
	w->lost = false;
	w->backoff_ms = BACKOFF_MIN_MS;
	*gen = g;
	return 2;
}

int store_gen_wait(struct store_genwatch *w, long known, int timeout_ms, long *gen)
{
	if (!w->pg) {
		nap_ms(timeout_ms);
		long g = store_config_gen(w->s);
		if (g < 0)
			return -1;
		*gen = g;
		return 1;
	}
	if (!w->g.conn)
		return pg_reconnect(w, timeout_ms, gen);
	char why[SP_ERR_MAX];
	long long deadline = sp_mono_ms() + timeout_ms;
	for (;;) {
		if (!PQconsumeInput(w->g.conn)) {
			pg_why(w, PQerrorMessage(w->g.conn), why, sizeof(why));
			pg_lost(w, why);
			return -1;
		}
		/* The payload is the generation its commit made; the newest
		 * counts (several commits may have queued theirs). */
		long best = -1;
		bool unreadable = false;
		PGnotify *n;
		while ((n = PQnotifies(w->g.conn))) {
			char *end;
			errno = 0;
			long v = strtol(n->extra, &end, 10);
			if (errno || end == n->extra || *end)
				unreadable = true;
			else if (v > best)
				best = v;
			PQfreemem(n);
		}
		if (best > known && !unreadable) {
			*gen = best;
			return 1;
		}
		long long now = sp_mono_ms();
		if (unreadable || now - w->read_at >= w->safety_ms)
			break;
		long long left = deadline - now;
		long long safety = w->read_at + w->safety_ms - now;
		if (left <= 0)
			return 0;
		struct pollfd p = { .fd = PQsocket(w->g.conn), .events = POLLIN };
		if (p.fd < 0) {
			pg_lost(w, "no connection");
			return -1;
		}
		if (poll(&p, 1, (int)(left < safety ? left : safety)) < 0 && errno != EINTR) {
			pg_lost(w, strerror(errno));
			return -1;
		}
	}
	/* The safety read, or a payload that was not a number. */
	long g = pg_read(w, why, sizeof(why));
	if (g < 0) {
		pg_lost(w, why);
		return -1;
	}
	*gen = g;
	return 1;
}
