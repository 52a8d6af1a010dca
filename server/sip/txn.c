/*
 * txn.c: the one SIP client transaction layer (RFC 3261 17.1.2, non-INVITE):
 * bounded DNS, a non-blocking connect (trying the next address on a
 * refusal), TLS via OpenSSL, the request written once the local address is
 * known, responses matched by top Via branch and CSeq method, and over UDP
 * Timer E (T1 doubling to T2; T2 once proceeding), Timer F (the caller's
 * bound) and Timer K (T4 absorbing retransmitted finals).  A caller drives
 * many with its own poll() or one with sip_txn_run.  No INVITE, no server
 * side, no connection reuse.  OpenSSL ownership: struct sip_tls owns its
 * SSL_CTX; each transaction owns its SSL and frees it when it closes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "sip.h"
#include "core/sipprov.h"

struct sip_tls {
	SSL_CTX *ctx;
};

int64_t sip_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline)
{
	int64_t l = deadline - sip_now_ms();
	return l < 0 ? 0 : l > 60000 ? 60000 : (int)l;
}

const char *sip_tx_result_name(enum sip_tx_result r)
{
	static const char *const names[] = { "pending", "final", "dns", "refused", "timeout", "tls",
					     "closed", "error" };
	return r <= SIP_TX_ERROR ? names[r] : "error";
}

/* ---- DNS ---- */

/* getaddrinfo_a so the lookup itself is bounded.  On timeout the request
 * is cancelled; if glibc cannot cancel it (already running) the request
 * block is deliberately leaked: the resolver thread still writes to it.
 * "No such name" (an answer) is told apart from a resolver that failed. */
static int gai_fail(int rc)
{
#ifdef EAI_NODATA
	if (rc == EAI_NODATA)
		return -2;
#endif
	return rc == EAI_NONAME ? -2 : -1;
}

int sip_resolve(const char *host, int socktype, long timeout_ms, struct addrinfo **res, char *err,
		size_t errlen)
{
	struct addrinfo num = { .ai_flags = AI_NUMERICHOST, .ai_socktype = socktype };
	struct gaicb *req, *list[1];
	struct addrinfo *hints;
	int64_t deadline = sip_now_ms() + timeout_ms;
	int rc;

	*res = NULL;
	if (!host || !*host)
		return sp_err(err, errlen, "no host name configured");
	if (getaddrinfo(host, NULL, &num, res) == 0)
		return 0;
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
	/* ThreadSanitizer cannot follow the thread glibc starts inside
	 * getaddrinfo_a (it crashes in TSan's malloc): `make tsan` builds
	 * resolve with getaddrinfo, same answers but no time bound. */
	struct addrinfo th = { .ai_family = AF_UNSPEC, .ai_socktype = socktype };
	if ((rc = getaddrinfo(host, NULL, &th, res)) != 0) {
		*res = NULL;
		sp_err(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(rc));
		return gai_fail(rc);
	}
	return 0;
#endif
#endif
	req = xcalloc(1, sizeof(*req));
	hints = xcalloc(1, sizeof(*hints));
	hints->ai_family = AF_UNSPEC;
	hints->ai_socktype = socktype;
	req->ar_name = xstrdup(host);
	req->ar_request = hints;
	list[0] = req;
	rc = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
	if (rc) {
		sp_err(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(rc));
		goto done;
	}
	for (;;) {
		int l = left_ms(deadline);
		struct timespec ts = { .tv_sec = l / 1000, .tv_nsec = (long)(l % 1000) * 1000000 };
		rc = gai_suspend((const struct gaicb *const *)list, 1, &ts);
		if (rc == EAI_INTR && l > 0)
			continue;
		break;
	}
	rc = gai_error(req);
	if (rc == EAI_INPROGRESS) {
		sp_err(err, errlen, "cannot resolve '%s': no answer from the resolver within %ld ms", host,
		       timeout_ms);
		if (gai_cancel(req) != EAI_CANCELED)
			return -1;      /* leaked on purpose, see above */
		goto done;
	}
	if (rc) {
		sp_err(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(rc));
		goto done;
	}
	*res = req->ar_result;
	req->ar_result = NULL;
done:
	if (req->ar_result)
		freeaddrinfo(req->ar_result);
	free((char *)req->ar_name);
	free(hints);
	free(req);
	return *res ? 0 : gai_fail(rc);
}

