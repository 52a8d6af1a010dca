/*
 * drift.c: registration observations -> device/account -> expected vs
 * observed -> drift events.  Matching: the device the message names (the
 * MAC in its User-Agent, +sip.instance or Contact) first, so two phones
 * sharing a SIP user keep their own failures; then registrar + username,
 * then auth username.  diagnose's own probes are stored apart.  Rules:
 * registrar, transport, port, username, auth_username, stale (fetched
 * version differs from the version the device should run), never_fetched,
 * unknown_user.  Events are de-duplicated while open and resolved by a
 * later observation where the field matches.  No network, no threads.
 *
 * Last-code policy: every final outcome the correlator emits is recorded
 * as account.last_code: 200, 403, 404, 408 (no response), and 401/407
 * only when the challenge was never answered by a retry (a retried 401 is
 * never emitted, so it does not count as a failure).
 * Jansson: json_loadb returns a new reference, decref'd here.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sipprov.h"

#define MAX_CANDIDATES 16
#define WEBHOOK_MAX    1000

struct cand { int64_t account_id, device_id; };
struct cands { struct cand c[MAX_CANDIDATES]; size_t n; };

static int cand_add(int64_t account_id, int64_t device_id, void *arg)
{
	struct cands *cs = arg;
	if (cs->n < MAX_CANDIDATES)
		cs->c[cs->n++] = (struct cand){ account_id, device_id };
	return cs->n >= MAX_CANDIDATES;
}

/*
 * What an observation is compared with: the few values of a device's
 * effective config that the rules read, packed in one allocation (the
 * strings follow the struct).  Built from effective_load_device, so it
 * means exactly what the effective config means.
 */
struct expect_acct {
	int64_t id;
	long line;
	const char *username, *auth_username;
};
struct expect {
	int64_t device_id;
	long version;                       /* the version it should run */
	const char *mac, *label, *registrar, *transport, *port;
	size_t naccounts;
	struct expect_acct *acct;
	char data[];
};

/* Per template profile (tenant, the device's template field, pinned
 * version): the same for every device without overrides, so a device seen
 * for the first time need not re-read tenant, version and JSON. */
struct profile {
	int64_t tenant_id;
	char template_name[SP_SLUG_MAX];
	long pinned, version;
	char label[SP_SLUG_MAX * 2 + 16];
	char registrar[SP_FIELD_MAX], transport[SP_FIELD_MAX], port[SP_FIELD_MAX];
};

#define PROFILES 64
#define CACHE_DEFAULT 65536

/*
 * Every cached value comes from config that bumps config_gen (schema 002)
 * when it changes; the whole cache is dropped when the generation read in
 * the observation's own transaction differs.  fetched_at/fetched_version
 * do not bump it, so they are never cached: read per observation.
 */
struct drift_cache {
	long gen;
	size_t nslots;
	struct expect **slot;               /* by device id modulo nslots */
	struct profile prof[PROFILES];
	size_t nprof, next_prof;
	long hits, misses;
	unsigned long tx;                   /* store_tx_serial when gen was read ... */
	bool tx_valid;                      /* ... inside that write transaction */
	unsigned long unk_tx;               /* store_tx_serial when unk_none was read ... */
	bool unk_valid;                     /* ... inside that write transaction */
	bool unk_none;                      /* no unknown_user event open (none opened since) */
	int batch_mode;                     /* drift_cache_batch: -1 by backend, 0 per row, 1 per batch */
	struct drift_batch *batch;          /* while drift_record_many decides a batch in memory */
	long batched, unbatched;            /* drift_record_many's batches: decided in memory, or row by row */
};

struct drift_cache *drift_cache_new(size_t devices)
{
	struct drift_cache *c = xcalloc(1, sizeof(*c));
	c->gen = -1;
	c->batch_mode = -1;
	c->nslots = devices ? devices : CACHE_DEFAULT;
	c->slot = xcalloc(c->nslots, sizeof(*c->slot));
	return c;
}

static void cache_clear(struct drift_cache *c)
{
	for (size_t i = 0; i < c->nslots; i++) {
		free(c->slot[i]);
		c->slot[i] = NULL;
	}
	c->nprof = c->next_prof = 0;
}

void drift_cache_free(struct drift_cache *c)
{
	if (!c)
		return;
	cache_clear(c);
	free(c->slot);
	free(c);
}

void drift_cache_stats(const struct drift_cache *c, long *hits, long *misses)
{
	*hits = c->hits;
	*misses = c->misses;
}

/* Drop everything if the config changed since the entries were built.
 * Once per write transaction (HEP intake batches 512 observations in
 * one): config writers that open one with store_begin wait for ours to
 * end, so the generation read at its first observation holds for the
 * rest -- on PostgreSQL a read per observation was one more round trip
 * each.  (A PostgreSQL config write outside store_begin, committed during
 * the batch, is seen by the next batch, 50 ms later at most.) */
static int cache_validate(struct store *s, struct drift_cache *c, char *err, size_t errlen)
{
	bool tx = !store_drift_autocommit(s);
	if (tx && c->gen >= 0 && c->tx_valid && c->tx == store_tx_serial(s))
		return 0;
	long gen = store_config_gen(s);
	c->tx_valid = false;
	if (gen < 0)
		return sp_err(err, errlen, "cannot read config generation: %s", store_errmsg(s));
	c->tx = store_tx_serial(s);
	c->tx_valid = tx;
	if (gen != c->gen) {
		cache_clear(c);
		c->gen = gen;
	}
	return 0;
}

static const char *expected_registrar(const struct effective *e)
{
	const char *r = effective_get(e, "registrar");
	return *r ? r : effective_get(e, "server");
}

static const char *expected_port(const struct effective *e)
{
	/* Through an outbound proxy the destination port is the proxy's. */
	return *effective_get(e, "outbound_proxy") ? "" : effective_get(e, "port");
}

/* Pack one expect; strings are copied. */
static struct expect *expect_new(int64_t device_id, const char *mac, long version, const char *label,
				 const char *registrar, const char *transport, const char *port,
				 const struct account *a, size_t na)
{
	const char *str[5] = { mac, label, registrar, transport, port };
	size_t len = na * sizeof(struct expect_acct);
	for (size_t i = 0; i < 5; i++)
		len += strlen(str[i]) + 1;
	for (size_t i = 0; i < na; i++)
		len += strlen(a[i].username) + strlen(a[i].auth_username) + 2;
	struct expect *x = xmalloc(sizeof(*x) + len);
	/* The account array first: data[] is aligned for it (struct expect
	 * ends on an 8-byte boundary). */
	x->acct = (struct expect_acct *)(void *)x->data;
	char *p = x->data + na * sizeof(struct expect_acct);
	const char **dst[5] = { &x->mac, &x->label, &x->registrar, &x->transport, &x->port };
	for (size_t i = 0; i < 5; i++) {
		size_t l = strlen(str[i]) + 1;
		memcpy(p, str[i], l);
		*dst[i] = p;
		p += l;
	}
	for (size_t i = 0; i < na; i++) {
		size_t lu = strlen(a[i].username) + 1, la = strlen(a[i].auth_username) + 1;
		x->acct[i] = (struct expect_acct){ a[i].id, a[i].line, p, p + lu };
		memcpy(p, a[i].username, lu);
		memcpy(p + lu, a[i].auth_username, la);
		p += lu + la;
	}
	x->device_id = device_id;
	x->version = version;
	x->naccounts = na;
	return x;
}

static bool no_overrides(const struct device *d)
{
	return !strcmp(d->overrides, "{}") || !d->overrides[0];
}

static struct profile *profile_find(struct drift_cache *c, const struct device *d)
{
	for (size_t i = 0; c && i < c->nprof; i++)
		if (c->prof[i].tenant_id == d->tenant_id && c->prof[i].pinned == d->pinned_version &&
		    !strcmp(c->prof[i].template_name, d->template_name))
			return &c->prof[i];
	return NULL;
}

static void profile_add(struct drift_cache *c, const struct device *d, const struct effective *e)
{
	struct profile *p;
	if (c->nprof < PROFILES) {
		p = &c->prof[c->nprof++];
	} else {
		p = &c->prof[c->next_prof];
		c->next_prof = (c->next_prof + 1) % PROFILES;
	}
	p->tenant_id = d->tenant_id;
	sp_strlcpy(p->template_name, d->template_name, sizeof(p->template_name));
	p->pinned = d->pinned_version;
	p->version = e->version;
	sp_strlcpy(p->label, e->version_label, sizeof(p->label));
	sp_strlcpy(p->registrar, expected_registrar(e), sizeof(p->registrar));
	sp_strlcpy(p->transport, effective_get(e, "transport"), sizeof(p->transport));
	sp_strlcpy(p->port, expected_port(e), sizeof(p->port));
}

