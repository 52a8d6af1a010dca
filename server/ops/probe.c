/*
 * probe.c: the network half of `sipprov diagnose`.  Every probe works
 * against one absolute deadline (CLOCK_MONOTONIC), with non-blocking
 * sockets and poll(), so a blackholed port costs the timeout and no more.
 * It sends only OPTIONS and contact-less REGISTER (a binding query): it
 * never creates or removes a registration.  OpenSSL ownership: the SSL_CTX
 * and SSL live for one probe and are freed before return.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <resolv.h>
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

#include "probe.h"
#include "core/sipprov.h"

#define PROBE_T1_MS   500
#define PROBE_T2_MS   4000
#define PROBE_MSG_MAX 8192

const char *probe_status_name(enum probe_status st)
{
	switch (st) {
	case PROBE_OK: return "ok";
	case PROBE_DNS: return "dns";
	case PROBE_REFUSED: return "refused";
	case PROBE_TIMEOUT: return "timeout";
	case PROBE_TLS: return "tls";
	case PROBE_ERROR: return "error";
	}
	return "error";
}

int probe_default_port(const char *transport)
{
	return transport && !strcasecmp(transport, "tls") ? 5061 : 5060;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline)
{
	int64_t l = deadline - now_ms();
	return l < 0 ? 0 : l > 60000 ? 60000 : (int)l;
}

/* ---- DNS ---- */

/* getaddrinfo_a so the lookup itself is bounded.  On timeout the request
 * is cancelled; if glibc cannot cancel it (already running) the request
 * block is deliberately leaked: the resolver thread still writes to it. */
static int dns_lookup(const char *host, int socktype, long timeout_ms, struct addrinfo **res,
		      char *err, size_t errlen)
{
	struct addrinfo num = { .ai_flags = AI_NUMERICHOST, .ai_socktype = socktype };
	struct gaicb *req;
	struct addrinfo *hints;
	struct gaicb *list[1];
	int64_t deadline = now_ms() + timeout_ms;
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
		return sp_err(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(rc));
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
		if (gai_cancel(req) != EAI_CANCELED) {
			sp_err(err, errlen, "cannot resolve '%s': no answer from the resolver within %ld ms",
			       host, timeout_ms);
			return -1;      /* leaked on purpose, see above */
		}
		sp_err(err, errlen, "cannot resolve '%s': no answer from the resolver within %ld ms", host,
		       timeout_ms);
		rc = -1;
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
	return *res ? 0 : -1;
}

static void addr_text(const struct sockaddr *sa, char *out, size_t n, bool with_port)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		port = ntohs(s4->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		port = ntohs(s6->sin6_port);
	}
	if (!with_port)
		snprintf(out, n, "%s", ip);
	else if (sa->sa_family == AF_INET6)
		snprintf(out, n, "[%s]:%d", ip, port);
	else
		snprintf(out, n, "%s:%d", ip, port);
}

int probe_dns(const char *host, long timeout_ms, char *out, size_t outlen)
{
	struct addrinfo *res = NULL;
	int count = 0;
	struct buf b;

	if (dns_lookup(host, SOCK_DGRAM, timeout_ms, &res, out, outlen) < 0)
		return -1;
	buf_init(&b, 1024);
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		char a[INET6_ADDRSTRLEN + 8];
		addr_text(ai->ai_addr, a, sizeof(a), false);
		if (b.data && strstr(b.data, a))
			continue;
		buf_printf(&b, "%s%s", count ? ", " : "", a);
		count++;
	}
	freeaddrinfo(res);
	sp_strlcpy(out, b.data ? b.data : "", outlen);
	buf_release(&b);
	return count;
}