/* ---- TLS context ---- */

struct sip_tls *sip_tls_new(const char *ca_file, char *err, size_t errlen)
{
	struct sip_tls *t = xcalloc(1, sizeof(*t));
	char why[256] = "";
	t->ctx = SSL_CTX_new(TLS_client_method());
	if (!t->ctx) {
		free(t);
		sp_err(err, errlen, "tls: cannot create a context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	/* VERIFY_NONE so the handshake completes and the certificate can be
	 * reported; each transaction checks the verify result itself. */
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
	if (ca_file && *ca_file ? SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL) != 1
				: SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
		ERR_error_string_n(ERR_get_error(), why, sizeof(why));
		ERR_clear_error();
		sp_err(err, errlen, "tls: cannot load CA certificates%s%s: %s", ca_file && *ca_file ? " from " : "",
		       ca_file && *ca_file ? ca_file : "", why);
		sip_tls_free(t);
		return NULL;
	}
	return t;
}

void sip_tls_free(struct sip_tls *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

/* ---- the transaction ---- */

static void addr_text(const struct sockaddr *sa, char *host, size_t hlen, int *port)
{
	snprintf(host, hlen, "?");
	*port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, host, (socklen_t)hlen);
		*port = ntohs(s4->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, (socklen_t)hlen);
		*port = ntohs(s6->sin6_port);
	}
}

static void conn_close(struct sip_txn *x)
{
	if (x->ssl)
		SSL_free(x->ssl);
	x->ssl = NULL;
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
	if (x->req)
		secret_wipe(x->req, x->reqlen);         /* it may carry digest credentials */
	free(x->req);
	x->req = NULL;
	free(x->in);
	x->in = NULL;
	x->inlen = 0;
	x->want = 0;
}

void sip_txn_release(struct sip_txn *x)
{
	conn_close(x);
	if (x->ai)
		freeaddrinfo(x->ai);
	x->ai = x->ai_next = NULL;
	if (x->state == SIP_TXS_COMPLETED)
		x->state = SIP_TXS_TERMINATED;
}

static void finish(struct sip_txn *x, enum sip_tx_result r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* End the transaction with r; the state stays the phase it stopped in. */
static void finish(struct sip_txn *x, enum sip_tx_result r, const char *fmt, ...)
{
	va_list ap;
	x->result = r;
	x->elapsed_ms = (long)(sip_now_ms() - x->start);
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(x->why, sizeof(x->why), fmt, ap);
		va_end(ap);
	}
	conn_close(x);
	if (x->ai)
		freeaddrinfo(x->ai);
	x->ai = x->ai_next = NULL;
}

static void ssl_text(struct sip_txn *x, char *out, size_t n)
{
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, out, n);
	else
		snprintf(out, n, "connection closed by the peer");
	ERR_clear_error();
	(void)x;
}

static void connect_next(struct sip_txn *x);

/* A refusal: the next address if there is one, else SIP_TX_REFUSED. */
static void refused(struct sip_txn *x, const char *what)
{
	if (x->ai_next) {
		conn_close(x);
		connect_next(x);
		return;
	}
	finish(x, SIP_TX_REFUSED, "%s", what);
}

static int send_udp(struct sip_txn *x)
{
	x->sends++;
	if (send(x->fd, x->req, x->reqlen, 0) < 0 && errno == ECONNREFUSED) {
		x->icmp = true;
		if (x->d.icmp_fatal) {
			refused(x, strerror(ECONNREFUSED));
			return -1;
		}
	}
	return 0;
}

static bool is_ip(const char *h)
{
	unsigned char b[16];
	return inet_pton(AF_INET, h, b) == 1 || inet_pton(AF_INET6, h, b) == 1;
}

