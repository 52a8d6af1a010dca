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
/* Caps on open unknown_user events: per source address (the observation's
 * src_ip) and in total.  Over a cap an unknown user's registration is not
 * recorded (counted in sipprov_drift_unknown_dropped_total).  Defaults
 * 50 and 1000; safe to call while other threads record. */
void drift_unknown_caps_set(long per_source, long max);
/* POST /api/v1/registrations: body is one JSON object or an array of up to
 * 1000 objects with keys time, src_ip, src_port, transport, registrar, port,
 * username, auth_username, user_agent, contact, instance, expires, code.
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

#endif