int probe_srv(const char *name, long timeout_ms, char *out, size_t outlen)
{
	struct __res_state st;
	unsigned char ans[4096];
	ns_msg msg;
	int len, count = 0;
	struct buf b;

	memset(&st, 0, sizeof(st));
	if (res_ninit(&st) < 0) {
		sp_err(out, outlen, "resolver initialisation failed");
		return -1;
	}
	/* retrans is per try in seconds; two tries keep the total near the bound. */
	st.retrans = (int)(timeout_ms / 2000) > 0 ? (int)(timeout_ms / 2000) : 1;
	st.retry = 2;
	len = res_nquery(&st, name, ns_c_in, ns_t_srv, ans, sizeof(ans));
	if (len < 0) {
		int h = st.res_h_errno;
		res_nclose(&st);
		if (h == HOST_NOT_FOUND || h == NO_DATA) {
			sp_err(out, outlen, "no SRV record for '%s' (%s)", name,
			       h == HOST_NOT_FOUND ? "NXDOMAIN" : "no data");
			return 0;
		}
		sp_err(out, outlen, "SRV lookup of '%s' failed: %s", name, hstrerror(h));
		return -1;
	}
	if (ns_initparse(ans, len, &msg) < 0) {
		res_nclose(&st);
		sp_err(out, outlen, "SRV answer for '%s' is malformed", name);
		return -1;
	}
	buf_init(&b, 2048);
	for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		ns_rr rr;
		char target[NS_MAXDNAME];
		const unsigned char *rd;
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0 || ns_rr_type(rr) != ns_t_srv || ns_rr_rdlen(rr) < 7)
			continue;
		rd = ns_rr_rdata(rr);
		if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), rd + 6, target, sizeof(target)) < 0)
			continue;
		buf_printf(&b, "%s%u %u %u %s", count ? "; " : "", (unsigned)ns_get16(rd),
			   (unsigned)ns_get16(rd + 2), (unsigned)ns_get16(rd + 4), target);
		count++;
	}
	res_nclose(&st);
	if (count)
		sp_strlcpy(out, b.data, outlen);
	else
		sp_err(out, outlen, "no SRV record for '%s' (empty answer)", name);
	buf_release(&b);
	return count;
}

/* ---- SIP message parsing (just what a probe needs) ---- */

int probe_parse_status(const char *msg, size_t len, int *code, char *reason, size_t rlen)
{
	const char *p = msg, *end = msg + len, *eol;
	long c;
	char num[4];

	if (len < 12 || strncmp(p, "SIP/2.0 ", 8))
		return -1;
	p += 8;
	for (int i = 0; i < 3; i++) {
		if (p + i >= end || p[i] < '0' || p[i] > '9')
			return -1;
		num[i] = p[i];
	}
	num[3] = '\0';
	if (sp_parse_int(num, 100, 699, &c) < 0)
		return -1;
	p += 3;
	if (p < end && *p != ' ' && *p != '\r' && *p != '\n')
		return -1;
	eol = memchr(p, '\r', (size_t)(end - p));
	if (!eol)
		eol = memchr(p, '\n', (size_t)(end - p));
	if (!eol)
		eol = end;
	if (p < eol && *p == ' ')
		p++;
	if (reason && rlen) {
		size_t n = (size_t)(eol - p) < rlen - 1 ? (size_t)(eol - p) : rlen - 1;
		memcpy(reason, p, n);
		reason[n] = '\0';
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)reason[i] < 0x20)
				reason[i] = '?';
	}
	*code = (int)c;
	return 0;
}

static const char *compact_name(const char *name)
{
	if (!strcasecmp(name, "call-id")) return "i";
	if (!strcasecmp(name, "via")) return "v";
	if (!strcasecmp(name, "content-length")) return "l";
	if (!strcasecmp(name, "from")) return "f";
	if (!strcasecmp(name, "to")) return "t";
	return NULL;
}

int probe_header(const char *msg, size_t len, const char *name, char *out, size_t outlen)
{
	const char *p = msg, *end = msg + len;
	const char *cn = compact_name(name);
	size_t nl = strlen(name);

	/* skip the start line */
	while (p < end && *p != '\n')
		p++;
	while (p < end) {
		const char *line = ++p, *eol, *v;
		while (p < end && *p != '\n')
			p++;
		eol = p;
		if (eol > line && eol[-1] == '\r')
			eol--;
		if (eol == line)
			return 0;   /* end of headers */
		v = memchr(line, ':', (size_t)(eol - line));
		if (!v)
			continue;
		const char *ne = v;
		while (ne > line && (ne[-1] == ' ' || ne[-1] == '\t'))
			ne--;
		size_t l = (size_t)(ne - line);
		if (!((l == nl && !strncasecmp(line, name, nl)) || (cn && l == 1 && tolower((unsigned char)*line) == *cn)))
			continue;
		v++;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		size_t n = (size_t)(eol - v) < outlen - 1 ? (size_t)(eol - v) : outlen - 1;
		memcpy(out, v, n);
		out[n] = '\0';
		return 1;
	}
	return 0;
}

