/*
 * notify.c: SIP NOTIFY to phones so they re-fetch their config.  The text
 * of the request is built here; the transactions (timers, sockets, TLS) are
 * sip/txn.c's, many driven by one poll() loop.  New transactions start at a
 * bounded rate with a bounded number awaiting a final response; finished
 * UDP ones linger for Timer K while slots allow.  It does not choose
 * targets nor store results.  One TLS context per run, freed before return.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "notify.h"
#include "core/sipprov.h"

const char *notify_result_name(enum notify_result r)
{
	switch (r) {
	case NR_OK: return "200";
	case NR_481: return "481";
	case NR_OTHER: return "other";
	case NR_TIMEOUT: return "timeout";
	default: return "pending";
	}
}

void notify_opts_init(struct notify_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->rate = 50;
	o->concurrency = 200;
	o->timeout_ms = NOTIFY_TIMER_F_MS;
	o->tls_verify = true;
}

/* ---- the request ---- */

static void put_host(struct buf *b, const char *h)
{
	if (strchr(h, ':'))
		buf_printf(b, "[%s]", h);
	else
		buf_adds(b, h);
}

int notify_build(const struct notify_target *t, const struct sip_uri *via, enum sip_transport tr,
		 const char *local_host, int local_port, const char *branch, const char *tag,
		 const char *callid, struct buf *b)
{
	const char *TR = tr == SIP_TCP ? "TCP" : tr == SIP_TLS ? "TLS" : "UDP";
	const struct sip_uri *c = &t->contact;

	buf_printf(b, "NOTIFY %s SIP/2.0\r\nVia: SIP/2.0/%s ", c->text, TR);
	put_host(b, local_host);
	buf_printf(b, ":%d;branch=%s;rport\r\nMax-Forwards: 70\r\n", local_port, branch);
	if (via) {
		buf_adds(b, "Route: <sip:");
		put_host(b, via->host);
		enum sip_transport vt = sip_uri_transport(via);
		buf_printf(b, ":%d;lr%s%s>\r\n", sip_uri_port(via), vt != SIP_UDP ? ";transport=" : "",
			   vt != SIP_UDP ? sip_transport_name(vt) : "");
	}
	buf_adds(b, "From: <sip:provisioning@");
	put_host(b, local_host);
	buf_printf(b, ">;tag=%s\r\nTo: <%s:%s%s", tag, c->sips ? "sips" : "sip", c->user, c->user[0] ? "@" : "");
	put_host(b, c->host);
	if (c->port)
		buf_printf(b, ":%d", c->port);
	buf_printf(b, ">\r\nCall-ID: %s\r\nCSeq: 1 NOTIFY\r\nContact: <sip:provisioning@", callid);
	put_host(b, local_host);
	buf_printf(b, ":%d;transport=%s>\r\nEvent: %s\r\nSubscription-State: terminated;reason=timeout\r\n"
		   "User-Agent: sipprov/%s\r\nContent-Length: 0\r\n\r\n", local_port, sip_transport_name(tr), t->event,
		   SP_VERSION);
	return b->overflow ? -1 : 0;
}

/* ---- the run ---- */

struct job {
	struct sip_txn x;
	struct notify_target *t;
	const struct notify_opts *o;
	enum sip_transport tr;
	bool busy;                      /* started and not over (Timer K included) */
	bool reported;                  /* result handed to the target */
};

static int job_build(void *arg, const char *lhost, int lport, const char *branch, struct buf *out)
{
	struct job *j = arg;
	char tag[17], rnd[17], callid[64];
	if (random_hex(tag, 4) < 0 || random_hex(rnd, 8) < 0)
		return -1;
	snprintf(callid, sizeof(callid), "%s@sipprov", rnd);
	return notify_build(j->t, j->o->via, j->tr, lhost, lport, branch, tag, callid, out);
}

static const char *phase(enum sip_tx_state s)
{
	return s == SIP_TXS_CONNECTING ? "connecting" : s == SIP_TXS_HANDSHAKE ? "tls handshake" :
	       s == SIP_TXS_SENDING ? "sending" : "waiting for a response";
}

