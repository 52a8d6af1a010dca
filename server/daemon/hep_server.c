/*
 * hep_server.c: the HEP intake of sipprovd: a UDP listener thread with its
 * own store connection, and the REGISTER <-> final response correlation
 * that turns SIP messages into observations for drift.c.  Only senders in
 * hep_allow are read.  Writes are batched (one transaction per 512
 * observations or 50 ms); a database locked by another writer is retried
 * with backoff while observations wait in a bounded queue.  It shares no
 * lock with the HTTP server; it does not inflate compressed HEP payloads.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/sipprov.h"
#include "hep.h"
#include "sip/sip.h"

#define CORR_MAX        16384   /* pending REGISTERs; ~2.5 KiB each */
#define BATCH_MAX       512
#define BATCH_MS        50
#define RECV_BATCH      64

/* ---- correlation ---- */

struct pend {
	char call_id[SIPMSG_STR];
	size_t hash;
	long cseq;
	bool challenged;
	int64_t deadline;
	struct observation obs;
	struct pend *hnext;                 /* hash chain */
	struct pend *prev, *next;           /* deadline order, oldest first */
};

struct hep_corr {
	size_t max, n, nbuckets;
	int64_t timeout;
	hep_emit_fn emit;
	void *arg;
	struct pend **tab;
	struct pend *head, *tail;
};

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603ULL;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

int64_t hep_corr_default_timeout(void)
{
	const char *e = getenv("SIPPROV_HEP_TIMEOUT_MS");
	long v;
	if (e && *e && sp_parse_int(e, 1, 3600000, &v) == 0)
		return v;
	return 32000;
}

struct hep_corr *hep_corr_new(size_t max, int64_t timeout_ms, hep_emit_fn emit, void *arg)
{
	struct hep_corr *c = xcalloc(1, sizeof(*c));
	c->max = max ? max : CORR_MAX;
	c->nbuckets = 1;
	while (c->nbuckets < c->max)
		c->nbuckets <<= 1;
	c->tab = xcalloc(c->nbuckets, sizeof(*c->tab));
	c->timeout = timeout_ms;
	c->emit = emit;
	c->arg = arg;
	return c;
}

static struct pend *find(struct hep_corr *c, const char *call_id, size_t h)
{
	for (struct pend *e = c->tab[h & (c->nbuckets - 1)]; e; e = e->hnext)
		if (e->hash == h && strcmp(e->call_id, call_id) == 0)
			return e;
	return NULL;
}

