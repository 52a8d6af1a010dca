/*
 * notify.c: SIP NOTIFY to phones so they re-fetch their config.  One poll()
 * loop drives every transaction in flight: UDP with RFC 3261 17.1.2 timers
 * (retransmit at T1 doubling to T2, give up at Timer F or the caller's
 * timeout), TCP and TLS (non-blocking connect and handshake, send, read the
 * response).  New transactions start at a bounded rate with a bounded
 * number in flight.  It does not choose targets nor store results.
 * OpenSSL ownership: one SSL_CTX per run, one SSL per transaction, both
 * freed before notify_run returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "notify.h"
#include "core/sipprov.h"

#define NOTIFY_IN_MAX 8192

/* ---- URIs ---- */

static const char *tr_name(enum notify_transport t)
{
	return t == NT_TCP ? "tcp" : t == NT_TLS ? "tls" : "udp";
}

static bool host_chars_ok(const char *h)
{
	if (!*h)
		return false;
	for (; *h; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') ||
		      *h == '.' || *h == '-' || *h == ':' || *h == '_'))
			return false;
	return true;
}

/* host[:port] or [v6][:port] at p; returns the byte after it or NULL. */
static const char *parse_hostport(const char *p, struct sip_uri *u, char *err, size_t errlen)
{
	size_t n;
	if (*p == '[') {
		const char *e = strchr(p, ']');
		if (!e || (size_t)(e - p - 1) >= sizeof(u->host)) {
			sp_err(err, errlen, "bad IPv6 reference in '%s'", p);
			return NULL;
		}
		memcpy(u->host, p + 1, (size_t)(e - p - 1));
		u->host[e - p - 1] = '\0';
		p = e + 1;
	} else {
		n = strcspn(p, ":;?>");
		if (n == 0 || n >= sizeof(u->host)) {
			sp_err(err, errlen, "missing or overlong host in '%s'", p);
			return NULL;
		}
		memcpy(u->host, p, n);
		u->host[n] = '\0';
		p += n;
	}
	if (!host_chars_ok(u->host)) {
		sp_err(err, errlen, "bad host '%s'", u->host);
		return NULL;
	}
	if (*p == ':') {
		char num[8];
		long port;
		p++;
		n = strspn(p, "0123456789");
		if (n == 0 || n >= sizeof(num)) {
			sp_err(err, errlen, "bad port in '%s'", p);
			return NULL;
		}
		memcpy(num, p, n);
		num[n] = '\0';
		if (sp_parse_int(num, 1, 65535, &port) < 0) {
			sp_err(err, errlen, "port '%s' out of range", num);
			return NULL;
		}
		u->port = (int)port;
		p += n;
	}
	return p;
}

static int parse_params(const char *p, struct sip_uri *u, char *err, size_t errlen)
{
	while (*p == ';') {
		p++;
		size_t n = strcspn(p, ";?");
		if (n > 10 && !strncasecmp(p, "transport=", 10)) {
			const char *v = p + 10;
			size_t vl = n - 10;
			if (vl == 3 && !strncasecmp(v, "udp", 3))
				u->transport = NT_UDP;
			else if (vl == 3 && !strncasecmp(v, "tcp", 3))
				u->transport = NT_TCP;
			else if (vl == 3 && !strncasecmp(v, "tls", 3))
				u->transport = NT_TLS;
			else
				return sp_err(err, errlen, "unsupported transport '%.*s' (udp, tcp, tls)", (int)vl, v);
			u->transport_given = true;
		}
		p += n;
	}
	return 0;
}