/* A value longer than a profile field would be cut: never cache that. */
static bool profile_fits(const struct effective *e)
{
	return strlen(expected_registrar(e)) < SP_FIELD_MAX && strlen(effective_get(e, "transport")) < SP_FIELD_MAX &&
	       strlen(expected_port(e)) < SP_FIELD_MAX && strlen(e->version_label) < SP_SLUG_MAX * 2 + 16;
}

static int w_account_list(struct store *s, struct drift_cache *c, int64_t device_id, struct account *a, size_t max,
			  size_t *n);

/* Build the expect of a device row (the caller read it in this
 * transaction).  1 (*out owned by the caller), or -1. */
static int expect_build(struct store *s, struct drift_cache *c, const struct device *d, struct expect **out,
			char *err, size_t errlen)
{
	struct profile *p = no_overrides(d) ? profile_find(c, d) : NULL;
	if (p) {
		struct account a[SP_MAX_LINES];
		size_t na = 0;
		if (w_account_list(s, c, d->id, a, SP_MAX_LINES, &na) < 0)
			return sp_err(err, errlen, "device %s: cannot read accounts: %s", d->mac, store_errmsg(s));
		*out = expect_new(d->id, d->mac, p->version, p->label, p->registrar, p->transport, p->port, a, na);
		return 1;
	}
	/* On the stack (about 40 KiB): allocating it per observation made the
	 * heap grow and trim on every call, and page faults dominated. */
	struct effective e;
	if (effective_load_device(s, NULL, d, &e, err, errlen) < 0)
		return -1;
	if (c && no_overrides(d) && profile_fits(&e))
		profile_add(c, d, &e);
	*out = expect_new(d->id, d->mac, e.version, e.version_label, expected_registrar(&e),
			  effective_get(&e, "transport"), expected_port(&e), e.accounts, e.naccounts);
	effective_release(&e);
	return 1;
}

static bool obs_mac(const struct observation *o, char mac[SP_MAC_LEN + 1]);

/*
 * Intake per batch (issue 17): drift_record_many reads what a batch of
 * observations needs in a few statements (accounts by name, devices by
 * MAC, fetch state, open events), decides every observation in memory
 * through the same record() as one at a time, then writes the events in
 * batches.  The w_* functions below are record()'s reads and writes of
 * intake state: from the batch while c->batch is set, else the store's
 * per-row statements.  Between the reads and the writes nothing but this
 * thread changes these rows: config writers wait for the write transaction
 * (cache_validate), and one registrar has one node (docs/multi-node.md).
 */
struct bacct {
	int64_t id, device_id;
	char *user, *auth;
	int next_user, next_auth;           /* chains, in id order */
};
struct bfetch { int64_t id, at; long version; int next; };
struct bdev { struct device *d; int next; };
struct bev {
	struct drift_event e;               /* e.resolved set when resolved in the batch */
	char src_ip[64];                    /* unknown_user only */
	bool is_new, bumped, gone;
	int next;                           /* by device, or by observed for unknown_user */
};
struct bsrc { char ip[64]; long n, delta; int next; };
struct bline { int64_t id, device_id; long line; char *user, *auth; int next; };
struct blog { int level; char *msg; };

struct drift_batch {
	size_t nb;                          /* buckets of every chain, a power of two */
	struct bacct *acct;
	size_t nacct, acctcap;
	int *h_user, *h_auth;
	struct bdev *dev;
	size_t ndev, devcap;
	int *h_mac;
	struct bdev *iddev;                 /* devices whose expect was not cached, and their lines */
	size_t niddev, iddevcap;
	int *h_id;
	struct bline *line;
	size_t nline, linecap;
	int *h_line;
	struct bfetch *fetch;
	size_t nfetch, fetchcap;
	int *h_fetch;
	struct bev *ev;
	size_t nev, evcap;
	int *h_ev, *h_lbl;
	struct bsrc *src;
	size_t nsrc, srccap;
	int *h_src;
	char *srcs;                         /* JSON array of the batch's source addresses */
	bool counted;                       /* unknown_user counts read */
	long total, total_delta;
	int64_t next_tmp;                   /* ids of new events until they are written */
	const char **metric;
	size_t nmetric, metriccap;
	struct blog *log;
	size_t nlog, logcap;
	bool fallback;                      /* a case the batch does not decide: per row instead */
};

static size_t h_str(const char *s)
{
	size_t h = 1469598103934665603ULL;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static size_t h_int(int64_t v)
{
	return (size_t)((uint64_t)v * 0x9e3779b97f4a7c15ULL >> 17);
}

static void *grow(void *p, size_t *cap, size_t n, size_t sz)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 64;
	return xrealloc(p, *cap * sz);
}

static int *heads(size_t nb)
{
	int *h = xmalloc(nb * sizeof(*h));
	for (size_t i = 0; i < nb; i++)
		h[i] = -1;
	return h;
}

static void batch_free(struct drift_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->nacct; i++) {
		free(b->acct[i].user);
		free(b->acct[i].auth);
	}
	for (size_t i = 0; i < b->ndev; i++)
		free(b->dev[i].d);
	for (size_t i = 0; i < b->niddev; i++)
		free(b->iddev[i].d);
	for (size_t i = 0; i < b->nline; i++) {
		free(b->line[i].user);
		free(b->line[i].auth);
	}
	free(b->iddev);
	free(b->h_id);
	free(b->line);
	free(b->h_line);
	for (size_t i = 0; i < b->nlog; i++)
		free(b->log[i].msg);
	free(b->acct);
	free(b->h_user);
	free(b->h_auth);
	free(b->dev);
	free(b->h_mac);
	free(b->fetch);
	free(b->h_fetch);
	free(b->ev);
	free(b->h_ev);
	free(b->h_lbl);
	free(b->src);
	free(b->h_src);
	free(b->srcs);
	free(b->metric);
	free(b->log);
	free(b);
}

static void note_metric(struct drift_cache *c, const char *series)
{
	struct drift_batch *b = c ? c->batch : NULL;
	if (!b) {
		metrics_inc(series);
		return;
	}
	/* Counted once the batch is written: a batch redone row by row
	 * counts its observations once. */
	b->metric = grow(b->metric, &b->metriccap, b->nmetric, sizeof(*b->metric));
	b->metric[b->nmetric++] = series;
}

static void note_log(struct drift_cache *c, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note_log(struct drift_cache *c, int level, const char *fmt, ...)
{
	struct drift_batch *b = c ? c->batch : NULL;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!b) {
		if (level == LOG_LVL_WARN)
			log_warnx("%s", msg);
		else
			log_info("%s", msg);
		return;
	}
	b->log = grow(b->log, &b->logcap, b->nlog, sizeof(*b->log));
	b->log[b->nlog++] = (struct blog){ level, xstrdup(msg) };
}

static int w_account_find(struct store *s, struct drift_cache *c, const char *v, int by_auth,
			  int (*fn)(int64_t, int64_t, void *), void *arg)
{
	struct drift_batch *b = c ? c->batch : NULL;
	if (!b)
		return store_account_find(s, v, by_auth, fn, arg);
	int n = 0;
	for (int i = (by_auth ? b->h_auth : b->h_user)[h_str(v) & (b->nb - 1)]; i >= 0;
	     i = by_auth ? b->acct[i].next_auth : b->acct[i].next_user) {
		if (strcmp(by_auth ? b->acct[i].auth : b->acct[i].user, v))
			continue;
		if (n++ == 64)
			break;          /* store_account_find's LIMIT 64 */
		if (fn(b->acct[i].id, b->acct[i].device_id, arg))
			break;
	}
	return 0;
}

static int w_device_get(struct store *s, struct drift_cache *c, const char *mac, struct device *d)
{
	struct drift_batch *b = c ? c->batch : NULL;
	if (!b)
		return store_device_get(s, mac, d);
	for (int i = b->h_mac[h_str(mac) & (b->nb - 1)]; i >= 0; i = b->dev[i].next)
		if (!strcmp(b->dev[i].d->mac, mac)) {
			*d = *b->dev[i].d;
			return 1;
		}
	return 0;
}