static void list_unlink(struct hep_corr *c, struct pend *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void list_append(struct hep_corr *c, struct pend *e)
{
	e->prev = c->tail;
	e->next = NULL;
	if (c->tail)
		c->tail->next = e;
	else
		c->head = e;
	c->tail = e;
}

static void drop(struct hep_corr *c, struct pend *e)
{
	struct pend **pp = &c->tab[e->hash & (c->nbuckets - 1)];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	list_unlink(c, e);
	c->n--;
	free(e);
}

static void emit_drop(struct hep_corr *c, struct pend *e, int code)
{
	if (code >= 0)
		e->obs.code = code;
	if (c->emit)
		c->emit(&e->obs, c->arg);
	drop(c, e);
}

void hep_corr_free(struct hep_corr *c)
{
	if (!c)
		return;
	while (c->head)
		drop(c, c->head);
	free(c->tab);
	free(c);
}

size_t hep_corr_pending(const struct hep_corr *c)
{
	return c->n;
}

static const char *transport_of(const struct hep_packet *p, const struct sipmsg *m)
{
	if (!strcmp(m->via_transport, "ws") || !strcmp(m->via_transport, "wss"))
		return m->via_transport;
	if (p && p->proto == 22)
		return "tls";            /* Kamailio marks TLS (and WS) as 22 */
	if (m->via_transport[0])
		return m->via_transport;
	if (p)
		return p->proto == 6 ? "tcp" : p->proto == 132 ? "sctp" : p->proto == 17 ? "udp" : "";
	return "";
}

static void fill(struct observation *o, const struct hep_packet *p, const struct sipmsg *m)
{
	memset(o, 0, sizeof(*o));
	o->at = sp_now();
	sp_strlcpy(o->source, "hep", sizeof(o->source));
	if (p) {
		sp_strlcpy(o->src_ip, p->src_ip, sizeof(o->src_ip));
		sp_strlcpy(o->dst_ip, p->dst_ip, sizeof(o->dst_ip));
		o->src_port = (long)p->src_port;
		o->port = (long)p->dst_port;
	} else {
		o->port = m->ruri.port;
	}
	sp_strlcpy(o->transport, transport_of(p, m), sizeof(o->transport));
	sp_strlcpy(o->registrar, m->to.host[0] ? m->to.host : m->ruri.host, sizeof(o->registrar));
	sp_strlcpy(o->username, m->to.user, sizeof(o->username));
	sp_strlcpy(o->auth_username, m->auth_username, sizeof(o->auth_username));
	sp_strlcpy(o->user_agent, m->user_agent, sizeof(o->user_agent));
	sp_strlcpy(o->contact, m->contact, sizeof(o->contact));
	sp_strlcpy(o->instance, m->instance, sizeof(o->instance));
	o->expires = m->contact_expires >= 0 ? m->contact_expires : m->expires >= 0 ? m->expires : 0;
	if (drift_is_probe(m->user_agent, m->call_id))
		sp_strlcpy(o->source, "probe", sizeof(o->source));
}

/* What the registrar said with a final (or challenge) response: the
 * reason phrase, and the Reason or P-Registrar-Error header. */
static void answer(struct observation *o, const struct hep_packet *p, const struct sipmsg *m)
{
	o->code = m->code;
	sp_strlcpy(o->reason, m->reason, sizeof(o->reason));
	o->reason_detail[0] = '\0';
	if (m->reason_proto[0])
		snprintf(o->reason_detail, sizeof(o->reason_detail), "Reason: %s;cause=%ld;text=\"%s\"",
			 m->reason_proto, m->reason_cause, m->reason_text);
	else if (p) {
		char v[200];
		if (sipmsg_header(p->payload, p->payload_len, "P-Registrar-Error", v, sizeof(v)) == 1)
			snprintf(o->reason_detail, sizeof(o->reason_detail), "P-Registrar-Error: %s", v);
	}
}

int hep_corr_feed(struct hep_corr *c, const struct hep_packet *p, const struct sipmsg *m, int64_t now_ms)
{
	size_t h = hash_str(m->call_id);
	struct pend *e = find(c, m->call_id, h);

	if (m->request) {
		if (strcmp(m->method, "REGISTER"))
			return 0;
		if (e) {
			if (m->cseq <= e->cseq)
				return 1;           /* retransmission or out of order */
			/* A new transaction on the same Call-ID: the old one was
			 * either challenged and now retried (drop it), or never
			 * answered (emit it as no response).  A retry bringing
			 * credentials the old one lacked answers a challenge even
			 * when the challenge's copy has not come yet: a registrar
			 * of several processes (Kamailio) sends HEP from each, and
			 * on a busy host the copies arrive out of order. */
			if (e->challenged || (!e->obs.auth_username[0] && m->auth_username[0])) {
				metrics_inc("sipprov_hep_register_retried_total");
				list_unlink(c, e);
				list_append(c, e);
			} else {
				emit_drop(c, e, 408);
				e = NULL;
			}
		}
		if (!e) {
			if (c->n >= c->max) {
				metrics_inc("sipprov_hep_pending_evicted_total");
				drop(c, c->head);
			}
			e = xcalloc(1, sizeof(*e));
			sp_strlcpy(e->call_id, m->call_id, sizeof(e->call_id));
			e->hash = h;
			e->hnext = c->tab[h & (c->nbuckets - 1)];
			c->tab[h & (c->nbuckets - 1)] = e;
			list_append(c, e);
			c->n++;
		}
		e->cseq = m->cseq;
		e->challenged = false;
		e->deadline = now_ms + c->timeout;
		fill(&e->obs, p, m);
		return 1;
	}
	if (strcmp(m->cseq_method, "REGISTER"))
		return 0;
	if (m->code < 200)
		return 1;
	if (!e || e->cseq != m->cseq) {
		metrics_inc("sipprov_hep_responses_unmatched_total");
		return 1;
	}
	if (m->code == 401 || m->code == 407) {
		/* Wait for the retry with credentials (a higher CSeq). */
		e->challenged = true;
		answer(&e->obs, p, m);
		e->deadline = now_ms + c->timeout;
		list_unlink(c, e);
		list_append(c, e);
		return 1;
	}
	if (m->code == 200) {
		/* The registrar's granted expiry wins over the requested one. */
		if (m->contact_expires >= 0)
			e->obs.expires = m->contact_expires;
		else if (m->expires >= 0)
			e->obs.expires = m->expires;
	}
	answer(&e->obs, p, m);
	emit_drop(c, e, m->code);
	return 1;
}

void hep_corr_expire(struct hep_corr *c, int64_t now_ms)
{
	while (c->head && c->head->deadline <= now_ms)
		emit_drop(c, c->head, c->head->challenged ? -1 : 408);
}

void hep_corr_flush(struct hep_corr *c)
{
	while (c->head)
		emit_drop(c, c->head, c->head->challenged ? -1 : 0);
}

/* ---- who may send HEP ---- */

/* hep_allow through the project's one CIDR rule (core/policy.c); an empty
 * key means loopback only, not policy's "any". */
#define HEP_ALLOW_DEFAULT "127.0.0.0/8,::1"

static int hep_allow_parse(const char *list, struct policy_nets *nets, char *err, size_t errlen)
{
	char why[SP_ERR_MAX];
	if (policy_nets_parse(list[0] ? list : HEP_ALLOW_DEFAULT, nets, why, sizeof(why)) < 0)
		return sp_err(err, errlen, "hep_allow: %s", why);
	return 0;
}

static bool hep_allow_match(const struct policy_nets *nets, const struct sockaddr_storage *ss)
{
	unsigned char a[16];
	return policy_addr_sockaddr((const struct sockaddr *)ss, a) && policy_nets_match(nets, a);
}

/* ---- the listener ---- */

/* Observations wait here until a transaction takes them, so a database
 * locked by another writer (an import, the CLI) delays them instead of
 * losing them.  The bound is the only place one is dropped (and counted). */
#define QUEUE_MAX       16384           /* ~27 MiB of observations */
#define BACKOFF_MIN_MS  10
#define BACKOFF_MAX_MS  1000
#define LOCK_TRY_MS     10              /* one begin waits this long, then the loop goes on receiving */
#define DRAIN_MS        10000           /* at stop: keep retrying a locked database this long */

struct hep_server {
	int fd;
	pthread_t thread;
	atomic_bool stop;
	char auth_key[SP_NAME_MAX];
	struct policy_nets allow;
	struct store *store;
	struct hep_corr *corr;
	struct drift_cache *cache;          /* this thread's: expected config per device */
	struct observation *q;              /* FIFO: q[qhead .. qhead+qlen) */
	size_t qhead, qlen, qcap;
	int64_t qsince;                     /* when the oldest waiting observation came */
	int64_t retry_at, backoff;          /* after a failed begin or commit */
	int64_t locked_since;               /* 0 = not in a lock episode */
	long errors, dropped, refused;
};

static void server_emit(const struct observation *o, void *arg)
{
	struct hep_server *h = arg;
	if (h->qlen == QUEUE_MAX) {
		metrics_inc("sipprov_observations_dropped_total{reason=\"queue_full\"}");
		if (h->dropped++ % 10000 == 0)
			log_warnx("hep: %d observations wait for the database; dropping new ones (%ld so far)",
				  QUEUE_MAX, h->dropped);
		return;
	}
	if (h->qhead + h->qlen == h->qcap) {
		if (h->qhead) {
			memmove(h->q, h->q + h->qhead, h->qlen * sizeof(*h->q));
			h->qhead = 0;
		} else {
			h->qcap = h->qcap ? h->qcap * 2 : 1024;
			if (h->qcap > QUEUE_MAX)
				h->qcap = QUEUE_MAX;
			h->q = xrealloc(h->q, h->qcap * sizeof(*h->q));
		}
	}
	if (!h->qlen)
		h->qsince = sp_mono_ms();
	h->q[h->qhead + h->qlen++] = *o;
}

static void write_failed(struct hep_server *h, const char *what, int64_t now)
{
	bool busy = store_is_busy(h->store);
	h->backoff = h->backoff ? h->backoff * 2 : BACKOFF_MIN_MS;
	if (h->backoff > BACKOFF_MAX_MS)
		h->backoff = BACKOFF_MAX_MS;
	h->retry_at = now + h->backoff;
	metrics_inc(busy ? "sipprov_hep_write_retries_total{reason=\"locked\"}"
			 : "sipprov_hep_write_retries_total{reason=\"error\"}");
	if (!busy)
		log_warnx("hep: cannot %s: %s; %zu observations kept, retrying", what, store_errmsg(h->store),
			  h->qlen);
	else if (!h->locked_since)
		log_info("hep: database locked by another writer; %zu observations wait", h->qlen);
	if (busy && !h->locked_since)
		h->locked_since = now;
}

static void record_failed(const struct observation *o, const char *err, void *arg)
{
	struct hep_server *h = arg;
	metrics_inc("sipprov_observations_failed_total");
	if (h->errors++ < 20) {
		/* SIP bytes: the names and the reason (which may quote them). */
		char ue[100], re[100], ee[SP_ERR_MAX];
		log_warnx("hep: observation of '%s@%s' not recorded: %s", sp_log_escape(o->username, ue, sizeof(ue)),
			  sp_log_escape(o->registrar, re, sizeof(re)), sp_log_escape(err, ee, sizeof(ee)));
	}
}

/* Write up to BATCH_MAX waiting observations in one transaction, as one
 * batch (drift_record_many: on PostgreSQL a few round trips for all of
 * them).  They leave the queue only when the commit succeeded. */
static void flush(struct hep_server *h)
{
	int64_t now = sp_mono_ms();
	size_t n = h->qlen < BATCH_MAX ? h->qlen : BATCH_MAX;

	if (store_begin(h->store) < 0) {
		write_failed(h, "begin", now);
		return;
	}
	drift_record_many(h->store, h->cache, &h->q[h->qhead], n, record_failed, h);
	if (store_commit(h->store) < 0) {
		write_failed(h, "commit", now);
		store_rollback(h->store);
		return;
	}
	if (h->locked_since) {
		log_info("hep: database writable again after %lld ms", (long long)(sp_mono_ms() - h->locked_since));
		h->locked_since = 0;
	}
	h->backoff = 0;
	h->retry_at = 0;
	h->qhead += n;
	h->qlen -= n;
	if (!h->qlen)
		h->qhead = 0;
	h->qsince = sp_mono_ms();
}

/* Handle one datagram from 'from'. */
static void packet(struct hep_server *h, const uint8_t *buf, size_t len, const struct sockaddr_storage *from)
{
	struct hep_packet p;
	struct sipmsg m;
	const char *why = NULL;
	char err[128];

	if (!hep_allow_match(&h->allow, from)) {
		metrics_inc(hep_reason_series("source"));
		if (h->refused++ % 10000 == 0) {
			char ip[INET6_ADDRSTRLEN] = "?";
			const void *a = from->ss_family == AF_INET6
				? (const void *)&((const struct sockaddr_in6 *)from)->sin6_addr
				: (const void *)&((const struct sockaddr_in *)from)->sin_addr;
			inet_ntop(from->ss_family, a, ip, sizeof(ip));
			log_warnx("hep: dropping datagrams from %s: not in hep_allow (%ld so far)", ip, h->refused);
		}
		return;
	}
	if (hep_decode(buf, len, h->auth_key, &p, &why) < 0) {
		metrics_inc(hep_reason_series(why));
		return;
	}
	if (p.proto_type && p.proto_type != 1) {
		metrics_inc(hep_reason_series("not_sip"));
		return;
	}
	metrics_inc("sipprov_hep_packets_total{result=\"accepted\"}");
	if (sipmsg_parse(p.payload, p.payload_len, &m, err, sizeof(err)) < 0) {
		metrics_inc("sipprov_sip_parse_errors_total");
		char ee[4 * sizeof(err)];
		log_debug("hep: SIP from %s:%u not parsed: %s", p.src_ip, p.src_port, sp_log_escape(err, ee, sizeof(ee)));
		return;
	}
	hep_corr_feed(h->corr, &p, &m, sp_mono_ms());
}

static void *server_main(void *arg)
{
	struct hep_server *h = arg;
	struct mmsghdr msgs[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	struct sockaddr_storage from[RECV_BATCH];
	uint8_t *bufs = xmalloc((size_t)RECV_BATCH * 65536);

	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < RECV_BATCH; i++) {
		iov[i].iov_base = bufs + (size_t)i * 65536;
		iov[i].iov_len = 65536;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &from[i];
	}
	while (!atomic_load(&h->stop)) {
		struct pollfd pfd = { .fd = h->fd, .events = POLLIN };
		/* A backlog (after a lock) is written batch after batch. */
		int timeout = h->qlen >= BATCH_MAX && sp_mono_ms() >= h->retry_at ? 0 : h->qlen ? 10 : 100;
		if (poll(&pfd, 1, timeout) > 0) {
			for (int i = 0; i < RECV_BATCH; i++)
				msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
			int n = recvmmsg(h->fd, msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
			for (int i = 0; i < n; i++) {
				/* A datagram longer than the buffer would be truncated:
				 * its HEP length then cannot match, so it is rejected. */
				packet(h, iov[i].iov_base, msgs[i].msg_len, &from[i]);
			}
		}
		int64_t now = sp_mono_ms();
		hep_corr_expire(h->corr, now);
		if (h->qlen && now >= h->retry_at && (h->qlen >= BATCH_MAX || now - h->qsince >= BATCH_MS))
			flush(h);
	}
	hep_corr_flush(h->corr);
	/* Drain: a lock held elsewhere is waited out for a while, not forever. */
	int64_t give_up = sp_mono_ms() + DRAIN_MS;
	while (h->qlen && sp_mono_ms() < give_up) {
		if (sp_mono_ms() < h->retry_at)
			usleep(5000);
		else
			flush(h);
	}
	if (h->qlen) {
		metrics_add("sipprov_observations_dropped_total{reason=\"shutdown\"}", (long)h->qlen);
		log_warnx("hep: stopping with %zu observations not written: %s", h->qlen, store_errmsg(h->store));
	}
	free(bufs);
	return NULL;
}

/* "host:port" or "[v6]:port" -> its addresses (caller frees), or NULL with err. */
static struct addrinfo *resolve_listen(const char *listen, char *err, size_t errlen)
{
	char host[SP_NAME_MAX];
	const char *port;
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_PASSIVE }, *ai = NULL;
	int rc;
	long pn;

	if (listen[0] == '[') {
		const char *rb = strchr(listen, ']');
		if (!rb || rb[1] != ':')
			return sp_err(err, errlen, "hep_listen '%s': expected [address]:port", listen), NULL;
		snprintf(host, sizeof(host), "%.*s", (int)(rb - listen - 1), listen + 1);
		port = rb + 2;
	} else {
		const char *colon = strrchr(listen, ':');
		if (!colon)
			return sp_err(err, errlen, "hep_listen '%s': expected host:port", listen), NULL;
		snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
		port = colon + 1;
	}
	if (sp_parse_int(port, 1, 65535, &pn) < 0)
		return sp_err(err, errlen, "hep_listen '%s': bad port '%s'", listen, port), NULL;
	if ((rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai)) != 0)
		return sp_err(err, errlen, "hep_listen '%s': %s", listen, gai_strerror(rc)), NULL;
	return ai;
}

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

