/*
 * hep.h: HEP v3 (HEP3/EEP3) decoding and the HEP intake listener of
 * sipprovd.  The decoder only reads a byte buffer; the listener owns its
 * socket, thread, store connection and REGISTER/response correlation.
 */
#ifndef SP_HEP_H
#define SP_HEP_H
#include <stddef.h>
#include <stdint.h>

struct conf;
struct sipmsg;
struct observation;

#define HEP_ADDR_MAX 46                 /* INET6_ADDRSTRLEN */

/* One decoded HEP packet.  payload points INTO the decoded buffer. */
struct hep_packet {
	int family;                         /* 4 or 6 */
	int proto;                          /* IP protocol: 17 udp, 6 tcp, 132 sctp, 22 tls/ws */
	char src_ip[HEP_ADDR_MAX];
	char dst_ip[HEP_ADDR_MAX];
	unsigned src_port, dst_port;
	uint32_t ts_sec, ts_usec;
	uint32_t capture_id;                /* read in network order, as sent */
	int proto_type;                     /* 1 = SIP */
	const char *payload;
	size_t payload_len;
};

/* Decode datagram buf[len].  auth_key NULL or "" = no key required; else the
 * packet must carry chunk 14 equal to it (compared in constant time).
 * Returns 0, or -1 with *reason set to a short static string usable as a
 * metrics label ("truncated", "bad_magic", "bad_length", "bad_chunk",
 * "no_payload", "auth", "family", "proto"). Never reads outside buf[len]. */
int hep_decode(const uint8_t *buf, size_t len, const char *auth_key, struct hep_packet *p,
	       const char **reason);
/* The "sipprov_hep_packets_total{result=\"rejected\",reason=...}" series for
 * a reason returned by hep_decode (a literal, lives forever). */
const char *hep_reason_series(const char *reason);

/* ---- hep_server.c: REGISTER <-> final response correlation ---- */

/* Pending-transaction table: REGISTER requests keyed by Call-ID, matched
 * with their final response by CSeq.  401/407 waits for the retry with a
 * higher CSeq; a request with no final response after timeout_ms is
 * emitted with code 408, a challenge never retried with its 401/407.
 * At most max entries; the oldest is evicted (and counted) when full. */
struct hep_corr;
typedef void (*hep_emit_fn)(const struct observation *o, void *arg);
struct hep_corr *hep_corr_new(size_t max, int64_t timeout_ms, hep_emit_fn emit, void *arg);
void hep_corr_free(struct hep_corr *c); /* accepts NULL; emits nothing */
/* Feed one decoded SIP message carried by HEP packet p (p may be NULL for
 * tests: then addresses are empty).  now_ms is monotonic milliseconds.
 * Returns 1 if it was a REGISTER or a response to one, 0 if ignored. */
int hep_corr_feed(struct hep_corr *c, const struct hep_packet *p, const struct sipmsg *m, int64_t now_ms);
/* Emit every entry past its deadline. */
void hep_corr_expire(struct hep_corr *c, int64_t now_ms);
/* Emit everything still pending (shutdown): waiting ones as 0 (no answer seen). */
void hep_corr_flush(struct hep_corr *c);
size_t hep_corr_pending(const struct hep_corr *c);
/* Correlation timeout in ms: $SIPPROV_HEP_TIMEOUT_MS if set, else 32000. */
int64_t hep_corr_default_timeout(void);

/* ---- hep_server.c: the UDP listener thread ---- */

struct hep_server;
/* Check (hep_listen_check), bind conf->hep_listen ("127.0.0.1:9060",
 * "[::1]:9060"), open its own store connection on conf->database and start
 * the thread.  Datagrams from outside conf->hep_allow are dropped and
 * counted.  NULL + err on failure (checks, bind, database). */
struct hep_server *hep_server_start(const struct conf *conf, char *err, size_t errlen);
/* The start-up checks of hep_server_start without binding (sipprovd -n runs it):
 * hep_allow parses, hep_listen resolves, and a listener on a non-loopback
 * address has hep_allow or hep_auth_key set.  0, or -1 with err naming
 * the keys. */
int hep_listen_check(const struct conf *conf, char *err, size_t errlen);
/* sipprovd -n: bind conf->hep_listen (if set) and close it at once.  0,
 * or -1 with err; *in_use tells "address in use" (a running sipprovd?). */
int hep_listen_try(const struct conf *conf, int *in_use, char *err, size_t errlen);
/* Stop the thread, flush pending observations, free everything; accepts NULL. */
void hep_server_stop(struct hep_server *h);
#endif