/* Length of the first complete message in buf, 0 if incomplete, -1 junk. */
static long msg_complete(const char *buf, size_t len)
{
	const char *e = NULL;
	char cl[32];
	long n = 0;
	for (size_t i = 0; i + 3 < len; i++)
		if (!memcmp(buf + i, "\r\n\r\n", 4)) {
			e = buf + i + 4;
			break;
		}
	if (!e)
		return len >= PROBE_MSG_MAX - 1 ? -1 : 0;
	if (probe_header(buf, (size_t)(e - buf), "Content-Length", cl, sizeof(cl)) &&
	    sp_parse_int(cl, 0, PROBE_MSG_MAX, &n) < 0)
		return -1;
	if ((size_t)(e - buf) + (size_t)n > len)
		return 0;
	return (long)(e - buf) + n;
}

/* ---- digest ---- */

struct challenge {
	char realm[128], nonce[256], opaque[256], algorithm[32];
	bool qop_auth;
	bool proxy;
};

static void param_get(const char *hdr, const char *key, char *out, size_t n)
{
	const char *p = hdr;
	size_t kl = strlen(key);
	out[0] = '\0';
	while ((p = strcasestr(p, key))) {
		bool start = p == hdr || p[-1] == ' ' || p[-1] == ',' || p[-1] == '\t';
		const char *q = p + kl;
		while (*q == ' ')
			q++;
		if (!start || *q != '=') {
			p += kl;
			continue;
		}
		q++;
		while (*q == ' ')
			q++;
		size_t i = 0;
		if (*q == '"') {
			q++;
			while (*q && *q != '"' && i + 1 < n)
				out[i++] = *q++;
		} else {
			while (*q && *q != ',' && *q != ' ' && i + 1 < n)
				out[i++] = *q++;
		}
		out[i] = '\0';
		return;
	}
}

static int challenge_parse(const char *hdr, bool proxy, struct challenge *c)
{
	char qop[64];
	memset(c, 0, sizeof(*c));
	if (strncasecmp(hdr, "Digest", 6))
		return -1;
	hdr += 6;
	param_get(hdr, "realm", c->realm, sizeof(c->realm));
	param_get(hdr, "nonce", c->nonce, sizeof(c->nonce));
	param_get(hdr, "opaque", c->opaque, sizeof(c->opaque));
	param_get(hdr, "algorithm", c->algorithm, sizeof(c->algorithm));
	param_get(hdr, "qop", qop, sizeof(qop));
	c->qop_auth = strcasestr(qop, "auth") != NULL;
	c->proxy = proxy;
	if (!c->algorithm[0])
		sp_strlcpy(c->algorithm, "MD5", sizeof(c->algorithm));
	if (strcasecmp(c->algorithm, "MD5") && strcasecmp(c->algorithm, "SHA-256"))
		return -1;
	return c->nonce[0] ? 0 : -1;
}

static void dhash(const char *alg, const char *s, char out[65])
{
	if (!strcasecmp(alg, "SHA-256"))
		sha256_hex(s, strlen(s), out);
	else
		md5_hex(s, strlen(s), out);
}