int hep_listen_check(const struct conf *conf, char *err, size_t errlen)
{
	struct policy_nets allow;
	struct addrinfo *ai;
	if (!conf->hep_listen[0])
		return 0;
	if (hep_allow_parse(conf->hep_allow, &allow, err, errlen) < 0)
		return -1;
	if (!(ai = resolve_listen(conf->hep_listen, err, errlen)))
		return -1;
	bool loopback = is_loopback(ai->ai_addr);
	freeaddrinfo(ai);
	/* Anyone who reaches the port could forge registrations (drift events,
	 * "last failure 403" in diagnose); say who may, or require the key. */
	if (!loopback && !conf->hep_allow[0] && !conf->hep_auth_key[0])
		return sp_err(err, errlen, "hep_listen '%s' is not a loopback address: set hep_allow (the "
			      "addresses or CIDRs of the SIP servers sending HEP) or hep_auth_key", conf->hep_listen);
	return 0;
}

int hep_listen_try(const struct conf *conf, int *in_use, char *err, size_t errlen)
{
	struct addrinfo *ai;
	int fd, rc = -1;
	*in_use = 0;
	if (!conf->hep_listen[0])
		return 0;
	if (!(ai = resolve_listen(conf->hep_listen, err, errlen)))
		return -1;
	if ((fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		sp_err(err, errlen, "hep_listen '%s': socket: %s", conf->hep_listen, strerror(errno));
	} else if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		*in_use = errno == EADDRINUSE;
		sp_err(err, errlen, "hep_listen '%s': cannot bind: %s", conf->hep_listen, strerror(errno));
	} else {
		rc = 0;
	}
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return rc;
}