static void tls_report(struct sip_txn *x)
{
	X509 *peer = SSL_get1_peer_certificate(x->ssl);
	long vr = SSL_get_verify_result(x->ssl);
	x->tls_done = true;
	if (peer) {
		BIO *bio = BIO_new(BIO_s_mem());
		X509_NAME_oneline(X509_get_subject_name(peer), x->tls_subject, sizeof(x->tls_subject));
		X509_NAME_oneline(X509_get_issuer_name(peer), x->tls_issuer, sizeof(x->tls_issuer));
		if (bio && ASN1_TIME_print(bio, X509_get0_notAfter(peer)) == 1) {
			int n = BIO_read(bio, x->tls_not_after, (int)sizeof(x->tls_not_after) - 1);
			x->tls_not_after[n > 0 ? n : 0] = '\0';
		}
		BIO_free(bio);
	}
	x->tls_verified = peer && vr == X509_V_OK;
	snprintf(x->tls_verify_text, sizeof(x->tls_verify_text), "%s",
		 !peer ? "no certificate presented" : X509_verify_cert_error_string(vr));
	X509_free(peer);
}

static void do_send(struct sip_txn *x);
static void do_handshake(struct sip_txn *x);

/* Connected: build the request with the local address, then send or
 * start the handshake. */
static void connected(struct sip_txn *x)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char lhost[INET6_ADDRSTRLEN] = "";
	int lport = 0;
	struct buf b;

	if (getsockname(x->fd, (struct sockaddr *)&ss, &sl) == 0)
		addr_text((struct sockaddr *)&ss, lhost, sizeof(lhost), &lport);
	buf_init(&b, SIP_MSG_MAX);
	if (x->build(x->arg, lhost, lport, x->branch, &b) < 0 || b.overflow || !b.data) {
		buf_release(&b);
		finish(x, SIP_TX_ERROR, "cannot build the request");
		return;
	}
	x->req = buf_detach(&b, &x->reqlen);
	x->off = 0;
	size_t ml = strcspn(x->req, " ");
	if (ml >= sizeof(x->method)) {
		finish(x, SIP_TX_ERROR, "the request has no method");
		return;
	}
	memcpy(x->method, x->req, ml);
	x->method[ml] = '\0';
	if (x->d.tr == SIP_UDP) {
		x->state = SIP_TXS_TRYING;
		x->want = POLLIN;
		/* Timer E counts from the first send; so does Timer F unless the
		 * caller's bound (which includes DNS and connect) rules. */
		int64_t t0 = sip_now_ms();
		if (x->timer_f_only)
			x->deadline = t0 + x->d.timeout_ms;
		x->interval = x->d.t1_ms;
		x->next_e = t0 + x->interval;
		send_udp(x);
		return;
	}
	if (x->d.tr == SIP_TLS) {
		x->ssl = SSL_new(((struct sip_tls *)x->d.tls)->ctx);
		if (!x->ssl || SSL_set_fd(x->ssl, x->fd) != 1) {
			finish(x, SIP_TX_ERROR, "tls: cannot create a session");
			return;
		}
		if (is_ip(x->host)) {
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(x->ssl), x->host);
		} else {
			SSL_set_tlsext_host_name(x->ssl, x->host);
			SSL_set1_host(x->ssl, x->host);
		}
		x->state = SIP_TXS_HANDSHAKE;
		do_handshake(x);
		return;
	}
	x->state = SIP_TXS_SENDING;
	do_send(x);
}

