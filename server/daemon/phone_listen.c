/*
 * phone_listen.c: http_listen served without libmicrohttpd (phone_server =
 * own), a prototype measured against it (docs/performance.md).  One epoll
 * loop per thread, all on one listening socket, as nginx's workers are:
 * each loop's epoll holds it with EPOLLEXCLUSIVE, so a new connection wakes
 * one loop that is waiting, and a loop busy with a render miss leaves the
 * queue to the others (per-loop SO_REUSEPORT sockets pinned each
 * connection to a loop by its hash, busy or not).  A loop holding more
 * connections than another hands the ones it accepts over to it (its
 * inbox, woken by its eventfd), so kept-alive connections spread over the
 * loops even when one wake-up accepts a burst of them.  Per connection
 * it makes the calls nginx makes: accept4, read, one sendmsg per response
 * (headers and body together), close; no TCP_NODELAY (the response goes out
 * in one segment run anyway), no shutdown, no epoll_ctl DEL (close drops
 * the registration).  The limits are the MHD listener's: connguard.c's
 * budget and header deadline, per_ip_conn_limit, conn_timeout for an idle
 * or stalled connection, a head no larger than conn_memory_limit allows.
 * Bodies go to http.c as they arrive, by Content-Length or chunked
 * (phone_http.c decodes); a file answer (firmware) is sent by sendfile.
 * It does not route or decide answers: http.c does (http_phone_begin).
 * For https_listen a second one speaks TLS through OpenSSL (tls_ossl.c's
 * context): the same loop, with SSL_read and SSL_write in place of read
 * and send (the response is copied into one buffer, a file body is read
 * and written in records, without sendfile).
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "connguard.h"
#include "auth.h"
#include "phone_http.h"
#include "phone_listen.h"
#include "tls_ossl.h"

#define IN_FIRST   2048                 /* first read buffer; grows to the head cap */
#define IP_SLOTS   16384                /* sources tracked for per_ip_conn_limit */
#define EVENTS     128
#define SPARE_MAX  64                   /* closed connections a loop keeps for its next ones */
#define OUT_HEAD   (1024 + 2 * AUTH_CHALLENGE_MAX)

enum pc_state { PC_HEAD, PC_BODY };

struct pconn {
	struct pconn *prev, *next;          /* the loop's connections, for the timeout sweep */
	struct loop *lp;
	int fd;
	void *guard;                        /* connguard's entry */
	int ip_slot;                        /* per-source count, -1 none */
	struct sockaddr_storage peer;
	long long active;                   /* monotonic ms of the last progress */
	char *in;
	size_t inlen, incap;
	enum pc_state state;
	long head_len;                      /* PC_BODY: the parsed head's length in 'in' */
	struct phone_head head;             /* points into in */
	struct phone_req q;
	struct req *rq;                     /* PC_BODY: http.c's request awaiting its body */
	long long bodyleft;                 /* PC_BODY: body bytes still to come (Content-Length) */
	bool chunked;                       /* PC_BODY: the body is chunked, decoded by chunk */
	bool body_done;                     /* ... and its last chunk and trailers came */
	struct phone_chunked chunk;
	char *pend;                         /* bytes read past a body (chunked, or over TLS): the next request's */
	size_t pendlen;
	char *out;                          /* unsent response bytes */
	size_t outlen, outoff;
	int ffd;                            /* a file body still being sent after out, -1 none */
	off_t foff;
	uint64_t fleft;
	bool close_after;
	bool linger;                        /* close with unread input: drain first (no RST) */
	bool lingering;                     /* answered, write side shut, draining until EOF */
	bool registered;                    /* in the loop's epoll set */
	SSL *ssl;                           /* https_listen: the TLS session, else NULL */
	bool tls_wantw;                     /* SSL_read waits for the socket to take bytes */
	bool tls_dead;                      /* the session failed: no close_notify */
	bool tls_counted;                   /* its handshake is in sipprov_tls_handshakes_total */
	bool tls_more;                      /* reading stopped short of WANT_READ: OpenSSL may hold bytes */
	size_t consumed;                    /* bytes of 'in' the answered request used */
};

/* An accepted connection on its way to another loop. */
struct handoff {
	int fd, slot;
	SSL *ssl;
	struct sockaddr_storage peer;
};

struct loop {
	struct phone_listen *pl;
	pthread_t thr;
	int ep, wake;
	struct pconn *head;
	struct pconn *spare;                /* closed ones to reuse, with their first read buffer */
	int nspare;
	long long swept;
	atomic_long nconn;                  /* its connections, with those handed to it */
	pthread_mutex_t in_mu;              /* inbox: connections other loops handed over */
	struct handoff *in;
	size_t inlen, incap;
};

struct ip_ent {
	unsigned char a[16];
	int n;
	bool used;
};