/* Bound UDP socket on listen, or -1 with err. */
static int bind_udp(const char *listen, char *err, size_t errlen)
{
	struct addrinfo *ai = resolve_listen(listen, err, errlen);
	int fd;

	if (!ai)
		return -1;
	fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		sp_err(err, errlen, "hep_listen '%s': socket: %s", listen, strerror(errno));
		goto out;
	}
	int rcvbuf = 8 * 1024 * 1024;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		sp_err(err, errlen, "hep_listen '%s': bind: %s", listen, strerror(errno));
		close(fd);
		fd = -1;
	}
out:
	freeaddrinfo(ai);
	return fd;
}

struct hep_server *hep_server_start(const struct conf *conf, char *err, size_t errlen)
{
	struct hep_server *h = xcalloc(1, sizeof(*h));
	char why[SP_ERR_MAX];

	h->fd = -1;
	sp_strlcpy(h->auth_key, conf->hep_auth_key, sizeof(h->auth_key));
	if (hep_listen_check(conf, err, errlen) < 0 || hep_allow_parse(conf->hep_allow, &h->allow, err, errlen) < 0)
		goto fail;
	if ((h->fd = bind_udp(conf->hep_listen, err, errlen)) < 0)
		goto fail;
	if (!(h->store = store_open(conf->database, why, sizeof(why)))) {
		sp_err(err, errlen, "hep: %s", why);
		goto fail;
	}
	/* Short waits: a longer lock is retried from the loop, which keeps
	 * reading the socket meanwhile. */
	store_lock_wait(h->store, LOCK_TRY_MS, NULL, NULL);
	if (store_drift_intake_tune(h->store) < 0)
		log_warnx("hep: cannot size the intake connection: %s", store_errmsg(h->store));
	h->cache = drift_cache_new(0);
	h->corr = hep_corr_new(CORR_MAX, hep_corr_default_timeout(), server_emit, h);
	atomic_init(&h->stop, false);
	if (pthread_create(&h->thread, NULL, server_main, h) != 0) {
		sp_err(err, errlen, "hep: cannot start thread");
		goto fail;
	}
	pthread_setname_np(h->thread, "sp-hep");
	log_info("hep: listening on udp %s%s, from %s", conf->hep_listen,
		 h->auth_key[0] ? " (auth key required)" : "",
		 conf->hep_allow[0] ? conf->hep_allow : "loopback only");
	return h;
fail:
	if (h->fd >= 0)
		close(h->fd);
	hep_corr_free(h->corr);
	drift_cache_free(h->cache);
	store_close(h->store);
	free(h);
	return NULL;
}

void hep_server_stop(struct hep_server *h)
{
	if (!h)
		return;
	atomic_store(&h->stop, true);
	pthread_join(h->thread, NULL);
	close(h->fd);
	hep_corr_free(h->corr);
	drift_cache_free(h->cache);
	store_close(h->store);
	secret_wipe(h->auth_key, sizeof(h->auth_key));
	free(h->q);
	free(h);
}