static void digest_header(const struct challenge *c, const struct probe_auth *a, const char *method,
			  const char *uri, struct buf *out)
{
	char ha1[65], ha2[65], resp[65], cnonce[17] = "0123456789abcdef";
	struct buf t;
	buf_init(&t, 2048);
	buf_printf(&t, "%s:%s:%s", a->auth_user, c->realm, a->password);
	dhash(c->algorithm, t.data, ha1);
	secret_wipe(t.data, t.len);
	t.len = 0;
	buf_printf(&t, "%s:%s", method, uri);
	dhash(c->algorithm, t.data, ha2);
	t.len = 0;
	if (random_hex(cnonce, 8) < 0)
		sp_strlcpy(cnonce, "5f3c1a7e9b2d4c60", sizeof(cnonce));
	if (c->qop_auth)
		buf_printf(&t, "%s:%s:00000001:%s:auth:%s", ha1, c->nonce, cnonce, ha2);
	else
		buf_printf(&t, "%s:%s:%s", ha1, c->nonce, ha2);
	dhash(c->algorithm, t.data, resp);
	buf_release(&t);
	secret_wipe(ha1, sizeof(ha1));
	buf_printf(out, "%s: Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
		   "response=\"%s\", algorithm=%s", c->proxy ? "Proxy-Authorization" : "Authorization",
		   a->auth_user, c->realm, c->nonce, uri, resp, c->algorithm);
	if (c->qop_auth)
		buf_printf(out, ", qop=auth, nc=00000001, cnonce=\"%s\"", cnonce);
	if (c->opaque[0])
		buf_printf(out, ", opaque=\"%s\"", c->opaque);
	buf_adds(out, "\r\n");
}

/* ---- connections ---- */

struct conn {
	int fd;
	bool dgram;
	SSL_CTX *ctx;
	SSL *ssl;
	char local[80];         /* "ip:port" for Via */
};

static void conn_close(struct conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->ctx)
		SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->ctx = NULL;
	c->fd = -1;
}

static bool is_ip(const char *h)
{
	unsigned char b[16];
	return inet_pton(AF_INET, h, b) == 1 || inet_pton(AF_INET6, h, b) == 1;
}

/* Connect (UDP: associate) to sa before the deadline.  0, or -1 with
 * r->status and r->text. */