static int w_device_fetched(struct store *s, struct drift_cache *c, int64_t id, int64_t *at, long *version)
{
	struct drift_batch *b = c ? c->batch : NULL;
	if (!b)
		return store_device_fetched(s, id, at, version);
	for (int i = b->h_fetch[h_int(id) & (b->nb - 1)]; i >= 0; i = b->fetch[i].next)
		if (b->fetch[i].id == id) {
			*at = b->fetch[i].at;
			*version = b->fetch[i].version;
			return 1;
		}
	return 0;
}

static const struct device *iddev_find(const struct drift_batch *b, int64_t id)
{
	for (int i = b->h_id[h_int(id) & (b->nb - 1)]; i >= 0; i = b->iddev[i].next)
		if (b->iddev[i].d->id == id)
			return b->iddev[i].d;
	return NULL;
}

/* A device row for an expect not cached.  Read with the batch when it was
 * not cached then; else (evicted during the batch) from the store. */
static int w_device_get_id(struct store *s, struct drift_cache *c, int64_t id, struct device *d)
{
	const struct device *r = c && c->batch ? iddev_find(c->batch, id) : NULL;
	if (!r)
		return store_device_get_id(s, id, d);
	*d = *r;
	return 1;
}

/* The lines of a device, by line: the fields an expect keeps. */
static int w_account_list(struct store *s, struct drift_cache *c, int64_t device_id, struct account *a, size_t max,
			  size_t *n)
{
	struct drift_batch *b = c ? c->batch : NULL;
	if (!b || !iddev_find(b, device_id))
		return store_account_list(s, device_id, a, max, n);
	*n = 0;
	for (int i = b->h_line[h_int(device_id) & (b->nb - 1)]; i >= 0 && *n < max; i = b->line[i].next) {
		const struct bline *l = &b->line[i];
		if (l->device_id != device_id)
			continue;
		size_t j = (*n)++;
		for (; j > 0 && a[j - 1].line > l->line; j--)
			a[j] = a[j - 1];
		memset(&a[j], 0, sizeof(a[j]));
		a[j].id = l->id;
		a[j].device_id = l->device_id;
		a[j].line = l->line;
		sp_strlcpy(a[j].username, l->user, sizeof(a[j].username));
		sp_strlcpy(a[j].auth_username, l->auth, sizeof(a[j].auth_username));
	}
	return 0;
}

static int w_open_list(struct store *s, struct drift_cache *c, int64_t device_id, int64_t account_id,
		       struct drift_event *ev, size_t max, size_t *n)
{
	struct drift_batch *b = c ? c->batch : NULL;
	if (!b)
		return store_drift_open_list(s, device_id, account_id, ev, max, n);
	*n = 0;
	for (int i = b->h_ev[h_int(device_id) & (b->nb - 1)]; i >= 0; i = b->ev[i].next) {
		const struct bev *e = &b->ev[i];
		if (e->gone || e->e.device_id != device_id || e->e.account_id != account_id)
			continue;
		if (*n == max) {
			/* Too many for the list: the per-kind statements would
			 * run; the whole batch goes row by row instead. */
			b->fallback = true;
			return -1;
		}
		ev[(*n)++] = e->e;
	}
	return 0;
}

static struct bev *find_ev(struct drift_batch *b, int64_t device_id, int64_t id)
{
	for (int i = b->h_ev[h_int(device_id) & (b->nb - 1)]; i >= 0; i = b->ev[i].next)
		if (b->ev[i].e.id == id)
			return &b->ev[i];
	return NULL;
}

static int w_bump(struct store *s, struct drift_cache *c, int64_t device_id, int64_t id, const char *expected,
		  const char *observed, int64_t now)
{
	struct drift_batch *b = c ? c->batch : NULL;
	if (!b)
		return store_drift_bump(s, id, expected, observed, now);
	struct bev *e = find_ev(b, device_id, id);
	if (!e)
		return -1;
	e->e.last_seen = now;
	e->e.count++;
	sp_strlcpy(e->e.expected, expected, sizeof(e->e.expected));
	sp_strlcpy(e->e.observed, observed, sizeof(e->e.observed));
	e->bumped = true;
	return 0;
}

static void src_delta(struct drift_batch *b, const char *ip, long d);

static void ev_resolve(struct drift_batch *b, struct bev *e, int64_t now)
{
	e->e.resolved = now;
	e->gone = true;
	if (!e->e.device_id && !strcmp(e->e.kind, "unknown_user")) {
		src_delta(b, e->src_ip, -1);
		b->total_delta--;
	}
}

static int w_resolve_id(struct store *s, struct drift_cache *c, int64_t device_id, int64_t id, int64_t now)
{
	struct drift_batch *b = c ? c->batch : NULL;
	if (!b)
		return store_drift_resolve_id(s, id, now);
	struct bev *e = find_ev(b, device_id, id);
	if (!e)
		return -1;
	ev_resolve(b, e, now);
	return 0;
}

static struct bev *ev_add(struct drift_batch *b, const struct drift_event *e, const char *src_ip)
{
	b->ev = grow(b->ev, &b->evcap, b->nev, sizeof(*b->ev));
	struct bev *n = &b->ev[b->nev];
	memset(n, 0, sizeof(*n));
	n->e = *e;
	sp_strlcpy(n->src_ip, src_ip ? src_ip : "", sizeof(n->src_ip));
	int *h = e->device_id ? &b->h_ev[h_int(e->device_id) & (b->nb - 1)] : &b->h_lbl[h_str(e->observed) & (b->nb - 1)];
	n->next = *h;
	*h = (int)b->nev++;
	return n;
}

static int w_insert(struct store *s, struct drift_cache *c, int64_t device_id, int64_t account_id, const char *kind,
		    const char *expected, const char *observed, int64_t now)
{
	struct drift_batch *b = c ? c->batch : NULL;
	if (!b)
		return store_drift_insert(s, device_id, account_id, kind, expected, observed, now);
	struct drift_event e;
	memset(&e, 0, sizeof(e));
	e.id = b->next_tmp++;       /* after every stored id, as the row will be */
	e.device_id = device_id;
	e.account_id = account_id;
	sp_strlcpy(e.kind, kind, sizeof(e.kind));
	sp_strlcpy(e.expected, expected, sizeof(e.expected));
	sp_strlcpy(e.observed, observed, sizeof(e.observed));
	e.first_seen = e.last_seen = now;
	e.count = 1;
	ev_add(b, &e, NULL)->is_new = true;
	return 0;
}

static struct bsrc *src_get(struct drift_batch *b, const char *ip)
{
	int *h = &b->h_src[h_str(ip) & (b->nb - 1)];
	for (int i = *h; i >= 0; i = b->src[i].next)
		if (!strcmp(b->src[i].ip, ip))
			return &b->src[i];
	b->src = grow(b->src, &b->srccap, b->nsrc, sizeof(*b->src));
	struct bsrc *n = &b->src[b->nsrc];
	memset(n, 0, sizeof(*n));
	sp_strlcpy(n->ip, ip, sizeof(n->ip));
	n->next = *h;
	*h = (int)b->nsrc++;
	return n;
}

static void src_delta(struct drift_batch *b, const char *ip, long d)
{
	src_get(b, ip)->delta += d;
}

static void src_count(const char *ip, long n, void *arg)
{
	src_get(arg, ip)->n = n;
}

/* Resolve the open unknown_user events of label (store_drift_resolve). */
static int w_resolve_unknown(struct store *s, struct drift_cache *c, const char *label, int64_t now)
{
	struct drift_batch *b = c ? c->batch : NULL;
	if (!b)
		return store_drift_resolve(s, 0, 0, "unknown_user", label, now, NULL) < 0 ? -1 : 0;
	for (int i = b->h_lbl[h_str(label) & (b->nb - 1)]; i >= 0; i = b->ev[i].next)
		if (!b->ev[i].gone && !strcmp(b->ev[i].e.observed, label))
			ev_resolve(b, &b->ev[i], now);
	return 0;
}

/* store_drift_unknown_open on the batch: the counts are read once, when
 * first needed (nothing is written before the batch ends, so the stored
 * counts plus the batch's own changes are the counts now). */
