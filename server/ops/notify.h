/*
 * notify.h: SIP NOTIFY sender for reprovisioning ("check-sync", "resync"):
 * many client transactions (sip/txn.c: UDP with RFC 3261 timers, TCP, TLS
 * with the peer verified by default) in flight in one poll() loop, directly
 * or through an outbound proxy, at a bounded rate.  It neither picks
 * targets nor stores results: the caller does.
 */
#ifndef SP_NOTIFY_H
#define SP_NOTIFY_H
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "sip/sip.h"

struct buf;

#define NOTIFY_TIMER_F_MS (64 * SIP_T1_MS)

/* NR_OTHER covers other final codes and transport errors (code 0, detail says). */
enum notify_result { NR_PENDING, NR_OK, NR_481, NR_OTHER, NR_TIMEOUT };
const char *notify_result_name(enum notify_result r);   /* "pending" "200" "481" "other" "timeout" */

struct notify_target {
	/* in */
	int64_t device_id;
	char mac[16];
	char event[64];                     /* Event header value */
	struct sip_uri contact;             /* Request-URI and (without via) destination:
					       from sip_uri_target */
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
	const struct sip_uri *via;          /* outbound proxy (sip_hostport_parse), NULL = direct */
	bool tls_verify;                    /* verify peer certificate and name (default true) */
	const char *tls_ca_file;            /* NULL = system store */
	/* Called as each target finishes. */
	void (*on_done)(struct notify_target *t, size_t done, size_t total, void *arg);
	void *arg;
	/* Polled at least once a second: true ends the run early, the targets
	 * not finished left NR_PENDING (sipprovd's shutdown).  NULL = never. */
	bool (*stop)(void *stop_arg);
	void *stop_arg;
};
void notify_opts_init(struct notify_opts *o);

/* Send to every target; fills each target's result.  Returns 0 when run
 * (whatever the results), -1 when nothing could be run (err). */
int notify_run(struct notify_target *t, size_t n, const struct notify_opts *o, char *err, size_t errlen);

/* The NOTIFY request text for one target (tests, --dry-run display). */
int notify_build(const struct notify_target *t, const struct sip_uri *via, enum sip_transport tr,
		 const char *local_host, int local_port, const char *branch, const char *tag,
		 const char *callid, struct buf *out);
#endif