static void connect_next(struct sip_txn *x)
{
	struct addrinfo *ai;
	while ((ai = x->ai_next)) {
		char host[INET6_ADDRSTRLEN];
		int port = x->d.port, ignored;
		x->ai_next = ai->ai_next;
		if (ai->ai_family == AF_INET)
			((struct sockaddr_in *)ai->ai_addr)->sin_port = htons((uint16_t)port);
		else if (ai->ai_family == AF_INET6)
			((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons((uint16_t)port);
		else
			continue;
		addr_text(ai->ai_addr, host, sizeof(host), &ignored);
		snprintf(x->addr, sizeof(x->addr), ai->ai_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, port);
		x->state = SIP_TXS_CONNECTING;
		x->fd = socket(ai->ai_family, (x->d.tr == SIP_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK |
			       SOCK_CLOEXEC, 0);
		if (x->fd < 0) {
			finish(x, SIP_TX_ERROR, "socket: %s", strerror(errno));
			return;
		}
		if (connect(x->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			connected(x);
			return;
		}
		if (errno == EINPROGRESS) {
			x->want = POLLOUT;
			return;
		}
		int e = errno;
		if (e == ECONNREFUSED) {
			refused(x, strerror(e));
			return;
		}
		finish(x, SIP_TX_ERROR, "connect: %s", strerror(e));
		return;
	}
	finish(x, SIP_TX_ERROR, "no usable address for '%s'", x->host);
}

void sip_txn_start(struct sip_txn *x, const struct sip_dest *d, sip_build_fn build, void *arg)
{
	char rnd[17];
	struct addrinfo *ai = NULL;

	memset(x, 0, sizeof(*x));
	x->fd = -1;
	x->d = *d;
	sp_strlcpy(x->host, d->host ? d->host : "", sizeof(x->host));
	x->d.host = x->host;
	x->build = build;
	x->arg = arg;
	if (x->d.t1_ms <= 0)
		x->d.t1_ms = SIP_T1_MS;
	if (x->d.t2_ms <= 0)
		x->d.t2_ms = SIP_T2_MS;
	if (x->d.t4_ms <= 0)
		x->d.t4_ms = SIP_T4_MS;
	if (x->d.timeout_ms <= 0) {
		x->timer_f_only = true;
		x->d.timeout_ms = 64L * x->d.t1_ms;        /* Timer F */
	}
	if (x->d.port <= 0)
		x->d.port = x->d.tr == SIP_TLS ? 5061 : 5060;
	x->start = sip_now_ms();
	x->deadline = x->start + x->d.timeout_ms;
	x->state = SIP_TXS_CONNECTING;
	if (random_hex(rnd, 8) < 0) {
		finish(x, SIP_TX_ERROR, "random number generator failed");
		return;
	}
	snprintf(x->branch, sizeof(x->branch), "z9hG4bK-sp%s", rnd);
	if (x->d.tr > SIP_TLS || (x->d.tr == SIP_TLS && !x->d.tls)) {
		finish(x, SIP_TX_ERROR, x->d.tr > SIP_TLS ? "unknown transport" : "tls: no context");
		return;
	}
	if (sip_resolve(x->host, x->d.tr == SIP_UDP ? SOCK_DGRAM : SOCK_STREAM, x->d.timeout_ms, &ai, x->why,
			sizeof(x->why)) < 0) {
		finish(x, SIP_TX_DNS, NULL);
		return;
	}
	x->ai = x->ai_next = ai;
	connect_next(x);
}

static void do_handshake(struct sip_txn *x)
{
	char why[200];
	ERR_clear_error();
	int rc = SSL_connect(x->ssl);
	if (rc == 1) {
		tls_report(x);
		if (x->d.tls_verify && !x->tls_verified) {
			finish(x, SIP_TX_TLS, "certificate rejected: %s (subject %s, issuer %s)", x->tls_verify_text,
			       x->tls_subject, x->tls_issuer);
			return;
		}
		x->state = SIP_TXS_SENDING;
		do_send(x);
		return;
	}
	int e = SSL_get_error(x->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		x->want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		return;
	}
	ssl_text(x, why, sizeof(why));
	finish(x, SIP_TX_TLS, "handshake failed: %s", why);
}

static void do_send(struct sip_txn *x)
{
	while (x->off < x->reqlen) {
		ssize_t w;
		if (x->ssl) {
			ERR_clear_error();
			int rc = SSL_write(x->ssl, x->req + x->off, (int)(x->reqlen - x->off));
			if (rc <= 0) {
				int e = SSL_get_error(x->ssl, rc);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
					x->want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
					return;
				}
				char why[200];
				ssl_text(x, why, sizeof(why));
				finish(x, SIP_TX_TLS, "tls write: %s", why);
				return;
			}
			w = rc;
		} else {
			w = send(x->fd, x->req + x->off, x->reqlen - x->off, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EAGAIN || errno == EINTR) {
					x->want = POLLOUT;
					return;
				}
				finish(x, SIP_TX_CLOSED, "send: %s", strerror(errno));
				return;
			}
		}
		x->off += (size_t)w;
	}
	x->sends = 1;
	x->state = SIP_TXS_TRYING;
	x->want = POLLIN;
}

/* One whole message from the peer: ours if the top Via branch and the
 * CSeq method match the request (RFC 3261 17.1.3). */
static void got_message(struct sip_txn *x, const char *p, size_t n)
{
	struct sipmsg *m = xcalloc(1, sizeof(*m));
	if (sipmsg_parse(p, n, m, NULL, 0) < 0 || m->request || strcmp(m->via_branch, x->branch))
		goto out;
	if (strcmp(m->cseq_method, x->method))
		goto out;
	if (m->code < 200) {
		x->provisional++;
		if (x->state == SIP_TXS_TRYING) {
			/* Proceeding: Timer E now fires every T2 (17.1.2.2). */
			x->state = SIP_TXS_PROCEEDING;
			x->interval = x->d.t2_ms;
			if (x->next_e > sip_now_ms() + x->interval)
				x->next_e = sip_now_ms() + x->interval;
		}
		goto out;
	}
	if (x->state == SIP_TXS_COMPLETED) {
		x->absorbed++;
		goto out;
	}
	x->resp = *m;
	x->result = SIP_TX_FINAL;
	x->elapsed_ms = (long)(sip_now_ms() - x->start);
	if (x->d.tr == SIP_UDP) {
		/* Timer K: the socket stays to absorb retransmitted finals. */
		x->state = SIP_TXS_COMPLETED;
		x->k_end = sip_now_ms() + x->d.t4_ms;
		secret_wipe(x->req, x->reqlen);
		free(x->req);
		x->req = NULL;
		if (x->ai)
			freeaddrinfo(x->ai);
		x->ai = x->ai_next = NULL;
	} else {
		x->state = SIP_TXS_TERMINATED;
		sip_txn_release(x);
	}
out:
	free(m);
}

static void do_read(struct sip_txn *x)
{
	for (;;) {
		if (x->d.tr == SIP_UDP) {
			char buf[SIP_MSG_MAX];
			ssize_t n = recv(x->fd, buf, sizeof(buf), 0);
			if (n < 0) {
				if (errno == ECONNREFUSED && x->state != SIP_TXS_COMPLETED) {
					x->icmp = true;
					if (x->d.icmp_fatal) {
						refused(x, strerror(ECONNREFUSED));
						return;
					}
					continue;
				}
				return;         /* EAGAIN and the rest: wait for more */
			}
			got_message(x, buf, (size_t)n);
			if (x->fd < 0)
				return;
			continue;
		}
		if (!x->in)
			x->in = xcalloc(1, SIP_MSG_MAX);
		ssize_t n;
		size_t room = SIP_MSG_MAX - x->inlen;
		if (x->ssl) {
			ERR_clear_error();
			int rc = SSL_read(x->ssl, x->in + x->inlen, (int)room);
			if (rc <= 0) {
				int e = SSL_get_error(x->ssl, rc);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
					x->want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
					return;
				}
				n = 0;
			} else {
				n = rc;
			}
		} else {
			n = recv(x->fd, x->in + x->inlen, room, 0);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
		}
		if (n <= 0) {
			finish(x, SIP_TX_CLOSED, "%s", n < 0 ? strerror(errno) : "connection closed");
			return;
		}
		x->inlen += (size_t)n;
		for (;;) {
			long ml = sipmsg_frame(x->in, x->inlen, SIP_MSG_MAX);
			if (ml < 0) {
				finish(x, SIP_TX_ERROR, "the answer is not SIP");
				return;
			}
			if (ml == 0)
				break;
			got_message(x, x->in, (size_t)ml);
			if (x->fd < 0)
				return;
			memmove(x->in, x->in + ml, x->inlen - (size_t)ml);
			x->inlen -= (size_t)ml;
		}
	}
}

static void timers(struct sip_txn *x)
{
	int64_t now = sip_now_ms();
	if (x->state == SIP_TXS_COMPLETED) {
		if (now >= x->k_end)
			sip_txn_release(x);
		return;
	}
	if (x->result != SIP_TX_PENDING)
		return;
	/* Timer E: every copy scheduled before Timer F goes out, in order,
	 * even when this process ran late; then Timer F. */
	while (x->d.tr == SIP_UDP && (x->state == SIP_TXS_TRYING || x->state == SIP_TXS_PROCEEDING) &&
	       x->next_e <= now && x->next_e < x->deadline) {
		if (send_udp(x) < 0)
			return;
		if (x->state == SIP_TXS_TRYING)
			x->interval = x->interval * 2 > x->d.t2_ms ? x->d.t2_ms : x->interval * 2;
		x->next_e += x->interval;
	}
	if (now >= x->deadline)
		finish(x, SIP_TX_TIMEOUT, "no answer within %ld ms", x->d.timeout_ms);
}

int sip_txn_fd(const struct sip_txn *x)
{
	return x->fd;
}

short sip_txn_events(const struct sip_txn *x)
{
	return x->fd >= 0 ? x->want : 0;
}

int64_t sip_txn_wake(const struct sip_txn *x)
{
	if (x->state == SIP_TXS_COMPLETED)
		return x->k_end;
	if (x->result != SIP_TX_PENDING)
		return INT64_MAX;
	if (x->d.tr == SIP_UDP && (x->state == SIP_TXS_TRYING || x->state == SIP_TXS_PROCEEDING) &&
	    x->next_e < x->deadline)
		return x->next_e;
	return x->deadline;
}

bool sip_txn_over(const struct sip_txn *x)
{
	return x->result != SIP_TX_PENDING && x->fd < 0;
}

void sip_txn_step(struct sip_txn *x, short revents)
{
	if (revents && x->fd >= 0) {
		switch (x->state) {
		case SIP_TXS_CONNECTING: {
			int e = 0;
			socklen_t el = sizeof(e);
			if (getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
				e = errno;
			if (e == ECONNREFUSED)
				refused(x, strerror(e));
			else if (e == ETIMEDOUT)
				finish(x, SIP_TX_TIMEOUT, "connect: %s", strerror(e));
			else if (e)
				finish(x, SIP_TX_ERROR, "connect: %s", strerror(e));
			else
				connected(x);
			break;
		}
		case SIP_TXS_HANDSHAKE:
			do_handshake(x);
			break;
		case SIP_TXS_SENDING:
			do_send(x);
			break;
		default:
			do_read(x);
			break;
		}
	}
	timers(x);
}

int sip_txn_run(struct sip_txn *x, const struct sip_dest *d, sip_build_fn build, void *arg)
{
	sip_txn_start(x, d, build, arg);
	while (x->result == SIP_TX_PENDING) {
		struct pollfd p = { .fd = sip_txn_fd(x), .events = sip_txn_events(x) };
		int64_t wait = sip_txn_wake(x) - sip_now_ms();
		int rc = poll(&p, p.fd >= 0 ? 1 : 0, wait < 0 ? 0 : wait > 60000 ? 60000 : (int)wait);
		if (rc < 0 && errno != EINTR) {
			finish(x, SIP_TX_ERROR, "poll: %s", strerror(errno));
			break;
		}
		sip_txn_step(x, rc > 0 ? p.revents : 0);
	}
	return x->result == SIP_TX_FINAL ? 0 : -1;
}