static int w_unknown_open(struct store *s, struct drift_cache *c, const char *label, const char *src_ip,
			  int64_t now, long per_source, long max, enum store_unknown_outcome *out)
{
	struct drift_batch *b = c ? c->batch : NULL;
	bool bumped = false;
	if (!b)
		return store_drift_unknown_open(s, label, src_ip, now, per_source, max, out);
	for (int i = b->h_lbl[h_str(label) & (b->nb - 1)]; i >= 0; i = b->ev[i].next) {
		struct bev *e = &b->ev[i];
		if (e->gone || strcmp(e->e.observed, label))
			continue;
		e->e.last_seen = now;
		e->e.count++;
		e->bumped = true;
		bumped = true;
	}
	if (bumped) {
		*out = STORE_UNKNOWN_BUMPED;
		return 0;
	}
	if (!b->counted) {
		if (store_drift_unknown_counts(s, b->srcs, src_count, b, &b->total) < 0)
			return -1;
		b->counted = true;
	}
	struct bsrc *sc = src_get(b, src_ip);
	if (sc->n + sc->delta >= per_source) {
		*out = STORE_UNKNOWN_CAP_SOURCE;
		return 0;
	}
	if (b->total + b->total_delta >= max) {
		*out = STORE_UNKNOWN_CAP_TOTAL;
		return 0;
	}
	struct drift_event e;
	memset(&e, 0, sizeof(e));
	e.id = b->next_tmp++;
	sp_strlcpy(e.kind, "unknown_user", sizeof(e.kind));
	sp_strlcpy(e.observed, label, sizeof(e.observed));
	e.first_seen = e.last_seen = now;
	e.count = 1;
	ev_add(b, &e, src_ip)->is_new = true;
	sc->delta++;
	b->total_delta++;
	*out = STORE_UNKNOWN_OPENED;
	return 0;
}

/* ---- loading a batch ---- */

static int load_acct(int64_t id, int64_t device_id, const char *user, const char *auth, void *arg)
{
	struct drift_batch *b = arg;
	b->acct = grow(b->acct, &b->acctcap, b->nacct, sizeof(*b->acct));
	b->acct[b->nacct++] = (struct bacct){ id, device_id, xstrdup(user), xstrdup(auth), -1, -1 };
	return 0;
}

static int load_dev(const struct device *d, void *arg)
{
	struct drift_batch *b = arg;
	b->dev = grow(b->dev, &b->devcap, b->ndev, sizeof(*b->dev));
	struct device *copy = xmalloc(sizeof(*copy));
	*copy = *d;
	int *h = &b->h_mac[h_str(d->mac) & (b->nb - 1)];
	b->dev[b->ndev] = (struct bdev){ copy, *h };
	*h = (int)b->ndev++;
	return 0;
}

static int load_iddev(const struct device *d, void *arg)
{
	struct drift_batch *b = arg;
	b->iddev = grow(b->iddev, &b->iddevcap, b->niddev, sizeof(*b->iddev));
	struct device *copy = xmalloc(sizeof(*copy));
	*copy = *d;
	int *h = &b->h_id[h_int(d->id) & (b->nb - 1)];
	b->iddev[b->niddev] = (struct bdev){ copy, *h };
	*h = (int)b->niddev++;
	return 0;
}

static int load_line(int64_t id, int64_t device_id, long line, const char *user, const char *auth, void *arg)
{
	struct drift_batch *b = arg;
	b->line = grow(b->line, &b->linecap, b->nline, sizeof(*b->line));
	int *h = &b->h_line[h_int(device_id) & (b->nb - 1)];
	b->line[b->nline] = (struct bline){ id, device_id, line, xstrdup(user), xstrdup(auth), *h };
	*h = (int)b->nline++;
	return 0;
}

static bool cached(const struct drift_cache *c, int64_t id)
{
	const struct expect *x = c->slot[(uint64_t)id % c->nslots];
	return x && x->device_id == id;
}

static int load_fetch(int64_t id, int64_t at, long version, void *arg)
{
	struct drift_batch *b = arg;
	b->fetch = grow(b->fetch, &b->fetchcap, b->nfetch, sizeof(*b->fetch));
	int *h = &b->h_fetch[h_int(id) & (b->nb - 1)];
	b->fetch[b->nfetch] = (struct bfetch){ id, at, version, *h };
	*h = (int)b->nfetch++;
	return 0;
}

static int load_ev(const struct drift_event *e, void *arg)
{
	ev_add(arg, e, NULL);
	return 0;
}

static int load_unknown(const struct drift_event *e, const char *src_ip, void *arg)
{
	ev_add(arg, e, src_ip);
	return 0;
}

/* Add a string key; false when JSON cannot carry it (not UTF-8). */
static bool key_str(json_t *a, const char *v)
{
	json_t *j = json_string(v);
	return j && json_array_append_new(a, j) == 0;
}

static char *dump(json_t *a)
{
	char *s = json_dumps(a, JSON_COMPACT);
	if (!s)
		abort();        /* only out of memory: as xmalloc */
	return s;
}

static void unknown_label(const struct observation *o, char *out, size_t n);

/* Read what the batch's observations need: the batch, or NULL (a read
 * failed, or a key JSON cannot carry): then row by row. */
static struct drift_batch *batch_load(struct store *s, struct drift_cache *c, const struct observation *o, size_t n)
{
	struct drift_batch *b = xcalloc(1, sizeof(*b));
	json_t *users = json_array(), *auths = json_array(), *macs = json_array(), *labels = json_array(),
	       *srcs = json_array(), *ids = json_array(), *miss = json_array();
	char mac[SP_MAC_LEN + 1], label[DRIFT_STR * 2 + 2];
	char *ju = NULL, *ja = NULL, *jm = NULL, *jl = NULL, *ji = NULL, *jx = NULL;
	bool ok = true;

	/* New events sort after every stored one (apply reports the oldest). */
	b->next_tmp = INT64_MAX / 2;
	b->nb = 64;
	while (b->nb < 4 * n)
		b->nb <<= 1;
	b->h_user = heads(b->nb);
	b->h_auth = heads(b->nb);
	b->h_mac = heads(b->nb);
	b->h_fetch = heads(b->nb);
	b->h_ev = heads(b->nb);
	b->h_lbl = heads(b->nb);
	b->h_src = heads(b->nb);
	b->h_id = heads(b->nb);
	b->h_line = heads(b->nb);
	for (size_t i = 0; i < n && ok; i++) {
		if (!strcmp(o[i].source, "probe"))
			continue;
		unknown_label(&o[i], label, sizeof(label));
		ok = (!o[i].username[0] || key_str(users, o[i].username)) &&
		     (!o[i].auth_username[0] || key_str(auths, o[i].auth_username)) &&
		     (!obs_mac(&o[i], mac) || key_str(macs, mac)) && key_str(labels, label) &&
		     key_str(srcs, o[i].src_ip);
	}
	if (!ok)
		goto fail;
	ju = dump(users);
	ja = dump(auths);
	jm = dump(macs);
	jl = dump(labels);
	b->srcs = dump(srcs);
	if ((json_array_size(users) || json_array_size(auths)) && store_account_find_many(s, ju, ja, load_acct, b) < 0)
		goto fail;
	/* Chains in id order: the rows came in id order, each goes in front. */
	for (size_t i = b->nacct; i-- > 0;) {
		int *hu = &b->h_user[h_str(b->acct[i].user) & (b->nb - 1)];
		int *ha = &b->h_auth[h_str(b->acct[i].auth) & (b->nb - 1)];
		b->acct[i].next_user = *hu;
		*hu = (int)i;
		b->acct[i].next_auth = *ha;
		*ha = (int)i;
	}
	if (json_array_size(macs) && store_device_get_many(s, jm, load_dev, b) < 0)
		goto fail;
	if (json_array_size(labels) && store_drift_unknown_many(s, jl, load_unknown, b) < 0)
		goto fail;
	for (size_t i = 0; i < b->nacct + b->ndev; i++) {
		int64_t id = i < b->nacct ? b->acct[i].device_id : b->dev[i - b->nacct].d->id;
		json_array_append_new(ids, json_integer(id));
		if (!cached(c, id))
			json_array_append_new(miss, json_integer(id));
	}
	if (json_array_size(ids)) {
		ji = dump(ids);
		if (store_device_fetched_many(s, ji, load_fetch, b) < 0 || store_drift_open_many(s, ji, load_ev, b) < 0)
			goto fail;
	}
	/* Devices seen first (or again after a config change): their rows and
	 * lines, which expect_build would read one device at a time. */
	if (json_array_size(miss)) {
		jx = dump(miss);
		if (store_device_get_ids(s, jx, load_iddev, b) < 0 || store_account_lines_many(s, jx, load_line, b) < 0)
			goto fail;
	}
	goto out;
fail:
	batch_free(b);
	b = NULL;
out:
	free(ju);
	free(ja);
	free(jm);
	free(jl);
	free(ji);
	free(jx);
	json_decref(miss);
	json_decref(users);
	json_decref(auths);
	json_decref(macs);
	json_decref(labels);
	json_decref(srcs);
	json_decref(ids);
	return b;
}