struct phone_listen {
	struct http_server *h;
	const struct conf *cf;
	struct connguard *guard;
	bool tls;
	const char *key;                    /* "http_listen" or "https_listen", for errors */
	unsigned nloops;
	struct loop *loops;
	int lfd;                            /* the loops' one listening socket */
	unsigned port;
	atomic_bool stop;
	long max_conns;                     /* over the loops' nconn together */
	size_t head_cap;
	pthread_mutex_t ip_mu;
	struct ip_ent *ips;
};

/* ---- per_ip_conn_limit ---- */

static void ip_key(const struct sockaddr_storage *ss, unsigned char a[16])
{
	memset(a, 0, 16);
	if (ss->ss_family == AF_INET)
		memcpy(a + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	else if (ss->ss_family == AF_INET6)
		memcpy(a, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
}

/* The slot counting this source, -1 when no limit applies; -2 over it. */
static int ip_take(struct phone_listen *pl, const struct sockaddr_storage *ss)
{
	long lim = pl->cf->per_ip_conn_limit;
	unsigned char a[16];
	if (lim <= 0)
		return -1;
	ip_key(ss, a);
	uint64_t x = 1469598103934665603ull;
	for (int i = 0; i < 16; i++)
		x = (x ^ a[i]) * 1099511628211ull;
	size_t i = x % IP_SLOTS;
	int found = -1, free_slot = -1;
	pthread_mutex_lock(&pl->ip_mu);
	for (size_t k = 0; k < IP_SLOTS; k++, i = (i + 1) % IP_SLOTS) {
		struct ip_ent *e = &pl->ips[i];
		if (!e->used) {
			if (free_slot < 0)
				free_slot = (int)i;
			break;
		}
		if (!memcmp(e->a, a, 16)) {
			found = (int)i;
			break;
		}
		if (!e->n && free_slot < 0)
			free_slot = (int)i;   /* a source gone: reusable, the chain stays intact */
	}
	if (found < 0 && free_slot >= 0) {
		found = free_slot;
		memcpy(pl->ips[found].a, a, 16);
		pl->ips[found].used = true;
		pl->ips[found].n = 0;
	}
	if (found >= 0 && pl->ips[found].n >= lim)
		found = -2;
	else if (found >= 0)
		pl->ips[found].n++;
	pthread_mutex_unlock(&pl->ip_mu);
	return found;                       /* table full of live sources: not limited */
}

static void ip_give(struct phone_listen *pl, int slot)
{
	if (slot < 0)
		return;
	pthread_mutex_lock(&pl->ip_mu);
	pl->ips[slot].n--;
	pthread_mutex_unlock(&pl->ip_mu);
}

/* ---- connections ---- */

/* close_notify, best effort, on a session whose handshake finished. */
static void tls_notify(struct pconn *c)
{
	if (c->ssl && !c->tls_dead && SSL_is_init_finished(c->ssl))
		SSL_shutdown(c->ssl);
}

static void conn_close(struct pconn *c)
{
	struct loop *lp = c->lp;
	struct phone_listen *pl = lp->pl;
	if (c->rq)
		http_phone_abort(pl->h, c->rq);
	if (c->ffd >= 0)
		close(c->ffd);
	connguard_closed(pl->guard, &c->guard);
	ip_give(pl, c->ip_slot);
	atomic_fetch_sub(&lp->nconn, 1);
	if (!c->lingering)
		tls_notify(c);              /* a lingering one sent it already */
	if (c->ssl) {
		SSL_free(c->ssl);
		ERR_clear_error();
	}
	close(c->fd);                       /* drops the epoll registration too */
	if (c->prev)
		c->prev->next = c->next;
	else
		lp->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->out);
	free(c->pend);
	/* Kept for the next connection: a boot storm opens three per phone,
	 * and a 2 KiB struct and its read buffer from the heap each time
	 * were 1.3% of sipprovd's CPU (perf). */
	if (lp->nspare < SPARE_MAX && c->incap == IN_FIRST) {
		c->next = lp->spare;
		lp->spare = c;
		lp->nspare++;
		return;
	}
	free(c->in);
	free(c);
}

static const char *reason(unsigned st)
{
	switch (st) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Content Too Large";
	case 416: return "Range Not Satisfiable";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* The Date header, formatted once a second per thread. */
static const char *http_date(void)
{
	static _Thread_local time_t last;
	static _Thread_local char s[40];
	time_t now = time(NULL);
	if (now != last) {
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(s, sizeof(s), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		last = now;
	}
	return s;
}

/* One read into buf: the bytes read; 0 at the end or on an error (close);
 * -1 when nothing more can be read now. */
static ssize_t conn_read(struct pconn *c, void *buf, size_t len)
{
	if (!c->ssl) {
		ssize_t r = read(c->fd, buf, len);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return -1;
		return r < 0 ? 0 : r;
	}
	ERR_clear_error();
	int r = SSL_read(c->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	if (r > 0) {
		if (!c->tls_counted) {
			/* Whether phones resume: one reading an admin can check. */
			c->tls_counted = true;
			metrics_inc(SSL_session_reused(c->ssl) ? "sipprov_tls_handshakes_total{resumed=\"yes\"}"
							       : "sipprov_tls_handshakes_total{resumed=\"no\"}");
		}
		return r;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		return -1;
	if (e == SSL_ERROR_WANT_WRITE) {
		c->tls_wantw = true;        /* a handshake flight the socket did not take */
		return -1;
	}
	c->tls_dead = e != SSL_ERROR_ZERO_RETURN;
	return 0;
}

/* One write of len > 0 bytes: the bytes taken, -1 when the socket is
 * full (retry with the same bytes), -2 on an error. */
static ssize_t conn_write(struct pconn *c, const void *buf, size_t len)
{
	if (!c->ssl) {
		ssize_t w = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (w >= 0)
			return w;
		return errno == EAGAIN || errno == EINTR ? -1 : -2;
	}
	ERR_clear_error();
	int w = SSL_write(c->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	if (w > 0)
		return w;
	if (SSL_get_error(c->ssl, w) == SSL_ERROR_WANT_WRITE)
		return -1;
	c->tls_dead = true;
	return -2;
}

static void want_out(struct pconn *c, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLOUT : EPOLLIN | EPOLLRDHUP, .data.ptr = c };
	epoll_ctl(c->lp->ep, c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev);
	c->registered = true;
}

#define LINGER_MS 2000                  /* how long unread input is drained after an answer */

/* Closed after its answer.  When the client's bytes were not all read (a
 * refused head or body), a plain close would send RST and the client
 * could lose the answer: shut the write side and drain for a while first
 * (the only shutdown this listener makes; the common close has none). */
static void conn_end(struct pconn *c)
{
	if (!c->linger) {
		conn_close(c);
		return;
	}
	tls_notify(c);
	shutdown(c->fd, SHUT_WR);
	c->lingering = true;
	if (!c->registered)
		want_out(c, false);         /* answered at accept: now wait for EOF */
	c->active = sp_mono_ms() - c->lp->pl->cf->conn_timeout * 1000 + LINGER_MS;
}

/* The request is answered: back to waiting for the next head (or close). */
static void conn_next(struct pconn *c)
{
	struct phone_listen *pl = c->lp->pl;
	connguard_request_done(pl->guard, c->guard);
	if (c->consumed < c->inlen)
		memmove(c->in, c->in + c->consumed, c->inlen - c->consumed);
	c->inlen -= c->consumed;
	c->consumed = 0;
	if (c->pend) {
		if (c->inlen + c->pendlen > c->incap) {
			c->incap = c->inlen + c->pendlen;
			c->in = xrealloc(c->in, c->incap);
		}
		memcpy(c->in + c->inlen, c->pend, c->pendlen);
		c->inlen += c->pendlen;
		free(c->pend);
		c->pend = NULL;
	}
	c->state = PC_HEAD;
}

#define FILE_SLICE (4 << 20)            /* file bytes sent per wake-up, so one download cannot hold a loop */

/* Send what is pending: the rest of out, then the file body.  Returns 1
 * when all is sent, 0 when the socket is full (or the slice was sent:
 * EPOLLOUT comes back at once) and -1 on an error (not closed here). */
static int conn_flush(struct pconn *c)
{
	while (c->out && c->outoff < c->outlen) {
		ssize_t w = conn_write(c, c->out + c->outoff, c->outlen - c->outoff);
		if (w < 0)
			return w == -1 ? 0 : -1;
		c->active = sp_mono_ms();
		c->outoff += (size_t)w;
	}
	free(c->out);
	c->out = NULL;
	uint64_t slice = FILE_SLICE;
	while (c->ffd >= 0 && c->fleft) {
		if (!slice)
			return 0;
		size_t n = c->fleft < slice ? (size_t)c->fleft : (size_t)slice;
		ssize_t w;
		if (c->ssl) {
			/* A record's worth; a retry reads the same bytes again. */
			char rec[16384];
			w = pread(c->ffd, rec, n < sizeof(rec) ? n : sizeof(rec), c->foff);
			if (w > 0 && (w = conn_write(c, rec, (size_t)w)) < 0)
				return w == -1 ? 0 : -1;
			if (w > 0)
				c->foff += w;
		} else {
			w = sendfile(c->fd, c->ffd, &c->foff, n);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return errno == EAGAIN ? 0 : -1;
		}
		if (w <= 0)
			return -1;          /* the file shrank under us: the promised length cannot be kept */
		c->active = sp_mono_ms();
		c->fleft -= (uint64_t)w;
		slice -= (uint64_t)w;
	}
	if (c->ffd >= 0) {
		close(c->ffd);
		c->ffd = -1;
	}
	return 1;
}

static bool conn_sending(const struct pconn *c)
{
	return c->out || c->ffd >= 0;
}

/* A response head being written: strings appended, cut to fit (not
 * reached: every header is bounded, OUT_HEAD holds them all).  Five
 * snprintf calls made 4% of a boot storm's user-space instructions. */
struct head {
	char b[OUT_HEAD];
	size_t n;
};

static void head_add(struct head *h, const char *s)
{
	size_t l = strlen(s), room = sizeof(h->b) - 1 - h->n;
	memcpy(h->b + h->n, s, l < room ? l : room);
	h->n += l < room ? l : room;
}

static void head_field(struct head *h, const char *name, const char *value)
{
	head_add(h, name);
	head_add(h, value);
	head_add(h, "\r\n");
}

/* Headers and body in one sendmsg (a file body follows by sendfile);
 * what the socket does not take now waits for EPOLLOUT.  Returns false
 * when the connection was closed. */
static bool conn_send(struct pconn *c, struct phone_resp *r, bool head_only, bool close)
{
	struct head h = { .n = 0 };
	char num[24];
	head_add(&h, "HTTP/1.1 ");
	head_add(&h, sp_ltoa(r->status, num, sizeof(num)));
	head_add(&h, " ");
	head_add(&h, reason(r->status));
	head_add(&h, "\r\n");
	if (r->ctype)
		head_field(&h, "Content-Type: ", r->ctype);
	if (r->cache)
		head_field(&h, "Cache-Control: ", r->cache);
	if (r->etag[0])
		head_field(&h, "ETag: ", r->etag);
	if (r->ranges)
		head_field(&h, "Accept-Ranges: ", "bytes");
	if (r->range[0])
		head_field(&h, "Content-Range: ", r->range);
	if (r->retry_after)
		head_field(&h, "Retry-After: ", r->retry_after);
	if (r->challenge) {
		char hv[2][AUTH_CHALLENGE_MAX];
		auth_challenge_values(hv, r->stale);
		for (int i = 0; i < 2; i++)
			head_field(&h, "WWW-Authenticate: ", hv[i]);
	}
	close |= r->close;
	if (close)
		head_field(&h, "Connection: ", "close");
	head_field(&h, "Content-Length: ", sp_ltoa((long)r->len, num, sizeof(num)));
	head_field(&h, "Date: ", http_date());
	head_add(&h, "\r\n");
	char *hb = h.b;
	int n = (int)h.n;
	size_t blen = head_only || r->status == 304 || r->status == 204 ? 0 : r->len;
	/* A file body: the head waits in the socket (MSG_MORE) for sendfile's
	 * first bytes, so the two leave in full segments. */
	bool file = r->file && blen;
	size_t mlen = file ? 0 : blen;
	struct iovec iov[2] = { { hb, (size_t)n }, { (void *)r->body, mlen } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = mlen ? 2 : 1 };
	/* TLS: all of it goes to our buffer, for one SSL_write. */
	ssize_t w = c->ssl ? 0 : sendmsg(c->fd, &mh, MSG_NOSIGNAL | (file ? MSG_MORE : 0));
	size_t total = (size_t)n + mlen;
	if (file) {
		c->ffd = r->fd;
		c->foff = (off_t)r->off;
		c->fleft = blen;
		r->file = false;
	}
	if (w < 0 && errno != EAGAIN && errno != EINTR) {
		phone_resp_reset(r);
		conn_close(c);
		return false;
	}
	if (w < 0)
		w = 0;
	c->active = sp_mono_ms();
	c->close_after = close;
	if ((size_t)w < total) {
		/* The rest waits in our buffer (a slow reader; conn_timeout bounds it). */
		c->outlen = total - (size_t)w;
		c->out = xmalloc(c->outlen);
		c->outoff = 0;
		size_t skip = (size_t)w, o = 0;
		for (int i = 0; i < 2; i++) {
			size_t l = i ? mlen : (size_t)n;
			const char *b = i ? r->body : hb;
			if (skip >= l) {
				skip -= l;
				continue;
			}
			memcpy(c->out + o, b + skip, l - skip);
			o += l - skip;
			skip = 0;
		}
	}
	phone_resp_reset(r);                /* frees owned, closes a file not sent (HEAD, 304) */
	int f = conn_flush(c);
	if (f < 0) {
		conn_close(c);
		return false;
	}
	if (!f) {
		want_out(c, true);
		return true;
	}
	if (close) {
		conn_end(c);
		return false;
	}
	conn_next(c);
	return true;
}

/* An answer of the listener's own: the head could not be parsed. */
static void conn_refuse(struct pconn *c, unsigned st)
{
	static const char bad[] = "bad request\n", big[] = "request header fields too large\n",
			  ver[] = "HTTP version not supported\n", large[] = "body too large\n";
	struct phone_resp r = { .status = st, .ctype = "text/plain; charset=utf-8" };
	r.body = st == 431 ? big : st == 505 ? ver : st == 413 ? large : bad;
	r.len = strlen(r.body);
	c->linger = true;
	conn_send(c, &r, false, true);
}

/* Chunked body bytes at buf[0, len): what they carry goes to http.c as it
 * is decoded (its caps and body_hold_limit count it, as with
 * libmicrohttpd).  in_buf: buf lies in 'in', where bytes past the body
 * stay for conn_next; else they are kept in pend.  A framing error is
 * answered here and the connection closed: false then. */
static bool conn_chunks(struct pconn *c, char *buf, size_t len, bool in_buf)
{
	struct phone_listen *pl = c->lp->pl;
	size_t used, out;
	int rc = phone_chunked_decode(&c->chunk, buf, len, &used, &out);
	if (out && rc >= 0)
		http_phone_body(pl->h, &c->q, c->rq, buf, out);
	if (rc < 0) {
		struct req *rq = c->rq;
		c->rq = NULL;
		http_phone_abort(pl->h, rq);
		conn_refuse(c, rc == PHONE_CHUNK_TOO_BIG ? 413 : rc == PHONE_CHUNK_TRAILER_BIG ? 431 : 400);
		return false;
	}
	if (in_buf)
		c->consumed += used;
	if (rc == PHONE_CHUNK_DONE) {
		c->body_done = true;
		if (!in_buf && used < len) {
			c->pendlen = len - used;
			c->pend = xmalloc(c->pendlen);
			memcpy(c->pend, buf + used, c->pendlen);
		}
	}
	return true;
}

/* http_phone_finish freed rq.  false when the connection was closed. */
static bool conn_answer(struct pconn *c)
{
	c->rq = NULL;
	return conn_send(c, &c->q.resp, !strcmp(c->head.method, "HEAD"), !c->head.keep_alive);
}

/* Parse and answer what has arrived.  Returns false when closed. */
static bool conn_process(struct pconn *c)
{
	struct phone_listen *pl = c->lp->pl;
	while (!conn_sending(c)) {
		if (c->state == PC_BODY) {
			if (c->chunked ? !c->body_done : c->bodyleft != 0)
				return true;
			http_phone_finish(pl->h, &c->q, c->rq);
			if (!conn_answer(c))
				return false;
			continue;
		}
		if (!c->inlen)
			return true;
		long hl = phone_http_parse(c->in, c->inlen, pl->head_cap, &c->head);
		if (hl == PHONE_PARSE_MORE)
			return true;
		if (hl < 0) {
			conn_refuse(c, hl == PHONE_PARSE_TOO_BIG ? 431 : hl == PHONE_PARSE_VERSION ? 505 : 400);
			return false;
		}
		connguard_headers_done(pl->guard, c->guard);
		c->q = (struct phone_req){ .method = c->head.method, .url = c->head.url, .proto = c->head.proto,
					   .peer = (struct sockaddr *)&c->peer, .tls = pl->tls, .ssl = c->ssl,
					   .hdr = c->head.hdr, .nhdr = c->head.nhdr };
		long long cl = c->head.content_length;
		bool body = c->head.chunked || cl == -2 || cl > 0;
		c->rq = http_phone_begin(pl->h, &c->q);
		c->consumed = (size_t)hl;
		if (c->q.resp.status) {
			/* Answered on the headers: a body announced is never read,
			 * so the connection cannot go on (as libmicrohttpd does). */
			struct req *rq = c->rq;
			c->rq = NULL;
			http_phone_abort(pl->h, rq);
			c->linger = body;
			if (!conn_send(c, &c->q.resp, !strcmp(c->head.method, "HEAD"), body || !c->head.keep_alive))
				return false;
			continue;
		}
		if (!body) {
			http_phone_finish(pl->h, &c->q, c->rq);
			if (!conn_answer(c))
				return false;
			continue;
		}
		/* Expect: 100-continue (libcurl sends it for a body over 1 KiB):
		 * the interim answer libmicrohttpd gives once the headers are
		 * accepted (even when body bytes came already, as it does).  A
		 * connection with nothing unsent takes 25 bytes; if not, the
		 * client waits its timeout and sends anyway. */
		const char *ex = phone_header(&c->q, "Expect");
		if (!c->head.http10 && ex && !strcasecmp(ex, "100-continue") &&
		    conn_write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0 && c->ssl) {
			/* A TLS write not taken must be retried as it was, before
			 * the answer: a client that reads nothing is dropped. */
			struct req *rq = c->rq;
			c->rq = NULL;
			http_phone_abort(pl->h, rq);
			conn_close(c);
			return false;
		}
		c->state = PC_BODY;
		c->chunked = c->head.chunked;
		c->body_done = false;
		if (c->chunked) {
			/* http.c let only "Transfer-Encoding: chunked" alone through. */
			phone_chunked_init(&c->chunk, pl->head_cap);
			if (!conn_chunks(c, c->in + hl, c->inlen - (size_t)hl, true))
				return false;
			continue;
		}
		if (cl < 0) {
			/* A Content-Length that is not one number: no body to find. */
			struct req *rq = c->rq;
			c->rq = NULL;
			http_phone_abort(pl->h, rq);
			conn_refuse(c, 400);
			return false;
		}
		/* The body goes to http.c as it arrives, as libmicrohttpd hands
		 * it over: body_hold_limit counts what every connection holds. */
		size_t have = c->inlen - (size_t)hl < (size_t)cl ? c->inlen - (size_t)hl : (size_t)cl;
		if (have)
			http_phone_body(pl->h, &c->q, c->rq, c->in + hl, have);
		c->bodyleft = cl - (long long)have;
		/* What followed the body in 'in' (a pipelined request) stays for
		 * conn_next; the rest of the body is read past 'in'. */
		c->consumed = (size_t)hl + have;
	}
	return true;
}

/* Read what has arrived into 'in' (or a body to http.c).  Over TLS
 * OpenSSL reads ahead (as in nginx: one read takes several records, not a
 * record's header and then its body), so bytes can wait inside it where
 * epoll cannot see them: a TLS connection is read until WANT_READ, and
 * where there was no room to (a body complete, the head buffer full)
 * tls_more says to read it again once the answer is out.  -1 when the
 * connection was closed. */
static int conn_fill(struct pconn *c)
{
	struct phone_listen *pl = c->lp->pl;
	bool drained = false;               /* read until the socket had nothing (WANT_READ, EAGAIN) */
	for (;;) {
		char *dst, chunk[16384];
		size_t room;
		if (c->state == PC_BODY) {
			/* A chunked body's end is found by reading past it: what
			 * follows it is kept (pend) for the next request. */
			dst = chunk;
			if (c->chunked)
				room = c->body_done ? 0 : sizeof(chunk);
			else if (c->ssl)
				/* A whole record: what follows the body in it is
				 * kept (pend) as for a chunked one, and the records
				 * after it wait in OpenSSL (tls_more). */
				room = c->bodyleft ? sizeof(chunk) : 0;
			else
				room = c->bodyleft < (long long)sizeof(chunk) ? (size_t)c->bodyleft : sizeof(chunk);
			if (!room)
				break;
		} else {
			if (c->inlen == c->incap) {
				if (c->incap >= pl->head_cap)
					break;      /* parse says 431 */
				size_t nc = c->incap * 2 < pl->head_cap ? c->incap * 2 : pl->head_cap;
				char *ni = realloc(c->in, nc);
				if (!ni)
					break;
				c->in = ni;
				c->incap = nc;
			}
			dst = c->in + c->inlen;
			room = c->incap - c->inlen;
		}
		ssize_t r = conn_read(c, dst, room);
		if (r == 0) {
			conn_close(c);
			return -1;
		}
		if (r < 0) {
			drained = true;
			break;
		}
		c->active = sp_mono_ms();
		if (c->state == PC_BODY && c->chunked) {
			if (!conn_chunks(c, chunk, (size_t)r, false))
				return -1;
		} else if (c->state == PC_BODY) {
			size_t take = (long long)r < c->bodyleft ? (size_t)r : (size_t)c->bodyleft;
			http_phone_body(pl->h, &c->q, c->rq, chunk, take);
			c->bodyleft -= (long long)take;
			if (take < (size_t)r) {
				c->pendlen = (size_t)r - take;
				c->pend = xmalloc(c->pendlen);
				memcpy(c->pend, chunk + take, c->pendlen);
			}
		} else
			c->inlen += (size_t)r;
		if ((size_t)r < room && !c->ssl)
			break;
	}
	/* Not after WANT_READ: a partial record pending there is the socket's
	 * to complete, and reading again at once would find nothing. */
	c->tls_more = c->ssl && !drained && SSL_has_pending(c->ssl);
	return 0;
}

/* false when the connection was closed. */
static bool conn_readable(struct pconn *c)
{
	if (c->lingering) {
		char sink[4096];
		ssize_t r;
		while ((r = read(c->fd, sink, sizeof(sink))) > 0)
			;
		if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
			conn_close(c);
			return false;
		}
		return true;
	}
	do {
		if (conn_fill(c) < 0)
			return false;
		if (c->tls_wantw) {
			want_out(c, true);  /* loop_main reads again once it is writable */
			return true;
		}
		if (!conn_process(c))
			return false;
	} while (c->tls_more && !conn_sending(c) && !c->lingering);
	return true;
}

static void conn_writable(struct pconn *c)
{
	int f = conn_flush(c);
	if (f < 0) {
		conn_close(c);
		return;
	}
	if (!f)
		return;
	if (c->close_after) {
		want_out(c, false);
		conn_end(c);
		return;
	}
	want_out(c, false);
	conn_next(c);
	if (conn_process(c) && c->tls_more && !conn_sending(c))
		conn_readable(c);           /* what OpenSSL read ahead */
}

static void conn_start(struct loop *lp, const struct handoff *a)
{
	struct phone_listen *pl = lp->pl;
	struct pconn *c = lp->spare;
	char *in = NULL;
	if (c) {
		lp->spare = c->next;
		lp->nspare--;
		in = c->in;
	} else {
		c = xmalloc(sizeof(*c));
	}
	memset(c, 0, sizeof(*c));
	c->lp = lp;
	c->fd = a->fd;
	c->ffd = -1;
	c->ip_slot = a->slot;
	c->ssl = a->ssl;
	c->peer = a->peer;
	c->active = sp_mono_ms();
	c->in = in ? in : xmalloc(IN_FIRST);
	c->incap = IN_FIRST;
	c->next = lp->head;
	if (lp->head)
		lp->head->prev = c;
	lp->head = c;
	connguard_started(pl->guard, c->fd, &c->guard);
	/* The listening socket defers accept until the request's first
	 * bytes are in (TCP_DEFER_ACCEPT): read and answer now, and a
	 * one-request connection closes without ever entering epoll. */
	if (conn_readable(c) && !c->registered)
		want_out(c, conn_sending(c));
}

/* The loop a new connection goes to: this one, unless it holds more than
 * one connection over the loop holding fewest; *total: the connections of
 * all the loops, for max_conns.  One loop's wake-up can
 * accept a whole burst (64 at a time): kept-alive connections (a proxy's,
 * a load generator's) would then all stay on one loop and one CPU while
 * the others idle.  A connection answered and closed at accept, as most of
 * a boot storm's are, never counts long enough to move. */
static struct loop *loop_pick(struct loop *lp, long *total)
{
	struct phone_listen *pl = lp->pl;
	struct loop *min = lp;
	long mine = atomic_load(&lp->nconn), least = mine;
	*total = 0;
	for (unsigned i = 0; i < pl->nloops; i++) {
		long n = atomic_load(&pl->loops[i].nconn);
		*total += n;
		if (n < least) {
			least = n;
			min = &pl->loops[i];
		}
	}
	return mine > least + 1 ? min : lp;
}

static void loop_hand(struct loop *to, const struct handoff *a)
{
	uint64_t one = 1;
	pthread_mutex_lock(&to->in_mu);
	if (to->inlen == to->incap) {
		to->incap = to->incap ? to->incap * 2 : 16;
		to->in = xrealloc(to->in, to->incap * sizeof(*to->in));
	}
	to->in[to->inlen++] = *a;
	pthread_mutex_unlock(&to->in_mu);
	/* It cannot fail short of a counter at 2^64 - 1: the loop reads it
	 * at every wake-up. */
	(void)!write(to->wake, &one, sizeof(one));
}

/* The connections other loops handed to this one. */
static void loop_inbox(struct loop *lp)
{
	uint64_t n;
	(void)!read(lp->wake, &n, sizeof(n));
	pthread_mutex_lock(&lp->in_mu);
	struct handoff *in = lp->in;
	size_t len = lp->inlen;
	lp->in = NULL;
	lp->inlen = lp->incap = 0;
	pthread_mutex_unlock(&lp->in_mu);
	for (size_t i = 0; i < len; i++)
		conn_start(lp, &in[i]);
	free(in);
}

static void loop_accept(struct loop *lp)
{
	struct phone_listen *pl = lp->pl;
	for (int k = 0; k < 64; k++) {
		struct handoff a = { .ssl = NULL };
		socklen_t sl = sizeof(a.peer);
		a.fd = accept4(pl->lfd, (struct sockaddr *)&a.peer, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (a.fd < 0)
			return;
		long total;
		struct loop *to = loop_pick(lp, &total);
		if (total >= pl->max_conns) {
			close(a.fd);
			continue;
		}
		a.slot = ip_take(pl, &a.peer);
		if (a.slot == -2 || (pl->tls && !(a.ssl = tls_ossl_new(a.fd)))) {
			ip_give(pl, a.slot);
			close(a.fd);
			continue;
		}
		atomic_fetch_add(&to->nconn, 1);
		if (to == lp)
			conn_start(lp, &a);
		else
			loop_hand(to, &a);
	}
}

/* conn_timeout: a connection without progress that long is closed (the
 * header deadline is connguard's, run by its reaper). */
static void loop_sweep(struct loop *lp, long long now)
{
	long long lim = lp->pl->cf->conn_timeout * 1000;
	for (struct pconn *c = lp->head, *n; c; c = n) {
		n = c->next;
		if (now - c->active >= lim)
			conn_close(c);
	}
	lp->swept = now;
}

static void *loop_main(void *arg)
{
	struct loop *lp = arg;
	struct phone_listen *pl = lp->pl;
	struct epoll_event ev[EVENTS];
	while (!atomic_load(&pl->stop)) {
		int n = epoll_wait(lp->ep, ev, EVENTS, 1000);
		for (int i = 0; i < n; i++) {
			void *p = ev[i].data.ptr;
			if (p == &pl->lfd) {
				loop_accept(lp);
			} else if (p == &lp->wake) {
				loop_inbox(lp);
			} else {
				struct pconn *c = p;
				if (c->tls_wantw) {
					c->tls_wantw = false;
					want_out(c, false);
					conn_readable(c);
				} else if (conn_sending(c) && (ev[i].events & EPOLLOUT))
					conn_writable(c);
				else if (ev[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
					conn_readable(c);
			}
		}
		long long now = sp_mono_ms();
		if (now - lp->swept >= 1000)
			loop_sweep(lp, now);
	}
	while (lp->head)
		conn_close(lp->head);
	while (lp->spare) {
		struct pconn *c = lp->spare;
		lp->spare = c->next;
		free(c->in);
		free(c);
	}
	return NULL;
}

/* Without SO_REUSEPORT: no other process (a second sipprovd of this user)
 * can join the port and take part of the phones; a port in use fails, as
 * libmicrohttpd's does. */
static int listen_socket(const struct sockaddr_storage *ss, const char *key, unsigned *bound, char *err,
			 size_t errlen)
{
	struct sockaddr_storage a = *ss;
	socklen_t al = a.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int one = 1;
	int fd = socket(a.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sp_err(err, errlen, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Accept once data has come (at most 1 s; then the kernel hands the
	 * connection over anyway and connguard's header deadline runs). */
	setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, al) < 0 || listen(fd, 1024) < 0) {
		close(fd);
		return sp_err(err, errlen, "cannot listen on %s: %s", key, strerror(errno));
	}
	getsockname(fd, (struct sockaddr *)&a, &al);
	*bound = ntohs(a.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&a)->sin6_port
						: ((struct sockaddr_in *)&a)->sin_port);
	return fd;
}

struct phone_listen *phone_listen_start(struct http_server *h, const struct conf *cf,
					const struct sockaddr_storage *ss, bool tls, unsigned threads, char *err,
					size_t errlen)
{
	const char *key = tls ? "https_listen" : "http_listen";
	unsigned port = 0;
	int lfd = listen_socket(ss, key, &port, err, errlen);
	if (lfd < 0)
		return NULL;
	struct phone_listen *pl = xcalloc(1, sizeof(*pl));
	pl->h = h;
	pl->tls = tls;
	pl->key = key;
	pl->lfd = lfd;
	pl->port = port;
	pl->cf = cf;
	pl->guard = http_server_guard(h);
	/* The MHD listener's cap on open connections (above connguard's budget,
	 * so a full server still accepts and sheds the oldest waiting one). */
	pl->max_conns = cf->conn_limit + cf->conn_limit / 4 + 64;
	/* libmicrohttpd reads a head into its conn_memory_limit pool, about
	 * half of which its read buffer may take. */
	pl->head_cap = (size_t)cf->conn_memory_limit / 2;
	pthread_mutex_init(&pl->ip_mu, NULL);
	pl->ips = xcalloc(IP_SLOTS, sizeof(*pl->ips));
	pl->loops = xcalloc(threads, sizeof(*pl->loops));
	for (unsigned i = 0; i < threads; i++) {
		struct loop *lp = &pl->loops[i];
		lp->pl = pl;
		lp->ep = epoll_create1(EPOLL_CLOEXEC);
		lp->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		struct epoll_event le = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &pl->lfd };
		struct epoll_event we = { .events = EPOLLIN, .data.ptr = &lp->wake };
		epoll_ctl(lp->ep, EPOLL_CTL_ADD, pl->lfd, &le);
		epoll_ctl(lp->ep, EPOLL_CTL_ADD, lp->wake, &we);
		lp->swept = sp_mono_ms();
		pthread_mutex_init(&lp->in_mu, NULL);
	}
	pl->nloops = threads;
	for (unsigned i = 0; i < threads; i++) {
		char name[16];
		snprintf(name, sizeof(name), "sp-%s/%u", tls ? "https" : "http", i % 1000);
		pthread_create(&pl->loops[i].thr, NULL, loop_main, &pl->loops[i]);
		pthread_setname_np(pl->loops[i].thr, name);
	}
	return pl;
}

unsigned phone_listen_port(const struct phone_listen *pl)
{
	return pl ? pl->port : 0;
}

void phone_listen_stop(struct phone_listen *pl)
{
	if (!pl)
		return;
	atomic_store(&pl->stop, true);
	for (unsigned i = 0; i < pl->nloops; i++) {
		uint64_t one = 1;
		/* A failed write still stops the loop, within its 1 s wait. */
		(void)!write(pl->loops[i].wake, &one, sizeof(one));
	}
	for (unsigned i = 0; i < pl->nloops; i++)
		pthread_join(pl->loops[i].thr, NULL);
	for (unsigned i = 0; i < pl->nloops; i++) {
		struct loop *lp = &pl->loops[i];
		/* Handed over as the loops stopped: never started. */
		for (size_t k = 0; k < lp->inlen; k++) {
			struct handoff *a = &lp->in[k];
			if (a->ssl)
				SSL_free(a->ssl);
			ip_give(pl, a->slot);
			close(a->fd);
		}
		free(lp->in);
		pthread_mutex_destroy(&lp->in_mu);
		close(lp->ep);
		close(lp->wake);
	}
	close(pl->lfd);
	free(pl->loops);
	free(pl->ips);
	pthread_mutex_destroy(&pl->ip_mu);
	free(pl);
}