int sip_uri_parse(const char *contact, struct sip_uri *u, char *err, size_t errlen)
{
	const char *p = contact, *e;
	char uri[sizeof(u->text)];
	size_t n;

	memset(u, 0, sizeof(*u));
	if ((e = strchr(contact, '<'))) {
		const char *close = strchr(e, '>');
		if (!close)
			return sp_err(err, errlen, "unterminated '<' in contact '%s'", contact);
		p = e + 1;
		n = (size_t)(close - p);
	} else {
		while (*p == ' ')
			p++;
		n = strcspn(p, " \t\r\n");
	}
	if (n == 0 || n >= sizeof(uri))
		return sp_err(err, errlen, "empty or overlong contact '%s'", contact);
	memcpy(uri, p, n);
	uri[n] = '\0';
	sp_strlcpy(u->text, uri, sizeof(u->text));
	p = uri;
	if (!strncasecmp(p, "sips:", 5)) {
		u->sips = true;
		u->transport = NT_TLS;
		p += 5;
	} else if (!strncasecmp(p, "sip:", 4)) {
		p += 4;
	} else {
		return sp_err(err, errlen, "contact '%s' is not a sip: or sips: URI", contact);
	}
	e = strchr(p, '@');
	if (e && e < p + strcspn(p, "?")) {
		n = strcspn(p, ":@");
		if (n >= sizeof(u->user))
			return sp_err(err, errlen, "overlong user in '%s'", contact);
		memcpy(u->user, p, n);
		u->user[n] = '\0';
		p = e + 1;
	}
	if (!(p = parse_hostport(p, u, err, errlen)))
		return -1;
	if (parse_params(p, u, err, errlen) < 0)
		return -1;
	if (u->sips && u->transport != NT_TLS)
		return sp_err(err, errlen, "sips: URI '%s' with a transport other than tls", contact);
	return 0;
}

int sip_hostport_parse(const char *s, struct sip_uri *u, char *err, size_t errlen)
{
	if (!strncasecmp(s, "sip:", 4) || !strncasecmp(s, "sips:", 5) || strchr(s, '<'))
		return sip_uri_parse(s, u, err, errlen);
	memset(u, 0, sizeof(*u));
	const char *p = parse_hostport(s, u, err, errlen);
	if (!p)
		return -1;
	if (parse_params(p, u, err, errlen) < 0)
		return -1;
	snprintf(u->text, sizeof(u->text), "sip:%s%s%s", strchr(u->host, ':') ? "[" : "", u->host,
		 strchr(u->host, ':') ? "]" : "");
	return 0;
}

static int uri_port(const struct sip_uri *u)
{
	return u->port ? u->port : u->transport == NT_TLS ? 5061 : 5060;
}

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

int notify_build(const struct notify_target *t, const struct sip_uri *via, enum notify_transport tr,
		 const char *local_host, int local_port, const char *branch, const char *tag,
		 const char *callid, struct buf *b)
{
	const char *TR = tr == NT_TCP ? "TCP" : tr == NT_TLS ? "TLS" : "UDP";
	const struct sip_uri *c = &t->contact;

	buf_printf(b, "NOTIFY %s SIP/2.0\r\nVia: SIP/2.0/%s ", c->text, TR);
	put_host(b, local_host);
	buf_printf(b, ":%d;branch=%s;rport\r\nMax-Forwards: 70\r\n", local_port, branch);
	if (via) {
		buf_adds(b, "Route: <sip:");
		put_host(b, via->host);
		buf_printf(b, ":%d;lr%s%s>\r\n", uri_port(via), via->transport != NT_UDP ? ";transport=" : "",
			   via->transport != NT_UDP ? tr_name(via->transport) : "");
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
		   "User-Agent: sipprov/%s\r\nContent-Length: 0\r\n\r\n", local_port, tr_name(tr), t->event,
		   SP_VERSION);
	return b->overflow ? -1 : 0;
}

/* ---- transactions ---- */

enum tx_state { TX_FREE, TX_CONNECTING, TX_HANDSHAKE, TX_SENDING, TX_WAIT };

