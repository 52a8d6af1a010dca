/*
 * notify.h: SIP NOTIFY sender for reprovisioning ("check-sync", "resync"):
 * many transactions in flight in one poll() loop, over UDP (RFC 3261
 * non-INVITE retransmissions), TCP or TLS (OpenSSL, peer verified by
 * default), directly or through an outbound proxy, at a bounded rate.  It
 * neither picks targets nor stores results: the caller does.
 */
#ifndef SP_NOTIFY_H
#define SP_NOTIFY_H
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

struct buf;

#define NOTIFY_T1_MS 500
#define NOTIFY_T2_MS 4000
#define NOTIFY_TIMER_F_MS (64 * NOTIFY_T1_MS)

enum notify_transport { NT_UDP, NT_TCP, NT_TLS };

/* A parsed SIP URI (enough of RFC 3261 19.1 for contacts and proxies). */
struct sip_uri {
	bool sips;
	char user[128];
	char host[256];                     /* without brackets for IPv6 */
	int port;                           /* 0 = not given */
	enum notify_transport transport;
	bool transport_given;
	char text[512];                     /* the URI as given, without <> */
};

/* Parse a Contact value: '"Name" <sip:u@h:p;transport=tcp>;expires=60',
 * '<sips:h>', or a bare 'sip:u@h:p'.  0, or -1 with err. */
int sip_uri_parse(const char *contact, struct sip_uri *u, char *err, size_t errlen);
/* "HOST:PORT", "[v6]:PORT", "HOST" or a SIP URI, as given to --via. */
int sip_hostport_parse(const char *s, struct sip_uri *u, char *err, size_t errlen);

/* NR_OTHER covers other final codes and transport errors (code 0, detail says). */
enum notify_result { NR_PENDING, NR_OK, NR_481, NR_OTHER, NR_TIMEOUT };
const char *notify_result_name(enum notify_result r);   /* "pending" "200" "481" "other" "timeout" */

struct notify_target {
	/* in */
	int64_t device_id;
	char mac[16];
	char event[64];                     /* Event header value */
	struct sip_uri contact;             /* Request-URI and (without via) destination */
	/* out */
	enum notify_result result;
	int code;                           /* final status code, 0 none */
	int sends;                          /* transmissions (UDP retransmissions included) */
	char detail[160];                   /* "200 OK", "no answer after 4 sends", ... */
};

struct notify_opts {
	double rate;                        /* new transactions per second (default 50) */
	int concurrency;                    /* in flight at most (default 200) */
	int timeout_ms;                     /* total per transaction (default Timer F, 32 s) */
	const struct sip_uri *via;          /* outbound proxy, NULL = direct */
	bool tls_verify;                    /* verify peer certificate and name (default true) */
	const char *tls_ca_file;            /* NULL = system store */
	/* Called as each target finishes. */
	void (*on_done)(struct notify_target *t, size_t done, size_t total, void *arg);
	void *arg;
};
void notify_opts_init(struct notify_opts *o);

/* Send to every target; fills each target's result.  Returns 0 when run
 * (whatever the results), -1 when nothing could be run (err). */
int notify_run(struct notify_target *t, size_t n, const struct notify_opts *o, char *err, size_t errlen);

/* The NOTIFY request text for one target (tests, --dry-run display). */
int notify_build(const struct notify_target *t, const struct sip_uri *via, enum notify_transport tr,
		 const char *local_host, int local_port, const char *branch, const char *tag,
		 const char *callid, struct buf *out);
#endif