/* The batch's decisions, as rows.  0 or -1. */
static int batch_write(struct store *s, struct drift_batch *b)
{
	for (size_t i = 0; i < b->nev; i++) {
		const struct bev *e = &b->ev[i];
		if (e->is_new) {
			if (store_drift_put_new(s, &e->e, e->src_ip) < 0)
				return -1;
			continue;
		}
		if (e->bumped && store_drift_put_bump(s, &e->e) < 0)
			return -1;
		if (e->gone && store_drift_put_resolved(s, e->e.id, e->e.resolved) < 0)
			return -1;
	}
	return store_drift_flush(s);
}


/*
 * The expect of device_id (d: its row if already read, else NULL), and
 * its fetch state read now.  1 found (*x: cached, or owned by the caller
 * when *own), 0 no such device, -1 error.
 */
static int expect_get(struct store *s, struct drift_cache *c, int64_t device_id, const struct device *d,
		      struct expect **x, bool *own, int64_t *fetched_at, long *fetched_version, char *err,
		      size_t errlen)
{
	struct expect **slot = c ? &c->slot[(uint64_t)device_id % c->nslots] : NULL;
	struct device dev;
	int rc;

	*own = false;
	if (slot && *slot && (*slot)->device_id == device_id) {
		c->hits++;
		*x = *slot;
		if (d) {
			*fetched_at = d->fetched_at;
			*fetched_version = d->fetched_version;
			return 1;
		}
		rc = w_device_fetched(s, c, device_id, fetched_at, fetched_version);
		if (rc < 0)
			return sp_err(err, errlen, "cannot read device %lld: %s", (long long)device_id,
				      store_errmsg(s));
		return rc;
	}
	if (!d) {
		rc = w_device_get_id(s, c, device_id, &dev);
		if (rc < 0)
			return sp_err(err, errlen, "cannot read device %lld: %s", (long long)device_id,
				      store_errmsg(s));
		if (rc == 0)
			return 0;
		d = &dev;
	}
	if (c)
		c->misses++;
	if (expect_build(s, c, d, x, err, errlen) < 0)
		return -1;
	*fetched_at = d->fetched_at;
	*fetched_version = d->fetched_version;
	if (slot) {
		free(*slot);
		*slot = *x;
	} else {
		*own = true;
	}
	return 1;
}

/* The observation's device: its expect and fetch state. */
struct target {
	struct expect *x;
	bool own;
	int64_t fetched_at;
	long fetched_version;
	int64_t account_id;
};

static void target_release(struct target *t)
{
	if (t->own)
		free(t->x);
	t->x = NULL;
	t->own = false;
}

/* Among candidates, the first whose registrar matches the observation;
 * else the first.  1 (t set), 0 none, -1 error. */
static int pick(struct store *s, struct drift_cache *c, const struct cands *cs, const struct observation *o,
		struct target *t, char *err, size_t errlen)
{
	int first = -1;
	for (size_t i = 0; i < cs->n; i++) {
		int rc = expect_get(s, c, cs->c[i].device_id, NULL, &t->x, &t->own, &t->fetched_at,
				    &t->fetched_version, err, errlen);
		if (rc < 0)
			return -1;
		if (rc == 0)
			continue;
		if (cs->n == 1 || strcasecmp(t->x->registrar, o->registrar) == 0) {
			t->account_id = cs->c[i].account_id;
			return 1;
		}
		if (first < 0)
			first = (int)i;
		target_release(t);
	}
	if (first < 0)
		return 0;
	t->account_id = cs->c[first].account_id;
	return expect_get(s, c, cs->c[first].device_id, NULL, &t->x, &t->own, &t->fetched_at, &t->fetched_version,
			  err, errlen);
}

/* MAC from a +sip.instance "urn:uuid:...-001565aabbcc": the last 12 hex. */
static int instance_mac(const char *inst, char mac[SP_MAC_LEN + 1])
{
	char hex[SP_MAC_LEN + 1];
	size_t n = 0, len = strlen(inst);
	if (strncasecmp(inst, "urn:uuid:", 9) != 0)
		return -1;
	for (size_t i = len; i > 9 && n < SP_MAC_LEN; i--) {
		char c = inst[i - 1];
		if (c == '-')
			break;
		if (!isxdigit((unsigned char)c))
			return -1;
		hex[SP_MAC_LEN - 1 - n++] = c;
	}
	if (n != SP_MAC_LEN)
		return -1;
	hex[SP_MAC_LEN] = '\0';
	return mac_normalize(hex, mac);
}

/* ua_parse knows the vendors; this fallback takes any token of the agent
 * (or Contact) split at seps that is a MAC ("MAC:" prefix allowed), so an
 * unknown vendor still matches. */
static int ua_mac(const char *agent, const char *seps, char mac[SP_MAC_LEN + 1])
{
	char tok[64];
	const char *p = agent;
	while (*p) {
		size_t n = strcspn(p, seps);
		if (n > 0 && n < sizeof(tok)) {
			memcpy(tok, p, n);
			tok[n] = '\0';
			const char *t = strncasecmp(tok, "MAC:", 4) == 0 ? tok + 4 : tok;
			if (mac_normalize(t, mac) == 0)
				return 0;
		}
		p += n;
		if (*p)
			p++;
	}
	return -1;
}

static int match_identity(struct store *s, struct drift_cache *c, const struct observation *o, struct target *t,
			  char *err, size_t errlen);

/* The MAC the message names: in the User-Agent (vendor parser, then any
 * MAC-shaped token), in +sip.instance, or in the Contact.  false: none. */
static bool obs_mac(const struct observation *o, char mac[SP_MAC_LEN + 1])
{
	struct ua_info ua;
	mac[0] = '\0';
	ua_parse(o->user_agent, &ua);
	if (ua.mac[0])
		sp_strlcpy(mac, ua.mac, SP_MAC_LEN + 1);
	else if (ua_mac(o->user_agent, " ()[];,/\t", mac) < 0 && instance_mac(o->instance, mac) < 0 &&
		 ua_mac(o->contact, " ()[];,/\t<>:@=", mac) < 0)
		mac[0] = '\0';
	return mac[0] != '\0';
}

/* Find the device and account an observation belongs to.  1 found (t
 * set), 0 unknown, -1 error. */
static int match(struct store *s, struct drift_cache *c, const struct observation *o, struct target *t,
		 char *err, size_t errlen)
{
	struct cands cs = { .n = 0 };
	int rc;

	/* The device the message names beats a username that several
	 * devices may share (a desk phone and a softphone on one user). */
	if ((rc = match_identity(s, c, o, t, err, errlen)) != 0)
		return rc;
	if (o->username[0]) {
		if (w_account_find(s, c, o->username, 0, cand_add, &cs) < 0)
			return sp_err(err, errlen, "account lookup: %s", store_errmsg(s));
		if ((rc = pick(s, c, &cs, o, t, err, errlen)) != 0)
			return rc;
	}
	if (o->auth_username[0]) {
		cs.n = 0;
		if (w_account_find(s, c, o->auth_username, 1, cand_add, &cs) < 0)
			return sp_err(err, errlen, "account lookup: %s", store_errmsg(s));
		if ((rc = pick(s, c, &cs, o, t, err, errlen)) != 0)
			return rc;
	}
	return 0;
}

/* The device named by the message itself: MAC in the User-Agent (vendor
 * parser, then any MAC-shaped token), in +sip.instance, or in the Contact.
 * 1 found (t set), 0 none named or unknown, -1 error. */
static int match_identity(struct store *s, struct drift_cache *c, const struct observation *o, struct target *t,
			  char *err, size_t errlen)
{
	char mac[SP_MAC_LEN + 1];
	int rc;
	if (!obs_mac(o, mac))
		return 0;
	struct device d;
	rc = w_device_get(s, c, mac, &d);
	if (rc < 0)
		return sp_err(err, errlen, "cannot read device %s: %s", mac, store_errmsg(s));
	if (rc == 0)
		return 0;
	rc = expect_get(s, c, d.id, &d, &t->x, &t->own, &t->fetched_at, &t->fetched_version, err, errlen);
	if (rc <= 0)
		return rc;
	if (t->x->naccounts == 0) {
		target_release(t);
		return 0;
	}
	/* The line whose username or auth username matches; else line 1. */
	t->account_id = t->x->acct[0].id;
	for (size_t i = 0; i < t->x->naccounts; i++)
		if (!strcmp(t->x->acct[i].username, o->username) ||
		    (o->auth_username[0] && !strcmp(t->x->acct[i].auth_username, o->auth_username))) {
			t->account_id = t->x->acct[i].id;
			break;
		}
	return 1;
}