static int conn_open(struct conn *c, const struct sockaddr *sa, socklen_t salen, bool dgram,
		     int64_t deadline, struct probe_result *r)
{
	struct sockaddr_storage ls;
	socklen_t ll = sizeof(ls);
	int e = 0;
	socklen_t el = sizeof(e);

	c->dgram = dgram;
	c->fd = socket(sa->sa_family, (dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		r->status = PROBE_ERROR;
		snprintf(r->text, sizeof(r->text), "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(c->fd, sa, salen) < 0) {
		if (errno != EINPROGRESS) {
			e = errno;
			goto fail;
		}
		struct pollfd p = { .fd = c->fd, .events = POLLOUT };
		int pr;
		while ((pr = poll(&p, 1, left_ms(deadline))) < 0 && errno == EINTR)
			;
		if (pr == 0) {
			r->status = PROBE_TIMEOUT;
			snprintf(r->text, sizeof(r->text), "tcp connect to %s: no answer within the timeout "
				 "(packets dropped: firewall or wrong address)", r->addr);
			return -1;
		}
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
			e = errno;
		if (e)
			goto fail;
	}
	if (getsockname(c->fd, (struct sockaddr *)&ls, &ll) == 0)
		addr_text((struct sockaddr *)&ls, c->local, sizeof(c->local), true);
	return 0;
fail:
	r->status = e == ECONNREFUSED ? PROBE_REFUSED : e == ETIMEDOUT ? PROBE_TIMEOUT : PROBE_ERROR;
	snprintf(r->text, sizeof(r->text), "%s connect to %s: %s%s", dgram ? "udp" : "tcp", r->addr,
		 strerror(e), e == ECONNREFUSED ? " (nothing listens on that port)" : "");
	return -1;
}

static void ssl_errtext(char *out, size_t n, const char *what)
{
	unsigned long e = ERR_get_error();
	char b[256];
	if (e) {
		ERR_error_string_n(e, b, sizeof(b));
		snprintf(out, n, "%s: %s", what, b);
	} else {
		snprintf(out, n, "%s: connection closed by the peer", what);
	}
	ERR_clear_error();
}

/* Wait for the SSL want-state; false on timeout. */
static bool ssl_wait(struct conn *c, int ret, int64_t deadline)
{
	int e = SSL_get_error(c->ssl, ret);
	struct pollfd p = { .fd = c->fd };
	if (e == SSL_ERROR_WANT_READ)
		p.events = POLLIN;
	else if (e == SSL_ERROR_WANT_WRITE)
		p.events = POLLOUT;
	else
		return false;
	int pr;
	while ((pr = poll(&p, 1, left_ms(deadline))) < 0 && errno == EINTR)
		;
	return pr > 0;
}

static int tls_start(struct conn *c, const struct probe_target *t, int64_t deadline, struct probe_result *r)
{
	X509 *peer;
	long vr;
	int rc;

	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx) {
		r->status = PROBE_ERROR;
		ssl_errtext(r->text, sizeof(r->text), "tls context");
		return -1;
	}
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	if (t->ca_file[0] ? SSL_CTX_load_verify_locations(c->ctx, t->ca_file, NULL) != 1
			  : SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
		r->status = PROBE_ERROR;
		ssl_errtext(r->text, sizeof(r->text), t->ca_file[0] ? "cannot load CA file" : "trust store");
		return -1;
	}
	/* VERIFY_NONE so the handshake completes and the certificate can be
	 * reported; the verify result is checked below. */
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
		r->status = PROBE_ERROR;
		ssl_errtext(r->text, sizeof(r->text), "tls session");
		return -1;
	}
	if (is_ip(t->host))
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), t->host);
	else {
		SSL_set_tlsext_host_name(c->ssl, t->host);
		SSL_set1_host(c->ssl, t->host);
	}
	while ((rc = SSL_connect(c->ssl)) != 1) {
		if (!ssl_wait(c, rc, deadline)) {
			if (left_ms(deadline) == 0) {
				r->status = PROBE_TIMEOUT;
				snprintf(r->text, sizeof(r->text), "tls handshake with %s: no answer within the "
					 "timeout (is TLS served on this port?)", r->addr);
			} else {
				r->status = PROBE_TLS;
				char why[400];
				ssl_errtext(why, sizeof(why), "handshake failed");
				snprintf(r->text, sizeof(r->text), "tls with %s: %s", r->addr, why);
			}
			return -1;
		}
	}
	r->tls_done = true;
	peer = SSL_get1_peer_certificate(c->ssl);
	if (peer) {
		BIO *bio = BIO_new(BIO_s_mem());
		X509_NAME_oneline(X509_get_subject_name(peer), r->tls_subject, sizeof(r->tls_subject));
		X509_NAME_oneline(X509_get_issuer_name(peer), r->tls_issuer, sizeof(r->tls_issuer));
		if (bio && ASN1_TIME_print(bio, X509_get0_notAfter(peer)) == 1) {
			int n = BIO_read(bio, r->tls_not_after, (int)sizeof(r->tls_not_after) - 1);
			r->tls_not_after[n > 0 ? n : 0] = '\0';
		}
		BIO_free(bio);
		X509_free(peer);
	}
	vr = SSL_get_verify_result(c->ssl);
	r->tls_verified = peer && vr == X509_V_OK;
	snprintf(r->tls_verify_text, sizeof(r->tls_verify_text), "%s",
		 !peer ? "no certificate presented" : X509_verify_cert_error_string(vr));
	if (!r->tls_verified && t->tls_verify) {
		r->status = PROBE_TLS;
		char why[1024];
		snprintf(why, sizeof(why), "tls with %s: certificate rejected: %s (subject %s, issuer %s)",
			 r->addr, r->tls_verify_text, r->tls_subject, r->tls_issuer);
		sp_strlcpy(r->text, why, sizeof(r->text));
		return -1;
	}
	return 0;
}