/* The transaction's outcome in the target's words. */
static void job_report(struct job *j)
{
	struct sip_txn *x = &j->x;
	struct notify_target *t = j->t;
	double s = (double)x->elapsed_ms / 1e3;

	t->sends = x->sends;
	t->code = 0;
	switch (x->result) {
	case SIP_TX_FINAL:
		t->code = x->resp.code;
		t->result = t->code < 300 ? NR_OK : t->code == 481 ? NR_481 : NR_OTHER;
		snprintf(t->detail, sizeof(t->detail), "%d %s", t->code, x->resp.reason);
		break;
	case SIP_TX_TIMEOUT:
		t->result = NR_TIMEOUT;
		if (j->tr == SIP_UDP)
			snprintf(t->detail, sizeof(t->detail), "no answer after %d sends in %.1f s%s", x->sends, s,
				 x->icmp ? " (ICMP port unreachable seen)" : "");
		else
			snprintf(t->detail, sizeof(t->detail), "no answer in %.1f s (%s)", s, phase(x->state));
		break;
	case SIP_TX_REFUSED:
		t->result = NR_OTHER;
		snprintf(t->detail, sizeof(t->detail), "connect to %s: %.60s", x->addr, x->why);
		break;
	case SIP_TX_TLS:
		t->result = NR_OTHER;
		snprintf(t->detail, sizeof(t->detail), "tls: %.150s", x->why);
		break;
	case SIP_TX_CLOSED:
		t->result = NR_OTHER;
		snprintf(t->detail, sizeof(t->detail), "connection closed before a final response");
		break;
	default:
		t->result = NR_OTHER;
		snprintf(t->detail, sizeof(t->detail), "%.155s", x->why);
		break;
	}
	j->reported = true;
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A free slot; if Timer K holds them all, the one nearest its end is cut
 * short (a late retransmitted 200 then meets a closed port: harmless). */
static struct job *free_slot(struct job *jobs, size_t slots)
{
	struct job *k = NULL;
	for (size_t i = 0; i < slots; i++) {
		if (!jobs[i].busy)
			return &jobs[i];
		if (jobs[i].reported && (!k || jobs[i].x.k_end < k->x.k_end))
			k = &jobs[i];
	}
	if (k) {
		sip_txn_release(&k->x);
		k->busy = false;
	}
	return k;
}

int notify_run(struct notify_target *t, size_t n, const struct notify_opts *o, char *err, size_t errlen)
{
	size_t conc = o->concurrency > 0 ? (size_t)o->concurrency : 200;
	size_t slots = 2 * conc;                /* awaiting a final, and lingering for Timer K */
	double rate = o->rate > 0 ? o->rate : 50;
	int64_t gap = (int64_t)(1e6 / rate), next_start = now_us();
	size_t next = 0, done = 0, active = 0;
	struct sip_tls *tls = NULL;
	bool need_tls = o->via && sip_uri_transport(o->via) == SIP_TLS;
	struct job *jobs;
	struct pollfd *pfd;
	size_t *map;
	int rc = 0;

	for (size_t i = 0; i < n && !o->via; i++)
		if (sip_uri_transport(&t[i].contact) == SIP_TLS)
			need_tls = true;
	/* Without verification the trust store is not needed: load none. */
	if (need_tls && !(tls = sip_tls_new(o->tls_verify ? o->tls_ca_file : NULL, err, errlen)))
		return -1;
	jobs = xcalloc(slots, sizeof(*jobs));
	pfd = xcalloc(slots, sizeof(*pfd));
	map = xcalloc(slots, sizeof(*map));
	for (size_t i = 0; i < n; i++) {
		t[i].result = NR_PENDING;
		t[i].code = 0;
		t[i].sends = 0;
		t[i].detail[0] = '\0';
	}
	while (done < n && !(o->stop && o->stop(o->stop_arg))) {
		/* Start what the rate and the concurrency bound allow. */
		while (next < n && active < conc && now_us() >= next_start) {
			struct job *j = free_slot(jobs, slots);
			const struct sip_uri *dst = o->via ? o->via : &t[next].contact;
			struct sip_dest d = {
				.host = dst->host, .port = sip_uri_port(dst), .tr = sip_uri_transport(dst),
				.timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : NOTIFY_TIMER_F_MS,
				.tls = tls, .tls_verify = o->tls_verify,
			};
			memset(j, 0, sizeof(*j));
			j->t = &t[next++];
			j->o = o;
			j->tr = d.tr;
			j->busy = true;
			active++;
			next_start = (next_start > now_us() ? next_start : now_us()) + gap;
			sip_txn_start(&j->x, &d, job_build, j);
			if (j->x.result != SIP_TX_PENDING) {
				job_report(j);
				active--;
				done++;
				if (o->on_done)
					o->on_done(j->t, done, n, o->arg);
				j->busy = !sip_txn_over(&j->x);
			}
		}
		/* Sleep until the next event, timer or start. */
		int64_t now = sip_now_ms();
		int64_t wake = next < n && active < conc ? next_start / 1000 + 1 : now + 1000;
		size_t np = 0;
		for (size_t k = 0; k < slots; k++) {
			if (!jobs[k].busy)
				continue;
			int64_t w = sip_txn_wake(&jobs[k].x);
			if (w < wake)
				wake = w;
			pfd[np].fd = sip_txn_fd(&jobs[k].x);
			pfd[np].events = sip_txn_events(&jobs[k].x);
			pfd[np].revents = 0;
			map[np++] = k;
		}
		int ms = wake > now ? (int)(wake - now) : 0;
		if (poll(pfd, np, ms) < 0 && errno != EINTR) {
			rc = sp_err(err, errlen, "poll: %s", strerror(errno));
			break;
		}
		for (size_t i = 0; i < np; i++) {
			struct job *j = &jobs[map[i]];
			sip_txn_step(&j->x, pfd[i].revents);
			if (j->x.result != SIP_TX_PENDING && !j->reported) {
				job_report(j);
				active--;
				done++;
				if (o->on_done)
					o->on_done(j->t, done, n, o->arg);
			}
			if (sip_txn_over(&j->x))
				j->busy = false;
		}
	}
	/* Every target has its result (or stop came): Timer K of the last ones ends here. */
	for (size_t k = 0; k < slots; k++)
		if (jobs[k].busy)
			sip_txn_release(&jobs[k].x);
	free(jobs);
	free(pfd);
	free(map);
	sip_tls_free(tls);
	return rc;
}