static const char *kind_series(const char *kind, bool resolved)
{
	static const struct { const char *kind, *opened, *closed; } map[] = {
#define K(k) { k, "sipprov_drift_events_total{kind=\"" k "\"}", "sipprov_drift_resolved_total{kind=\"" k "\"}" }
		K("registrar"), K("transport"), K("port"), K("username"), K("auth_username"), K("stale"),
		K("never_fetched"), K("unknown_user"),
#undef K
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i].kind, kind))
			return resolved ? map[i].closed : map[i].opened;
	return resolved ? "sipprov_drift_resolved_total{kind=\"other\"}" : "sipprov_drift_events_total{kind=\"other\"}";
}

struct check {
	const char *kind;
	char expected[DRIFT_STR];
	char observed[DRIFT_STR];
	bool applies, differs;
};

static void check_str(struct check *c, const char *kind, const char *expected, const char *observed, bool nocase)
{
	c->kind = kind;
	sp_strlcpy(c->expected, expected, sizeof(c->expected));
	sp_strlcpy(c->observed, observed, sizeof(c->observed));
	c->applies = *expected && *observed;
	c->differs = c->applies && (nocase ? strcasecmp(expected, observed) : strcmp(expected, observed)) != 0;
}

#define OPEN_MAX 16

/* Open, bump or resolve the events of one check.  open[] are the open
 * events of (device, account) read once for the observation; NULL when
 * there were too many to list, then the per-kind statements are used. */
static int apply(struct store *s, struct drift_cache *dc, const struct observation *o, const struct target *t,
		 const struct expect_acct *a, const struct check *c, const struct drift_event *open, size_t nopen,
		 char *err, size_t errlen)
{
	const struct expect *x = t->x;
	const struct drift_event *first = NULL;
	struct drift_event ev;
	int is_new = 0, rc = 0;

	if (!open) {
		if (c->differs) {
			if (store_drift_open(s, x->device_id, a->id, c->kind, c->expected, c->observed, o->at, &is_new) < 0)
				return sp_err(err, errlen, "drift event: %s", store_errmsg(s));
		} else {
			rc = store_drift_resolve(s, x->device_id, a->id, c->kind, NULL, o->at, &ev);
			if (rc < 0)
				return sp_err(err, errlen, "drift resolve: %s", store_errmsg(s));
			first = rc == 1 ? &ev : NULL;
		}
	} else {
		/* What store_drift_open / store_drift_resolve do, on the rows
		 * already read: bump every open row of the kind (insert when
		 * none), or resolve them all. */
		for (size_t i = 0; i < nopen; i++) {
			if (strcmp(open[i].kind, c->kind))
				continue;
			if (c->differs ? w_bump(s, dc, x->device_id, open[i].id, c->expected, c->observed, o->at) < 0
				       : w_resolve_id(s, dc, x->device_id, open[i].id, o->at) < 0)
				return sp_err(err, errlen, "drift %s: %s", c->differs ? "event" : "resolve",
					      store_errmsg(s));
			if (!first || open[i].id < first->id)
				first = &open[i];   /* the oldest, as store_drift_resolve reports */
		}
		if (c->differs && !first) {
			if (w_insert(s, dc, x->device_id, a->id, c->kind, c->expected, c->observed, o->at) < 0)
				return sp_err(err, errlen, "drift event: %s", store_errmsg(s));
			is_new = 1;
		}
	}
	if (c->differs && is_new) {
		note_metric(dc, kind_series(c->kind, false));
		note_log(dc, LOG_LVL_INFO, "drift: device %s line %ld %s expected %s observed %s (%s)", x->mac, a->line,
			 c->kind, c->expected, c->observed, x->label);
	} else if (!c->differs && first) {
		note_metric(dc, kind_series(c->kind, true));
		note_log(dc, LOG_LVL_INFO, "drift: device %s line %ld %s resolved: observed %s, was %s (%ld times) (%s)",
			 x->mac, a->line, c->kind, c->observed, first->observed, first->count, x->label);
	}
	return 0;
}

/* Where the daemon's fetch writer keeps last fetches it has not written
 * yet (drift_fetch_source).  Set before the threads that record start,
 * cleared after they stop. */
static drift_fetch_fn fetch_source;
static void *fetch_source_arg;

void drift_fetch_source(drift_fetch_fn fn, void *arg)
{
	fetch_source = fn;
	fetch_source_arg = arg;
}

/* The device's last 200 (*at, *version, as read with its expect), unless
 * it looks never fetched or not at version want: then the fetch writer's
 * memory, which is ahead of the database under load, or the database read
 * again (a writer on another connection may have committed since). */
static void fetched_now(struct store *s, int64_t device_id, long want, int64_t *at, long *version)
{
	if (!fetch_source || (*at && (want <= 0 || *version == want)))
		return;
	int64_t a = 0;
	long v = 0;
	if (fetch_source(fetch_source_arg, device_id, &a, &v) && a >= *at) {
		*at = a, *version = v;
		return;
	}
	if (store_device_fetched(s, device_id, &a, &v) == 1 && a > *at)
		*at = a, *version = v;
}

static int evaluate(struct store *s, struct drift_cache *dc, const struct observation *o, const struct target *t,
		    const struct expect_acct *a, char *err, size_t errlen)
{
	struct check ck[7];
	size_t n = 0;
	char port[24] = "";
	const struct expect *x = t->x;

	check_str(&ck[n++], "registrar", x->registrar, o->registrar, true);
	check_str(&ck[n++], "transport", x->transport, o->transport, true);
	if (o->port > 0)
		snprintf(port, sizeof(port), "%ld", o->port);
	check_str(&ck[n++], "port", x->port, port, false);
	check_str(&ck[n++], "username", a->username, o->username, false);
	check_str(&ck[n++], "auth_username", a->auth_username, o->auth_username, false);
	int64_t fetched_at = t->fetched_at;
	long fetched_version = t->fetched_version;
	fetched_now(s, x->device_id, x->version, &fetched_at, &fetched_version);
	struct check *st = &ck[n++];
	memset(st, 0, sizeof(*st));
	st->kind = "stale";
	if (fetched_at && x->version > 0) {
		/* Against the version it should run (pinned or current). */
		snprintf(st->expected, sizeof(st->expected), "v%ld", x->version);
		snprintf(st->observed, sizeof(st->observed), "v%ld", fetched_version);
		st->applies = true;
		st->differs = fetched_version != x->version;
	}
	struct check *nf = &ck[n++];
	memset(nf, 0, sizeof(*nf));
	nf->kind = "never_fetched";
	sp_strlcpy(nf->expected, "fetched", sizeof(nf->expected));
	sp_strlcpy(nf->observed, fetched_at ? "fetched" : "never", sizeof(nf->observed));
	nf->applies = true;
	nf->differs = fetched_at == 0;

	/* One read of the open events instead of one statement per rule. */
	struct drift_event open[OPEN_MAX];
	size_t nopen = 0;
	int lrc = w_open_list(s, dc, x->device_id, a->id, open, OPEN_MAX, &nopen);
	if (lrc < 0)
		return sp_err(err, errlen, "drift events: %s", store_errmsg(s));
	for (size_t i = 0; i < n; i++)
		if (ck[i].applies && apply(s, dc, o, t, a, &ck[i], lrc == 0 ? open : NULL, nopen, err, errlen) < 0)
			return -1;
	return 0;
}

static void unknown_label(const struct observation *o, char *out, size_t n)
{
	const char *u = o->username[0] ? o->username : o->auth_username[0] ? o->auth_username : "?";
	snprintf(out, n, "%s@%s", u, o->registrar[0] ? o->registrar : "?");
}

/* Caps on open unknown_user events (conf unknown_user_per_source and
 * unknown_user_max); set by the daemon at start and on SIGHUP. */
static atomic_long unknown_per_source = 50, unknown_max = 1000;

void drift_unknown_caps_set(long per_source, long max)
{
	atomic_store(&unknown_per_source, per_source);
	atomic_store(&unknown_max, max);
}

/* A registration nobody is provisioned for: one open event per user@host,
 * capped per source address and in total, so a flood of made-up users
 * (a scanner, forged HEP) costs bounded rows.  Over a cap neither the event
 * nor the registration row is written; the metric counts it. */