static int conn_send(struct conn *c, const char *p, size_t n, int64_t deadline)
{
	while (n) {
		ssize_t w;
		if (c->ssl) {
			int rc = SSL_write(c->ssl, p, (int)n);
			if (rc <= 0) {
				if (!ssl_wait(c, rc, deadline))
					return -1;
				continue;
			}
			w = rc;
		} else {
			w = send(c->fd, p, n, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN && !c->dgram) {
					struct pollfd pf = { .fd = c->fd, .events = POLLOUT };
					if (poll(&pf, 1, left_ms(deadline)) <= 0)
						return -1;
					continue;
				}
				return -1;
			}
			if (c->dgram)
				return 0;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read what is available within wait_ms: >0 bytes, 0 timeout, -1 error
 * (errno kept, ECONNREFUSED for ICMP on UDP), -2 closed. */
static ssize_t conn_recv(struct conn *c, char *p, size_t n, int wait_ms)
{
	struct pollfd pf = { .fd = c->fd, .events = POLLIN };
	int pr;
	if (c->ssl && SSL_pending(c->ssl) <= 0) {
		while ((pr = poll(&pf, 1, wait_ms)) < 0 && errno == EINTR)
			;
		if (pr == 0)
			return 0;
	}
	if (c->ssl) {
		int rc = SSL_read(c->ssl, p, (int)n);
		if (rc > 0)
			return rc;
		int e = SSL_get_error(c->ssl, rc);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return 0;
		return -2;
	}
	while ((pr = poll(&pf, 1, wait_ms)) < 0 && errno == EINTR)
		;
	if (pr == 0)
		return 0;
	ssize_t rd = recv(c->fd, p, n, 0);
	if (rd == 0 && !c->dgram)
		return -2;
	if (rd < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	return rd;
}

/* ---- one transaction ---- */

struct txn {
	const char *callid;
	long cseq;
	char msg[PROBE_MSG_MAX];
	size_t msglen;
	int code;
	char reason[128];
};

static bool response_matches(const char *m, size_t n, const struct txn *x)
{
	char v[256], want[64];
	if (!probe_header(m, n, "Call-ID", v, sizeof(v)) || strcmp(v, x->callid))
		return false;
	if (!probe_header(m, n, "CSeq", v, sizeof(v)))
		return false;
	snprintf(want, sizeof(want), "%ld ", x->cseq);
	return !strncmp(v, want, strlen(want));
}

/* Send req and wait for its final response before the deadline. */
static int txn_run(struct conn *c, const char *req, size_t reqlen, int64_t deadline, struct txn *x,
		   struct probe_result *r, const char *transport)
{
	char in[PROBE_MSG_MAX];
	size_t have = 0;
	int interval = PROBE_T1_MS;
	int64_t next_send = now_ms();
	bool sent = false;

	for (;;) {
		int64_t t = now_ms();
		if (t >= deadline)
			break;
		if (c->dgram ? t >= next_send : !sent) {
			if (conn_send(c, req, reqlen, deadline) < 0) {
				if (errno == ECONNREFUSED) {
					r->status = PROBE_REFUSED;
					snprintf(r->text, sizeof(r->text), "udp %s: ICMP port unreachable: nothing "
						 "listens on that port", r->addr);
					return -1;
				}
				r->status = c->ssl ? PROBE_TLS : PROBE_ERROR;
				snprintf(r->text, sizeof(r->text), "%s send to %s failed: %s", transport, r->addr,
					 strerror(errno));
				return -1;
			}
			sent = true;
			r->sends++;
			next_send = t + interval;
			interval = interval * 2 > PROBE_T2_MS ? PROBE_T2_MS : interval * 2;
		}
		int64_t until = c->dgram && next_send < deadline ? next_send : deadline;
		int w = (int)(until - t);
		ssize_t n = conn_recv(c, c->dgram ? in : in + have, c->dgram ? sizeof(in) - 1
							   : sizeof(in) - 1 - have, w < 0 ? 0 : w);
		if (n == 0)
			continue;
		if (n == -1 && c->dgram && errno == ECONNREFUSED) {
			r->status = PROBE_REFUSED;
			snprintf(r->text, sizeof(r->text), "udp %s: ICMP port unreachable: nothing listens on "
				 "that port", r->addr);
			return -1;
		}
		if (n < 0) {
			r->status = PROBE_ERROR;
			snprintf(r->text, sizeof(r->text), "%s %s: connection closed before a response%s",
				 transport, r->addr, c->ssl ? "" : " (port open but no SIP server?)");
			return -1;
		}
		if (c->dgram) {
			have = (size_t)n;
		} else {
			have += (size_t)n;
		}
		for (;;) {
			long ml = c->dgram ? (long)have : msg_complete(in, have);
			if (ml < 0) {
				r->status = PROBE_ERROR;
				snprintf(r->text, sizeof(r->text), "%s %s: answer is not SIP", transport, r->addr);
				return -1;
			}
			if (ml == 0)
				break;
			int code;
			char reason[128];
			if (probe_parse_status(in, (size_t)ml, &code, reason, sizeof(reason)) == 0 &&
			    response_matches(in, (size_t)ml, x) && code >= 200) {
				x->code = code;
				sp_strlcpy(x->reason, reason, sizeof(x->reason));
				memcpy(x->msg, in, (size_t)ml);
				x->msg[ml] = '\0';
				x->msglen = (size_t)ml;
				return 0;
			}
			/* provisional or not ours: drop it */
			if (c->dgram) {
				have = 0;
				break;
			}
			memmove(in, in + ml, have - (size_t)ml);
			have -= (size_t)ml;
		}
	}
	r->status = PROBE_TIMEOUT;
	if (c->dgram)
		snprintf(r->text, sizeof(r->text), "udp %s: no answer to %d transmissions: packets dropped "
			 "(firewall, wrong port or address)", r->addr, r->sends);
	else
		snprintf(r->text, sizeof(r->text), "%s %s: connected but no SIP answer within the timeout",
			 transport, r->addr);
	return -1;
}

static void request_build(struct buf *b, const struct probe_target *t, const char *method, const char *transport,
			  const char *local, const char *callid, const char *ftag, long cseq, const char *auth)
{
	char branch[33];
	const char *dom = t->domain[0] ? t->domain : t->host;
	const char *user = t->user[0] ? t->user : "probe";
	char up[8];
	if (random_hex(branch, 16) < 0)
		snprintf(branch, sizeof(branch), "%lx%ld", (long)now_ms(), cseq);
	snprintf(up, sizeof(up), "%s", transport);
	for (char *p = up; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	buf_printf(b, "%s sip:%s SIP/2.0\r\n", method, dom);
	buf_printf(b, "Via: SIP/2.0/%s %s;branch=z9hG4bK%s;rport\r\n", up, local, branch);
	buf_adds(b, "Max-Forwards: 70\r\n");
	buf_printf(b, "From: <sip:%s@%s>;tag=%s\r\n", user, dom, ftag);
	buf_printf(b, "To: <sip:%s@%s>\r\n", user, dom);
	buf_printf(b, "Call-ID: %s\r\n", callid);
	buf_printf(b, "CSeq: %ld %s\r\n", cseq, method);
	if (auth)
		buf_adds(b, auth);
	if (!strcmp(method, "OPTIONS"))
		buf_adds(b, "Accept: application/sdp\r\n");
	buf_adds(b, "User-Agent: sipprov-diagnose/" SP_VERSION "\r\n");
	buf_adds(b, "Content-Length: 0\r\n\r\n");
}

static int probe_one(const struct probe_target *t, const char *method, const struct probe_auth *auth,
		     const struct sockaddr *sa, socklen_t salen, int64_t deadline, struct probe_result *r)
{
	struct conn c = { .fd = -1 };
	const char *tr = t->transport[0] ? t->transport : "udp";
	bool tls = !strcasecmp(tr, "tls");
	bool udp = !strcasecmp(tr, "udp");
	char callid[48], ftag[17], rnd[17];
	struct txn *x = xcalloc(1, sizeof(*x));
	struct buf req;
	int rc = -1;

	buf_init(&req, PROBE_MSG_MAX);
	addr_text(sa, r->addr, sizeof(r->addr), true);
	if (conn_open(&c, sa, salen, udp, deadline, r) < 0)
		goto out;
	if (tls && tls_start(&c, t, deadline, r) < 0)
		goto out;
	if (random_hex(rnd, 8) < 0 || random_hex(ftag, 8) < 0) {
		r->status = PROBE_ERROR;
		snprintf(r->text, sizeof(r->text), "random number generator failed");
		goto out;
	}
	snprintf(callid, sizeof(callid), "%s@sipprov", rnd);
	x->callid = callid;
	x->cseq = 1;
	request_build(&req, t, method, tr, c.local, callid, ftag, 1, NULL);
	if (txn_run(&c, req.data, req.len, deadline, x, r, tr) < 0)
		goto out;
	r->first_code = x->code;
	if ((x->code == 401 || x->code == 407) && auth && auth->auth_user && auth->password) {
		struct challenge ch;
		char hv[1024];
		struct buf ah;
		char uri[300];
		bool proxy = x->code == 407;
		if (!probe_header(x->msg, x->msglen, proxy ? "Proxy-Authenticate" : "WWW-Authenticate", hv,
				  sizeof(hv)) || challenge_parse(hv, proxy, &ch) < 0) {
			r->status = PROBE_ERROR;
			snprintf(r->text, sizeof(r->text), "%s %s: %d challenge without a usable Digest "
				 "(MD5 or SHA-256)", tr, r->addr, x->code);
			goto out;
		}
		snprintf(uri, sizeof(uri), "sip:%s", t->domain[0] ? t->domain : t->host);
		buf_init(&ah, 2048);
		digest_header(&ch, auth, method, uri, &ah);
		req.len = 0;
		request_build(&req, t, method, tr, c.local, callid, ftag, 2, ah.data);
		buf_release(&ah);
		x->cseq = 2;
		r->sends = 0;
		if (txn_run(&c, req.data, req.len, deadline, x, r, tr) < 0)
			goto out;
	}
	r->status = PROBE_OK;
	r->code = x->code;
	sp_strlcpy(r->reason, x->reason, sizeof(r->reason));
	rc = 0;
out:
	if (req.data)
		secret_wipe(req.data, req.len);
	buf_release(&req);
	free(x);
	conn_close(&c);
	return rc;
}

int probe_sip(const struct probe_target *t, const char *method, const struct probe_auth *auth,
	      struct probe_result *r)
{
	int64_t start = now_ms();
	int64_t deadline = start + (t->timeout_ms > 0 ? t->timeout_ms : 3000);
	const char *tr = t->transport[0] ? t->transport : "udp";
	int port = t->port > 0 ? t->port : probe_default_port(tr);
	struct addrinfo *res = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (strcasecmp(tr, "udp") && strcasecmp(tr, "tcp") && strcasecmp(tr, "tls")) {
		r->status = PROBE_ERROR;
		snprintf(r->text, sizeof(r->text), "unknown transport '%s' (udp, tcp, tls)", tr);
		return -1;
	}
	if (dns_lookup(t->host, strcasecmp(tr, "udp") ? SOCK_STREAM : SOCK_DGRAM, left_ms(deadline), &res,
		       r->text, sizeof(r->text)) < 0) {
		r->status = PROBE_DNS;
		r->elapsed_ms = now_ms() - start;
		return -1;
	}
	/* Try the addresses in order, as a phone would; only a refusal or a
	 * local error moves on (a timeout has used the budget). */
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET)
			((struct sockaddr_in *)ai->ai_addr)->sin_port = htons((uint16_t)port);
		else if (ai->ai_family == AF_INET6)
			((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons((uint16_t)port);
		else
			continue;
		struct probe_result one;
		memset(&one, 0, sizeof(one));
		r->elapsed_ms = 0;
		rc = probe_one(t, method, auth, ai->ai_addr, ai->ai_addrlen, deadline, &one);
		one.elapsed_ms = now_ms() - start;
		*r = one;
		if (rc == 0 || (one.status != PROBE_REFUSED && one.status != PROBE_ERROR))
			break;
	}
	freeaddrinfo(res);
	r->elapsed_ms = now_ms() - start;
	if (rc == 0)
		snprintf(r->text, sizeof(r->text), "%s over %s to %s: %d %s in %ld ms", method, tr, r->addr,
			 r->code, r->reason, r->elapsed_ms);
	else if (r->status == PROBE_TIMEOUT) {
		size_t l = strlen(r->text);
		snprintf(r->text + l, sizeof(r->text) - l, " (gave up after %ld ms)", r->elapsed_ms);
	}
	return rc;
}