struct tx {
	enum tx_state st;
	struct notify_target *t;
	enum notify_transport tr;
	int fd;
	SSL *ssl;
	short want;                     /* poll events wanted */
	char branch[40];
	char *msg;
	size_t len, off;
	char in[NOTIFY_IN_MAX];
	size_t inlen;
	int64_t start, deadline, next_retx, interval;   /* microseconds */
	bool icmp;                      /* UDP: port unreachable seen */
};

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void tx_finish(struct tx *x, enum notify_result r, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void tx_finish(struct tx *x, enum notify_result r, int code, const char *fmt, ...)
{
	va_list ap;
	x->t->result = r;
	x->t->code = code;
	va_start(ap, fmt);
	vsnprintf(x->t->detail, sizeof(x->t->detail), fmt, ap);
	va_end(ap);
	if (x->ssl) {
		SSL_free(x->ssl);
		x->ssl = NULL;
	}
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
	free(x->msg);
	x->msg = NULL;
	x->st = TX_FREE;
}

static void ssl_reason(char *out, size_t n, SSL *ssl)
{
	unsigned long e = ERR_get_error();
	long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	if (v != X509_V_OK)
		snprintf(out, n, "certificate verify failed: %s", X509_verify_cert_error_string(v));
	else if (e)
		ERR_error_string_n(e, out, n);
	else
		snprintf(out, n, "connection closed");
	ERR_clear_error();
}

/* The Via/Contact address: the socket's local address after connect. */
static int local_addr(int fd, char *host, size_t hlen, int *port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -1;
	if (getnameinfo((struct sockaddr *)&ss, sl, host, (socklen_t)hlen, NULL, 0, NI_NUMERICHOST) != 0)
		return -1;
	*port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
					 : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

static int tx_build(struct tx *x, const struct notify_opts *o)
{
	char lhost[64], tag[17], callid[96], rnd[17];
	int lport;
	struct buf b;
	if (local_addr(x->fd, lhost, sizeof(lhost), &lport) < 0 || random_hex(rnd, 8) < 0 || random_hex(tag, 4) < 0)
		return -1;
	snprintf(x->branch, sizeof(x->branch), "z9hG4bK-sp%s", rnd);
	if (random_hex(rnd, 8) < 0)
		return -1;
	snprintf(callid, sizeof(callid), "%s@sipprov", rnd);
	buf_init(&b, 4096);
	if (notify_build(x->t, o->via, x->tr, lhost, lport, x->branch, tag, callid, &b) < 0) {
		buf_release(&b);
		return -1;
	}
	x->msg = buf_detach(&b, &x->len);
	x->off = 0;
	return 0;
}

static void tx_start(struct tx *x, struct notify_target *t, const struct notify_opts *o, SSL_CTX *ctx,
		     int64_t now)
{
	const struct sip_uri *dst = o->via ? o->via : &t->contact;
	struct addrinfo hints = { 0 }, *ai = NULL;
	char port[8];
	int rc;

	memset(x, 0, sizeof(*x));
	x->fd = -1;
	x->t = t;
	x->tr = dst->transport;
	x->start = now;
	x->deadline = now + (int64_t)o->timeout_ms * 1000;
	x->st = TX_CONNECTING;
	t->sends = 0;
	hints.ai_socktype = x->tr == NT_UDP ? SOCK_DGRAM : SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	snprintf(port, sizeof(port), "%d", uri_port(dst));
	if ((rc = getaddrinfo(dst->host, port, &hints, &ai)) != 0) {
		tx_finish(x, NR_OTHER, 0, "cannot resolve '%s': %s", dst->host, gai_strerror(rc));
		return;
	}
	x->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (x->fd < 0) {
		freeaddrinfo(ai);
		tx_finish(x, NR_OTHER, 0, "socket: %s", strerror(errno));
		return;
	}
	rc = connect(x->fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (rc < 0 && errno != EINPROGRESS) {
		tx_finish(x, NR_OTHER, 0, "connect to %s:%s: %s", dst->host, port, strerror(errno));
		return;
	}
	if (x->tr == NT_UDP) {
		/* A connected UDP socket: the kernel keeps other sources' datagrams
		 * out, and getsockname gives the address for Via. */
		if (tx_build(x, o) < 0) {
			tx_finish(x, NR_OTHER, 0, "cannot build the request");
			return;
		}
		if (send(x->fd, x->msg, x->len, 0) < 0 && errno == ECONNREFUSED)
			x->icmp = true;
		t->sends = 1;
		x->interval = NOTIFY_T1_MS * 1000;
		x->next_retx = now + x->interval;
		x->st = TX_WAIT;
		x->want = POLLIN;
		return;
	}
	if (x->tr == NT_TLS) {
		x->ssl = SSL_new(ctx);
		if (!x->ssl) {
			tx_finish(x, NR_OTHER, 0, "tls: cannot create a session");
			return;
		}
		SSL_set_fd(x->ssl, x->fd);
		struct in6_addr a6;
		struct in_addr a4;
		bool is_ip = inet_pton(AF_INET, dst->host, &a4) == 1 || inet_pton(AF_INET6, dst->host, &a6) == 1;
		if (o->tls_verify) {
			if (is_ip)
				X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(x->ssl), dst->host);
			else
				SSL_set1_host(x->ssl, dst->host);
		}
		if (!is_ip)
			SSL_set_tlsext_host_name(x->ssl, dst->host);
	}
	x->want = POLLOUT;
}

/* Parse the first complete response in buf (status line + headers + body
 * by Content-Length).  Returns its total length, 0 if incomplete, -1 bad.
 * For UDP, branch must match the top Via's. */
static long parse_response(const char *buf, size_t len, const char *branch, int *code, char *reason,
			   size_t rlen, bool *mine)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	long clen = 0;
	bool seen_via = false;
	if (!end)
		return len >= NOTIFY_IN_MAX - 1 ? -1 : 0;
	if (len < 12 || strncmp(buf, "SIP/2.0 ", 8))
		return -1;
	if (buf[8] < '1' || buf[8] > '6' || buf[9] < '0' || buf[9] > '9' || buf[10] < '0' || buf[10] > '9')
		return -1;
	*code = (buf[8] - '0') * 100 + (buf[9] - '0') * 10 + (buf[10] - '0');
	const char *eol = memmem(buf, (size_t)(end - buf) + 2, "\r\n", 2);
	size_t rl = (size_t)(eol - buf);
	snprintf(reason, rlen, "%.*s", (int)(rl > 8 ? rl - 8 : 0), buf + 8);
	*mine = branch == NULL;
	for (const char *p = eol + 2; p < end; ) {
		const char *q = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
		size_t n = (size_t)(q - p);
		char line[512];
		snprintf(line, sizeof(line), "%.*s", (int)n, p);
		if (!strncasecmp(line, "content-length:", 15) || !strncasecmp(line, "l:", 2)) {
			long v;
			char *val = strchr(line, ':') + 1;
			while (*val == ' ')
				val++;
			if (sp_parse_int(val, 0, NOTIFY_IN_MAX, &v) == 0)
				clen = v;
		} else if (!seen_via && (!strncasecmp(line, "via:", 4) || !strncasecmp(line, "v:", 2))) {
			seen_via = true;
			if (branch) {
				const char *b = strcasestr(line, "branch=");
				size_t bl = strlen(branch);
				*mine = b && !strncmp(b + 7, branch, bl) &&
					(b[7 + bl] == '\0' || b[7 + bl] == ';' || b[7 + bl] == ',' || b[7 + bl] == ' ');
			}
		}
		p = q + 2;
	}
	size_t total = (size_t)(end + 4 - buf) + (size_t)clen;
	return total <= len ? (long)total : 0;
}

static void tx_got(struct tx *x, const struct notify_opts *o, int64_t now)
{
	for (;;) {
		int code = 0;
		char reason[128];
		bool mine = false;
		long n = parse_response(x->in, x->inlen, x->tr == NT_UDP ? x->branch : NULL, &code, reason,
					sizeof(reason), &mine);
		if (n < 0) {
			if (x->tr == NT_UDP) {  /* garbage datagram: ignore */
				x->inlen = 0;
				return;
			}
			tx_finish(x, NR_OTHER, 0, "unparseable response");
			return;
		}
		if (n == 0) {
			if (x->tr == NT_UDP)
				x->inlen = 0;
			return;
		}
		memmove(x->in, x->in + n, x->inlen - (size_t)n);
		x->inlen -= (size_t)n;
		if (!mine)
			continue;
		if (code < 200) {
			/* Proceeding: RFC 3261 17.1.2.2 keeps retransmitting at T2. */
			x->interval = NOTIFY_T2_MS * 1000;
			if (x->next_retx > now + x->interval)
				x->next_retx = now + x->interval;
			continue;
		}
		tx_finish(x, code < 300 ? NR_OK : code == 481 ? NR_481 : NR_OTHER, code, "%s", reason);
		return;
	}
}

static void tx_event(struct tx *x, short rev, const struct notify_opts *o, int64_t now)
{
	int rc;
	if (x->st == TX_CONNECTING) {
		int e = 0;
		socklen_t el = sizeof(e);
		getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &e, &el);
		if (e) {
			tx_finish(x, NR_OTHER, 0, "connect: %s", strerror(e));
			return;
		}
		if (tx_build(x, o) < 0) {
			tx_finish(x, NR_OTHER, 0, "cannot build the request");
			return;
		}
		x->st = x->tr == NT_TLS ? TX_HANDSHAKE : TX_SENDING;
		x->want = POLLOUT;
		return;
	}
	if (x->st == TX_HANDSHAKE) {
		ERR_clear_error();
		rc = SSL_connect(x->ssl);
		if (rc == 1) {
			x->st = TX_SENDING;
			x->want = POLLOUT;
			return;
		}
		int e = SSL_get_error(x->ssl, rc);
		if (e == SSL_ERROR_WANT_READ)
			x->want = POLLIN;
		else if (e == SSL_ERROR_WANT_WRITE)
			x->want = POLLOUT;
		else {
			char why[160];
			ssl_reason(why, sizeof(why), x->ssl);
			tx_finish(x, NR_OTHER, 0, "tls: %s", why);
		}
		return;
	}
	if (x->st == TX_SENDING) {
		if (x->ssl) {
			ERR_clear_error();
			rc = SSL_write(x->ssl, x->msg + x->off, (int)(x->len - x->off));
			if (rc <= 0) {
				int e = SSL_get_error(x->ssl, rc);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
					x->want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
					return;
				}
				char why[160];
				ssl_reason(why, sizeof(why), x->ssl);
				tx_finish(x, NR_OTHER, 0, "tls write: %s", why);
				return;
			}
		} else {
			rc = (int)send(x->fd, x->msg + x->off, x->len - x->off, MSG_NOSIGNAL);
			if (rc < 0) {
				if (errno == EAGAIN || errno == EINTR)
					return;
				tx_finish(x, NR_OTHER, 0, "send: %s", strerror(errno));
				return;
			}
		}
		x->off += (size_t)rc;
		if (x->off == x->len) {
			x->t->sends = 1;
			x->st = TX_WAIT;
			x->want = POLLIN;
		}
		return;
	}
	/* TX_WAIT */
	for (;;) {
		size_t room = sizeof(x->in) - 1 - x->inlen;
		if (x->ssl) {
			ERR_clear_error();
			rc = SSL_read(x->ssl, x->in + x->inlen, (int)room);
			if (rc <= 0) {
				int e = SSL_get_error(x->ssl, rc);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
					x->want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
					return;
				}
				tx_finish(x, NR_OTHER, 0, "connection closed before a final response");
				return;
			}
		} else {
			rc = (int)recv(x->fd, x->in + x->inlen, room, 0);
			if (rc < 0) {
				if (errno == EAGAIN || errno == EINTR)
					return;
				if (x->tr == NT_UDP && errno == ECONNREFUSED) {
					/* ICMP port unreachable: keep retransmitting (the phone may
					 * be rebooting), but say so if it never answers. */
					x->icmp = true;
					continue;
				}
				tx_finish(x, NR_OTHER, 0, "recv: %s", strerror(errno));
				return;
			}
			if (rc == 0 && x->tr != NT_UDP) {
				tx_finish(x, NR_OTHER, 0, "connection closed before a final response");
				return;
			}
		}
		x->inlen += (size_t)rc;
		x->in[x->inlen] = '\0';
		tx_got(x, o, now);
		if (x->st == TX_FREE)
			return;
		if (x->tr == NT_UDP)
			x->inlen = 0;
	}
}