static int record_unknown(struct store *s, struct drift_cache *c, const struct observation *o, const char *label,
			  char *err, size_t errlen)
{
	static atomic_long capped;
	enum store_unknown_outcome out;
	if (w_unknown_open(s, c, label, o->src_ip, o->at, atomic_load(&unknown_per_source),
			   atomic_load(&unknown_max), &out) < 0)
		return sp_err(err, errlen, "cannot record observation: %s", store_errmsg(s));
	if (out == STORE_UNKNOWN_CAP_SOURCE || out == STORE_UNKNOWN_CAP_TOTAL) {
		bool src = out == STORE_UNKNOWN_CAP_SOURCE;
		note_metric(c, src ? "sipprov_drift_unknown_dropped_total{cap=\"per_source\"}"
				   : "sipprov_drift_unknown_dropped_total{cap=\"total\"}");
		if (atomic_fetch_add(&capped, 1) % 10000 == 0)
			log_warnx("drift: unknown user %s from %s not recorded: %s (resolve or prune old "
				  "unknown_user events, or raise the cap)", label, o->src_ip[0] ? o->src_ip : "?",
				  src ? "this source has unknown_user_per_source open events"
				      : "unknown_user_max events are open");
		return 0;
	}
	if (store_registration_add(s, o, 0, 0) < 0)
		return sp_err(err, errlen, "cannot record observation: %s", store_errmsg(s));
	if (out == STORE_UNKNOWN_OPENED) {
		note_metric(c, kind_series("unknown_user", false));
		note_log(c, LOG_LVL_INFO, "drift: unknown user %s registers from %s:%ld (code %d, agent '%s')", label,
			 o->src_ip, o->src_port, o->code, o->user_agent);
	}
	return 0;
}

/* Is no unknown_user event open, so a known user's observation has none to
 * resolve?  Read once per write transaction (other writers wait for it,
 * as in cache_validate) and cleared when this one records an unknown user:
 * saves the per-observation lookup, a round trip on PostgreSQL, while no
 * unknown user is open.  false when unsure (no cache, no transaction,
 * an error: then the lookup runs as before). */
static bool unknown_none(struct store *s, struct drift_cache *c)
{
	if (!c || c->batch || store_drift_autocommit(s))
		return false;
	if (c->unk_valid && c->unk_tx == store_tx_serial(s))
		return c->unk_none;
	int any = store_drift_unknown_any(s);
	c->unk_valid = any >= 0;
	c->unk_tx = store_tx_serial(s);
	c->unk_none = any == 0;
	return c->unk_none;
}

static int record(struct store *s, struct drift_cache *c, const struct observation *o, char *err, size_t errlen)
{
	struct target t = { .x = NULL };
	char label[DRIFT_STR * 2 + 2];
	int rc;

	if (!strcmp(o->source, "probe")) {
		/* diagnose's own traffic: kept, never anyone's state */
		if (store_registration_add(s, o, 0, 0) < 0)
			return sp_err(err, errlen, "cannot record observation: %s", store_errmsg(s));
		note_metric(c, "sipprov_observations_probe_total");
		return 0;
	}
	if (c && cache_validate(s, c, err, errlen) < 0)
		return -1;
	rc = match(s, c, o, &t, err, errlen);
	if (rc < 0)
		return -1;
	unknown_label(o, label, sizeof(label));
	if (rc == 0) {
		if (c)
			c->unk_none = false;
		return record_unknown(s, c, o, label, err, errlen);
	}
	const struct expect_acct *a = NULL;
	for (size_t i = 0; i < t.x->naccounts; i++)
		if (t.x->acct[i].id == t.account_id)
			a = &t.x->acct[i];
	if (!a) {
		sp_err(err, errlen, "account %lld vanished", (long long)t.account_id);
		rc = -1;
		goto out;
	}
	rc = -1;
	if (store_registration_add(s, o, t.x->device_id, a->id) < 0 ||
	    (o->code && store_account_set_code(s, a->id, o->code, o->at) < 0)) {
		sp_err(err, errlen, "cannot record observation: %s", store_errmsg(s));
		goto out;
	}
	/* The user is known now: an earlier unknown_user event for it is over. */
	if (!unknown_none(s, c) && w_resolve_unknown(s, c, label, o->at) < 0) {
		sp_err(err, errlen, "drift resolve: %s", store_errmsg(s));
		goto out;
	}
	rc = evaluate(s, c, o, &t, a, err, errlen);
out:
	target_release(&t);
	return rc;
}

int drift_record_cached(struct store *s, struct drift_cache *c, const struct observation *o, char *err,
			size_t errlen)
{
	bool own = store_drift_autocommit(s);
	int rc;

	if (own ? store_begin(s) < 0 : store_drift_sp_begin(s) < 0)
		return sp_err(err, errlen, "cannot start transaction: %s", store_errmsg(s));
	rc = record(s, c, o, err, errlen);
	if (own) {
		if (rc == 0 && store_commit(s) < 0)
			rc = sp_err(err, errlen, "commit: %s", store_errmsg(s));
		if (rc < 0)
			store_rollback(s);
	} else {
		store_drift_sp_end(s, rc == 0);
	}
	if (rc == 0)
		metrics_inc("sipprov_observations_total");
	return rc;
}

int drift_record(struct store *s, const struct observation *o, char *err, size_t errlen)
{
	return drift_record_cached(s, NULL, o, err, errlen);
}

void drift_cache_batch(struct drift_cache *c, int mode)
{
	c->batch_mode = mode;
}

void drift_cache_batches(const struct drift_cache *c, long *batched, long *unbatched)
{
	*batched = c->batched;
	*unbatched = c->unbatched;
}

int drift_record_many(struct store *s, struct drift_cache *c, const struct observation *o, size_t n,
		      void (*failed)(const struct observation *, const char *err, void *), void *arg)
{
	char err[SP_ERR_MAX];
	int nfailed = 0;
	bool batch = c && (c->batch_mode < 0 ? store_drift_batched(s) : c->batch_mode > 0);

	/* Per batch only inside the caller's transaction, which holds off
	 * config writers while the batch is decided in memory. */
	if (batch && n > 1 && !store_drift_autocommit(s) && store_drift_batch_sp(s, 0) == 0) {
		struct drift_batch *b = NULL;
		/* The generation first: a config change empties the cache, and
		 * the batch reads the rows of every device not cached. */
		if (cache_validate(s, c, err, sizeof(err)) == 0)
			b = batch_load(s, c, o, n);
		size_t i = 0;
		if (b) {
			c->batch = b;
			while (i < n && record(s, c, &o[i], err, sizeof(err)) == 0)
				i++;
			c->batch = NULL;
		}
		if (b && i == n && batch_write(s, b) == 0 && store_drift_batch_sp(s, 1) == 0) {
			for (size_t j = 0; j < b->nmetric; j++)
				metrics_inc(b->metric[j]);
			for (size_t j = 0; j < b->nlog; j++) {
				if (b->log[j].level == LOG_LVL_WARN)
					log_warnx("%s", b->log[j].msg);
				else
					log_info("%s", b->log[j].msg);
			}
			metrics_add("sipprov_observations_total", (long)n);
			batch_free(b);
			c->batched++;
			return 0;
		}
		/* A read or write failed, or a case the batch leaves to the
		 * per-row path: undo the batch and go row by row, where a
		 * failure costs only its own observation. */
		log_debug("drift: batch of %zu observations recorded row by row%s%s", n, b && i < n ? ": " : "",
			  b && i < n ? err : "");
		batch_free(b);
		store_drift_batch_sp(s, -1);
		store_drift_batch_sp(s, 1);
	}
	if (c)
		c->unbatched++;
	for (size_t i = 0; i < n; i++)
		if (drift_record_cached(s, c, &o[i], err, sizeof(err)) < 0) {
			nfailed++;
			if (failed)
				failed(&o[i], err, arg);
		}
	return nfailed;
}

bool drift_is_probe(const char *user_agent, const char *call_id)
{
	return user_agent && call_id &&
	       !strncmp(user_agent, SP_PROBE_UA_PREFIX, sizeof(SP_PROBE_UA_PREFIX) - 1) &&
	       !strncmp(call_id, SP_PROBE_CALLID_PREFIX, sizeof(SP_PROBE_CALLID_PREFIX) - 1);
}

/* ---- webhook ---- */

static int get_str(json_t *obj, const char *key, char *dst, size_t size, long i, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	dst[0] = '\0';
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return sp_err(err, errlen, "registration %ld: '%s' must be a string", i, key);
	const char *t = json_string_value(v);
	if (json_string_length(v) >= size || strlen(t) != json_string_length(v) || !sp_text_ok(t))
		return sp_err(err, errlen, "registration %ld: '%s' is too long or not text", i, key);
	sp_strlcpy(dst, t, size);
	return 0;
}

