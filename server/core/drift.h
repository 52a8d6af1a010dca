/*
 * drift.h: registration observations (from HEP or the JSON webhook)
 * matched to devices and accounts, compared with the effective config, and
 * turned into drift events.  It does not talk to the network.
 */
#ifndef SP_DRIFT_H
#define SP_DRIFT_H
#include <stdbool.h>
#include <stdint.h>

struct store;
struct buf;
struct drift_cache;

/*
 * `sipprov diagnose` marks its own requests: User-Agent starting with
 * SP_PROBE_UA_PREFIX and a Call-ID starting with SP_PROBE_CALLID_PREFIX.
 * Intake stores such an observation as source 'probe', unmatched: it never
 * becomes a device's registration, last code or drift.  Both marks are
 * needed, so an ordinary phone never matches by accident; a phone that
 * forges both only moves its own traffic into the probe rows (still stored
 * and listed), it cannot touch another device's state.
 */
#define SP_PROBE_UA_PREFIX     "sipprov-diagnose/"
#define SP_PROBE_CALLID_PREFIX "sipprov-diag-"
bool drift_is_probe(const char *user_agent, const char *call_id);

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
/*
 * Record n observations inside the caller's write transaction (HEP intake:
 * one per batch).  Per batch where the backend gains from it (PostgreSQL):
 * what the batch needs is read in a few statements, decided in memory by
 * the same rules, written in batches; the rows, events, metrics and logs
 * are those of drift_record_cached on each in turn.  Any failure (or no
 * transaction, or no cache) and it runs row by row: failed(o, err, arg)
 * for each observation not recorded.  Returns how many failed.
 */
int drift_record_many(struct store *s, struct drift_cache *c, const struct observation *o, size_t n,
		      void (*failed)(const struct observation *, const char *err, void *), void *arg);
/* drift_record_many's way: -1 as the backend prefers (default), 0 row by
 * row, 1 per batch (tests compare the two). */
void drift_cache_batch(struct drift_cache *c, int mode);
/* How many drift_record_many calls were decided per batch, and how many
 * ran row by row (by choice or after a failure). */
void drift_cache_batches(const struct drift_cache *c, long *batched, long *unbatched);
/* Caps on open unknown_user events: per source address (the observation's
 * src_ip) and in total.  Over a cap an unknown user's registration is not
 * recorded (counted in sipprov_drift_unknown_dropped_total).  Defaults
 * 50 and 1000; safe to call while other threads record. */
void drift_unknown_caps_set(long per_source, long max);
/* The daemon's fetch writer is behind its requests under load (its queue,
 * and on SQLite the last fetches it keeps in memory for a few seconds).
 * fn tells a device's last 200 that may not be in the database yet: 1
 * with *at and *version, or 0.  Asked only when the database says a
 * registering device never fetched or runs another version.  Set (or NULL)
 * while no thread records. */
typedef int (*drift_fetch_fn)(void *arg, int64_t device_id, int64_t *at, long *version);
void drift_fetch_source(drift_fetch_fn fn, void *arg);
/* POST /api/v1/registrations: body is one JSON object or an array of up to
 * 1000 objects with keys time, src_ip, src_port, transport, registrar, port,
 * username, auth_username, user_agent, contact, instance, expires, code,
 * and optionally reason, reason_detail, call_id (call_id is read only to
 * recognise diagnose's probes).
 * All or nothing.  Returns DRIFT_OK, or with err: DRIFT_ERR_INPUT (the
 * body is wrong: HTTP 4xx, do not retry), DRIFT_ERR_BUSY (another writer
 * holds the database) or DRIFT_ERR_STORE (I/O, disk full, ...): both
 * server-side, retry later. */
enum drift_status { DRIFT_OK = 0, DRIFT_ERR_INPUT = -1, DRIFT_ERR_BUSY = -2, DRIFT_ERR_STORE = -3 };
int drift_webhook(struct store *s, const char *body, size_t len, char *err, size_t errlen);
/* Append Prometheus lines: open drift events by kind (gauge from the DB). */
void drift_metrics(struct store *s, struct buf *out);
/* What a final code usually means, from the 403/404/408 map ("" if none). */
const char *drift_code_meaning(long code);
/* kind is one of the event kinds (auth_username, never_fetched, port,
 * registrar, stale, transport, unknown_user, username). */
bool drift_kind_known(const char *kind);

/* ---- status.c: the records the CLI's --json and the admin API share ---- */
struct device;
struct drift_event;
/* "never" (no fetch), "current" (fetched expected_version) or "stale". */
const char *status_fetch_state(const struct device *d, long expected_version);
/* One drift event as `sipprov drift --json` prints it.  New reference. */
json_t *status_drift_json(const struct drift_event *ev);
/* One device as `sipprov status --json` prints it (fetch, version, last
 * registration, lines, open drift).  A config that does not load still
 * gives a record, with err set (else err ""). New reference. */
json_t *status_device_json(struct store *s, const struct device *d, char *err, size_t errlen);

#endif
