/*
 * drift.h: registration observations (from HEP or the JSON webhook)
 * matched to devices and accounts, compared with the effective config, and
 * turned into drift events.  It does not talk to the network.
 */
#ifndef SP_DRIFT_H
#define SP_DRIFT_H
#include <stdint.h>

struct store;
struct buf;
struct drift_cache;

#define DRIFT_STR 256

/* One REGISTER transaction as seen on the wire (or reported). */
struct observation {
	int64_t at;                         /* unix seconds */
	char source[16];                    /* hep | webhook */
	char src_ip[64];
	long src_port;
	char transport[16];                 /* udp tcp tls ws wss sctp */
	char registrar[DRIFT_STR];          /* To (or request-URI) host */
	long port;                          /* destination port */
	char username[DRIFT_STR];           /* To user */
	char auth_username[DRIFT_STR];      /* digest username= */
	char user_agent[DRIFT_STR];
	char contact[DRIFT_STR];
	char instance[DRIFT_STR];           /* +sip.instance */
	long expires;
	int code;                           /* final response; 408 no response; 0 unknown */
};

/* Record one observation: match it, store it in `registration`, update the
 * account's last code, open/bump/resolve drift events, log new events and
 * resolutions.  The caller may wrap several calls in store_begin/commit
 * (batching); otherwise each call is its own transaction.  0 or -1 + err. */
int drift_record(struct store *s, const struct observation *o, char *err, size_t errlen);
/* A bounded cache of what each device is expected to register with (its
 * registrar, transport, port, template version, accounts), for one
 * thread's intake (hep_server).  devices: slots, one device each (0 = a
 * default of 65536).  Every observation reads the config generation
 * (schema 002) and drops the cache when it moved; fetch state is never
 * cached.  drift_cache_free accepts NULL. */
struct drift_cache *drift_cache_new(size_t devices);
void drift_cache_free(struct drift_cache *c);
/* drift_record through cache c (NULL: no cache, as drift_record). */
int drift_record_cached(struct store *s, struct drift_cache *c, const struct observation *o, char *err,
			size_t errlen);
/* Lookups answered from the cache and lookups that read the store. */
void drift_cache_stats(const struct drift_cache *c, long *hits, long *misses);
/* POST /api/v1/registrations: body is one JSON object or an array of up to
 * 1000 objects with keys time, src_ip, src_port, transport, registrar, port,
 * username, auth_username, user_agent, contact, instance, expires, code.
 * All or nothing.  0, or -1 with err (HTTP 400). */
int drift_webhook(struct store *s, const char *body, size_t len, char *err, size_t errlen);
/* Append Prometheus lines: open drift events by kind (gauge from the DB). */
void drift_metrics(struct store *s, struct buf *out);
/* What a final code usually means, from the 403/404/408 map ("" if none). */
const char *drift_code_meaning(long code);

/* ---- store_drift.c ---- */

struct drift_event {
	int64_t id;
	int64_t device_id, account_id;      /* 0 = none */
	char mac[16];
	long line;
	char tenant[64];
	char kind[24];
	char expected[DRIFT_STR];
	char observed[DRIFT_STR];
	int64_t first_seen, last_seen, resolved;
	long count;
};
/* Store one observation row. */
int store_registration_add(struct store *s, const struct observation *o, int64_t device_id,
			   int64_t account_id);
/* Open or bump the open event (device, account, kind; for kind
 * unknown_user also the observed value).  *is_new tells which. 0 / -1. */
int store_drift_open(struct store *s, int64_t device_id, int64_t account_id, const char *kind,
		     const char *expected, const char *observed, int64_t now, int *is_new);
/* Resolve the open event(s) of (device, account, kind); observed non-NULL
 * also requires that observed value (unknown_user).  ev (may be NULL) gets
 * the first one resolved.  Returns 1 resolved, 0 none open, -1 error. */
int store_drift_resolve(struct store *s, int64_t device_id, int64_t account_id, const char *kind,
			const char *observed, int64_t now, struct drift_event *ev);
/* The per-observation path: the open events of (device, account), in no
 * particular order, into ev[max] (*n of them); 1 when more than max are open (the
 * list is then incomplete), 0, or -1.  Then bump, insert or resolve rows
 * by id; each 0 / -1. */
int store_drift_open_list(struct store *s, int64_t device_id, int64_t account_id, struct drift_event *ev,
			  size_t max, size_t *n);
int store_drift_bump(struct store *s, int64_t id, const char *expected, const char *observed, int64_t now);
int store_drift_insert(struct store *s, int64_t device_id, int64_t account_id, const char *kind,
		       const char *expected, const char *observed, int64_t now);
int store_drift_resolve_id(struct store *s, int64_t id, int64_t now);
/* Savepoint around one observation, so a failure inside a caller's batch
 * transaction undoes only that observation.  end(s, ok): release or undo. */
int store_drift_sp_begin(struct store *s);
int store_drift_sp_end(struct store *s, int ok);
/* Size this connection for bulk intake: a larger page cache and a rarer
 * WAL auto-checkpoint (hep_server's own connection).  0 / -1. */
int store_drift_intake_tune(struct store *s);
/* A device's fetch state: 1 found, 0 no such device, -1 error. */
int store_device_fetched(struct store *s, int64_t device_id, int64_t *fetched_at, long *fetched_version);
/* True when no transaction is open on this connection. */
int store_drift_autocommit(struct store *s);
int store_account_set_code(struct store *s, int64_t account_id, long code, int64_t at);
/* Accounts whose username (by_auth 0) or auth username (1) equals v:
 * fn(account id, device id, arg) returns nonzero to stop. */
int store_account_find(struct store *s, const char *v, int by_auth,
		       int (*fn)(int64_t account_id, int64_t device_id, void *), void *arg);
/* Drift events (tenant_id 0 = all; open_only), newest first. */
int store_drift_each(struct store *s, int64_t tenant_id, int open_only,
		     int (*fn)(const struct drift_event *, void *), void *arg);
/* Open events per kind: fn(kind, count, arg). */
int store_drift_open_counts(struct store *s, void (*fn)(const char *kind, long n, void *), void *arg);
int store_drift_open_count_device(struct store *s, int64_t device_id, long *n);
/* Last observation of a device (1 found, 0 none, -1). */
int store_registration_last(struct store *s, int64_t device_id, struct observation *o);
#endif