static int get_int(json_t *obj, const char *key, long min, long max, long *out, long i, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return sp_err(err, errlen, "registration %ld: '%s' must be an integer from %ld to %ld", i, key, min,
			      max);
	*out = (long)json_integer_value(v);
	return 0;
}

static int webhook_one(json_t *obj, long i, struct observation *o, char *err, size_t errlen)
{
	static const char *const known[] = { "time", "src_ip", "src_port", "transport", "registrar", "port",
					     "username", "auth_username", "user_agent", "contact", "instance",
					     "expires", "code", "reason", "reason_detail", "call_id", NULL };
	const char *k;
	json_t *v;
	long at = 0, code = -1;
	char call_id[DRIFT_STR];

	if (!json_is_object(obj))
		return sp_err(err, errlen, "registration %ld: must be a JSON object", i);
	json_object_foreach(obj, k, v) {
		size_t j = 0;
		while (known[j] && strcmp(known[j], k))
			j++;
		if (!known[j])
			return sp_err(err, errlen, "registration %ld: unknown key '%.64s'", i, k);
	}
	memset(o, 0, sizeof(*o));
	sp_strlcpy(o->source, "webhook", sizeof(o->source));
	if (get_int(obj, "time", 0, 4102444800L, &at, i, err, errlen) < 0 ||
	    get_int(obj, "src_port", 0, 65535, &o->src_port, i, err, errlen) < 0 ||
	    get_int(obj, "port", 0, 65535, &o->port, i, err, errlen) < 0 ||
	    get_int(obj, "expires", 0, 0x7fffffff, &o->expires, i, err, errlen) < 0 ||
	    get_int(obj, "code", 0, 699, &code, i, err, errlen) < 0 ||
	    get_str(obj, "src_ip", o->src_ip, sizeof(o->src_ip), i, err, errlen) < 0 ||
	    get_str(obj, "transport", o->transport, sizeof(o->transport), i, err, errlen) < 0 ||
	    get_str(obj, "registrar", o->registrar, sizeof(o->registrar), i, err, errlen) < 0 ||
	    get_str(obj, "username", o->username, sizeof(o->username), i, err, errlen) < 0 ||
	    get_str(obj, "auth_username", o->auth_username, sizeof(o->auth_username), i, err, errlen) < 0 ||
	    get_str(obj, "user_agent", o->user_agent, sizeof(o->user_agent), i, err, errlen) < 0 ||
	    get_str(obj, "contact", o->contact, sizeof(o->contact), i, err, errlen) < 0 ||
	    get_str(obj, "instance", o->instance, sizeof(o->instance), i, err, errlen) < 0 ||
	    get_str(obj, "reason", o->reason, sizeof(o->reason), i, err, errlen) < 0 ||
	    get_str(obj, "reason_detail", o->reason_detail, sizeof(o->reason_detail), i, err, errlen) < 0 ||
	    get_str(obj, "call_id", call_id, sizeof(call_id), i, err, errlen) < 0)
		return -1;
	if (drift_is_probe(o->user_agent, call_id))
		sp_strlcpy(o->source, "probe", sizeof(o->source));
	if (code < 0)
		return sp_err(err, errlen, "registration %ld: 'code' is required (final response, 408 for none)", i);
	o->code = (int)code;
	if (!o->username[0] && !o->auth_username[0] && !o->user_agent[0] && !o->instance[0])
		return sp_err(err, errlen, "registration %ld: needs 'username', 'auth_username', 'user_agent' "
			      "or 'instance' to match a device", i);
	for (char *p = o->transport; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (o->transport[0] && strcmp(o->transport, "udp") && strcmp(o->transport, "tcp") &&
	    strcmp(o->transport, "tls") && strcmp(o->transport, "ws") && strcmp(o->transport, "wss") &&
	    strcmp(o->transport, "sctp"))
		return sp_err(err, errlen, "registration %ld: unknown transport '%s' (udp, tcp, tls, ws, wss, sctp)",
			      i, o->transport);
	for (char *p = o->registrar; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	o->at = at ? at : sp_now();
	return 0;
}

/* A store failure after the input was accepted: the sender should retry. */
static int webhook_store_err(struct store *s, bool busy, char *err, size_t errlen, const char *what)
{
	/* "locked" on both backends: PostgreSQL's words for a lock wait that
	 * ran out ("canceling statement due to lock timeout") do not say it. */
	if (busy)
		sp_err(err, errlen, "%s: database locked by another writer (%s)", what, store_errmsg(s));
	else
		sp_err(err, errlen, "%s: %s", what, store_errmsg(s));
	return busy ? DRIFT_ERR_BUSY : DRIFT_ERR_STORE;
}

int drift_webhook(struct store *s, const char *body, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	struct observation *obs = NULL;
	size_t n = 0;
	int rc = DRIFT_ERR_INPUT;

	if (!doc)
		return sp_err(err, errlen, "invalid JSON at line %d: %s", je.line, je.text), DRIFT_ERR_INPUT;
	if (json_is_array(doc)) {
		n = json_array_size(doc);
		if (n == 0 || n > WEBHOOK_MAX) {
			sp_err(err, errlen, "expected 1 to %d registrations, got %zu", WEBHOOK_MAX, n);
			goto out;
		}
	} else {
		n = 1;
	}
	obs = xcalloc(n, sizeof(*obs));
	for (size_t i = 0; i < n; i++)
		if (webhook_one(json_is_array(doc) ? json_array_get(doc, i) : doc, (long)i, &obs[i], err, errlen) < 0)
			goto out;
	/* The input is good: from here every failure is the server's. */
	if (store_begin(s) < 0) {
		rc = webhook_store_err(s, store_is_busy(s), err, errlen, "cannot start transaction");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (drift_record(s, &obs[i], err, errlen) < 0) {
			rc = store_is_busy(s) ? DRIFT_ERR_BUSY : DRIFT_ERR_STORE;
			store_rollback(s);
			goto out;
		}
	if (store_commit(s) < 0) {
		rc = webhook_store_err(s, store_is_busy(s), err, errlen, "commit");
		store_rollback(s);
		goto out;
	}
	rc = DRIFT_OK;
out:
	free(obs);
	json_decref(doc);
	return rc;
}

/* ---- metrics and meanings ---- */

/* Every kind is shown, 0 when none is open, so a series never appears
 * out of nowhere (an alert on it then sees 0 -> 1, not absent -> 1). */
static const char *const drift_kinds[] = { "auth_username", "never_fetched", "port", "registrar",
					   "stale", "transport", "unknown_user", "username" };
#define NKINDS (sizeof(drift_kinds) / sizeof(drift_kinds[0]))

bool drift_kind_known(const char *kind)
{
	for (size_t i = 0; i < NKINDS; i++)
		if (!strcmp(drift_kinds[i], kind))
			return true;
	return false;
}

struct open_counts {
	long n[NKINDS];
	struct buf *other;                  /* kinds not in the list, as they come */
};

static void metric_line(const char *kind, long n, void *arg)
{
	struct open_counts *oc = arg;
	for (size_t i = 0; i < NKINDS; i++)
		if (!strcmp(kind, drift_kinds[i])) {
			oc->n[i] = n;
			return;
		}
	buf_printf(oc->other, "sipprov_drift_open{kind=\"%s\"} %ld\n", kind, n);
}

void drift_metrics(struct store *s, struct buf *out)
{
	struct open_counts oc = { .other = out };
	buf_adds(out, "# HELP sipprov_drift_open Open drift events by kind.\n# TYPE sipprov_drift_open gauge\n");
	if (store_drift_open_counts(s, metric_line, &oc) < 0) {
		log_warnx("drift metrics: %s", store_errmsg(s));
		return;
	}
	for (size_t i = 0; i < NKINDS; i++)
		buf_printf(out, "sipprov_drift_open{kind=\"%s\"} %ld\n", drift_kinds[i], oc.n[i]);
}

const char *drift_code_meaning(long code)
{
	switch (code) {
	case 0: return "no response seen: transport/port mismatch, firewall, SIP ALG, DNS";
	case 200: return "registered";
	case 401: case 407: return "challenge never answered: phone has no or unusable credentials";
	case 403: return "credentials, auth-username mix-up, account disabled, IP policy, too many registrations";
	case 404: return "registrar/domain wrong, tenant moved, user deleted";
	case 408: return "timeout: transport/port mismatch, firewall, SIP ALG, DNS";
	default: return "";
	}
}