static void tx_timers(struct tx *x, int64_t now)
{
	if (x->st == TX_FREE)
		return;
	if (now >= x->deadline) {
		double s = (double)(now - x->start) / 1e6;
		if (x->tr == NT_UDP)
			tx_finish(x, NR_TIMEOUT, 0, "no answer after %d sends in %.1f s%s", x->t->sends, s,
				  x->icmp ? " (ICMP port unreachable seen)" : "");
		else
			tx_finish(x, NR_TIMEOUT, 0, "no answer in %.1f s (%s)", s,
				  x->st == TX_CONNECTING ? "connecting" : x->st == TX_HANDSHAKE ? "tls handshake" :
				  x->st == TX_SENDING ? "sending" : "waiting for a response");
		return;
	}
	if (x->tr == NT_UDP && x->st == TX_WAIT && now >= x->next_retx) {
		if (send(x->fd, x->msg, x->len, 0) < 0 && errno == ECONNREFUSED)
			x->icmp = true;
		x->t->sends++;
		x->interval = x->interval * 2 > NOTIFY_T2_MS * 1000 ? NOTIFY_T2_MS * 1000 : x->interval * 2;
		x->next_retx = now + x->interval;
	}
}

int notify_run(struct notify_target *t, size_t n, const struct notify_opts *o, char *err, size_t errlen)
{
	size_t conc = o->concurrency > 0 ? (size_t)o->concurrency : 200;
	double rate = o->rate > 0 ? o->rate : 50;
	int64_t gap = (int64_t)(1e6 / rate), next_start = now_us();
	size_t next = 0, done = 0, inflight = 0;
	SSL_CTX *ctx = NULL;
	bool need_tls = o->via ? o->via->transport == NT_TLS : false;
	struct tx *tx;
	struct pollfd *pfd;
	size_t *map;

	for (size_t i = 0; i < n && !o->via; i++)
		if (t[i].contact.transport == NT_TLS)
			need_tls = true;
	if (need_tls) {
		ctx = SSL_CTX_new(TLS_client_method());
		if (!ctx)
			return sp_err(err, errlen, "tls: cannot create a context");
		SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
		if (o->tls_verify) {
			SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
			if (o->tls_ca_file ? SSL_CTX_load_verify_locations(ctx, o->tls_ca_file, NULL) != 1
					   : SSL_CTX_set_default_verify_paths(ctx) != 1) {
				SSL_CTX_free(ctx);
				return sp_err(err, errlen, "tls: cannot load CA certificates%s%s",
					      o->tls_ca_file ? " from " : "", o->tls_ca_file ? o->tls_ca_file : "");
			}
		}
	}
	tx = xcalloc(conc, sizeof(*tx));
	pfd = xcalloc(conc, sizeof(*pfd));
	map = xcalloc(conc, sizeof(*map));
	for (size_t i = 0; i < conc; i++)
		tx[i].fd = -1;
	for (size_t i = 0; i < n; i++) {
		t[i].result = NR_PENDING;
		t[i].code = 0;
		t[i].detail[0] = '\0';
	}
	while (done < n) {
		int64_t now = now_us();
		/* Start what the rate and the concurrency bound allow. */
		while (next < n && inflight < conc && now >= next_start) {
			size_t k = 0;
			while (tx[k].st != TX_FREE)
				k++;
			tx_start(&tx[k], &t[next], o, ctx, now);
			next++;
			next_start = (next_start > now ? next_start : now) + gap;
			if (tx[k].st == TX_FREE) {
				done++;
				if (o->on_done)
					o->on_done(tx[k].t, done, n, o->arg);
			} else {
				inflight++;
			}
		}
		/* Sleep until the next event, retransmission, deadline or start. */
		int64_t wake = next < n && inflight < conc ? next_start : now + 1000000;
		size_t np = 0;
		for (size_t k = 0; k < conc; k++) {
			if (tx[k].st == TX_FREE)
				continue;
			if (tx[k].deadline < wake)
				wake = tx[k].deadline;
			if (tx[k].tr == NT_UDP && tx[k].st == TX_WAIT && tx[k].next_retx < wake)
				wake = tx[k].next_retx;
			pfd[np].fd = tx[k].fd;
			pfd[np].events = tx[k].want;
			pfd[np].revents = 0;
			map[np++] = k;
		}
		int ms = wake > now ? (int)((wake - now + 999) / 1000) : 0;
		if (poll(pfd, np, ms) < 0 && errno != EINTR) {
			sp_err(err, errlen, "poll: %s", strerror(errno));
			break;
		}
		now = now_us();
		for (size_t i = 0; i < np; i++) {
			struct tx *x = &tx[map[i]];
			if (pfd[i].revents)
				tx_event(x, pfd[i].revents, o, now);
			if (x->st != TX_FREE)
				tx_timers(x, now);
			if (x->st == TX_FREE) {
				inflight--;
				done++;
				if (o->on_done)
					o->on_done(x->t, done, n, o->arg);
			}
		}
	}
	for (size_t k = 0; k < conc; k++)
		if (tx[k].st != TX_FREE)
			tx_finish(&tx[k], NR_OTHER, 0, "aborted");
	free(tx);
	free(pfd);
	free(map);
	SSL_CTX_free(ctx);
	return done < n ? -1 : 0;
}
