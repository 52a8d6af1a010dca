/*
 * sipmsg.c: the one bounded SIP message parser, for HEP intake and for the
 * client transaction layer: start line (reason phrase too), top Via (branch),
 * From/To (tags), Call-ID, CSeq, first Contact (+sip.instance, expires),
 * Expires, Content-Length, Authorization username, the first usable Digest
 * challenge, User-Agent and Reason, with compact names, folded lines, any
 * case, CRLF or LF.  URIs go through uri.c.  It reads only buf[len], copies
 * what it keeps into fixed fields (non-printable bytes become '?'), and does
 * not look at bodies or validate the rest of the grammar.
 */
#include <ctype.h>
#include <string.h>

#include "sip.h"
#include "core/sipprov.h"

/* Copy p[n] into dst[size]: truncated, NUL-terminated, printable ASCII only. */
static void copy_field(char *dst, size_t size, const char *p, size_t n)
{
	if (n >= size)
		n = size - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[n] = '\0';
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* Trim spaces and tabs on both ends of [*p, *p+*n). */
static void trim(const char **p, size_t *n)
{
	while (*n && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*n)--;
	}
	while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
		(*n)--;
}

/* First position of c in p[n] outside double quotes and <>; n if none. */
static size_t find_outside(const char *p, size_t n, char c)
{
	bool quoted = false;
	int angle = 0;
	for (size_t i = 0; i < n; i++) {
		if (quoted) {
			if (p[i] == '\\' && i + 1 < n)
				i++;
			else if (p[i] == '"')
				quoted = false;
			continue;
		}
		if (p[i] == '"')
			quoted = true;
		else if (p[i] == '<')
			angle++;
		else if (p[i] == '>' && angle)
			angle--;
		else if (p[i] == c && !angle)
			return i;
	}
	return n;
}

static bool parse_long(const char *p, size_t n, long max, long *out)
{
	long v = 0;
	if (n == 0 || n > 10)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (p[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* Value of header parameter name= in p[n] (params after the URI part),
 * unquoted.  Returns true if present. */
static bool header_param(const char *p, size_t n, const char *name, char *out, size_t outsize)
{
	size_t nl = strlen(name);
	size_t i = find_outside(p, n, ';');
	while (i < n) {
		const char *ps = p + i + 1;
		size_t rest = n - i - 1;
		size_t plen = find_outside(ps, rest, ';');
		const char *v = ps;
		size_t vn = plen;
		trim(&v, &vn);
		if (vn > nl && strncasecmp(v, name, nl) == 0 && (v[nl] == '=' || v[nl] == ' ')) {
			const char *eq = memchr(v, '=', vn);
			if (eq) {
				const char *val = eq + 1;
				size_t valn = vn - (size_t)(val - v);
				trim(&val, &valn);
				if (valn >= 2 && val[0] == '"' && val[valn - 1] == '"') {
					val++;
					valn -= 2;
				}
				if (valn >= 2 && val[0] == '<' && val[valn - 1] == '>') {
					val++;
					valn -= 2;
				}
				copy_field(out, outsize, val, valn);
				return true;
			}
		}
		i += 1 + plen;
	}
	return false;
}

static void parse_via(struct sipmsg *m, const char *p, size_t n)
{
	/* Top Via only: the first comma-separated value. */
	n = find_outside(p, n, ',');
	trim(&p, &n);
	/* SIP/2.0/UDP host:port;params */
	size_t i = 0, slashes = 0;
	while (i < n && slashes < 2) {
		if (p[i] == '/')
			slashes++;
		i++;
	}
	if (slashes < 2)
		return;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	size_t ts = i;
	while (i < n && p[i] != ' ' && p[i] != '\t')
		i++;
	copy_field(m->via_transport, sizeof(m->via_transport), p + ts, i - ts);
	lower(m->via_transport);
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	size_t hs = i, he;
	if (i < n && p[i] == '[') {
		while (i < n && p[i] != ']')
			i++;
		he = i;
		hs++;
		if (i < n)
			i++;
	} else {
		while (i < n && p[i] != ':' && p[i] != ';' && p[i] != ' ')
			i++;
		he = i;
	}
	copy_field(m->via_host, sizeof(m->via_host), p + hs, he - hs);
	lower(m->via_host);
	header_param(p + i, n - i, "branch", m->via_branch, sizeof(m->via_branch));
	if (i < n && p[i] == ':') {
		size_t ps = ++i;
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
		if (!parse_long(p + ps, i - ps, 65535, &m->via_port))
			m->via_port = 0;
	}
}

/* name-addr or addr-spec: the URI ends at '>' or, bare, at the first ';'. */
static void parse_addr(struct sip_uri *u, const char *p, size_t n)
{
	trim(&p, &n);
	if (!memchr(p, '<', n))
		n = find_outside(p, n, ';');
	if (sip_uri_parse(p, n, u, NULL, 0) < 0)
		memset(u, 0, sizeof(*u));
}

static void parse_contact(struct sipmsg *m, const char *p, size_t n)
{
	char v[32];
	if (m->contact[0])
		return;                     /* first Contact only */
	n = find_outside(p, n, ',');
	trim(&p, &n);
	if (n == 1 && p[0] == '*') {
		copy_field(m->contact, sizeof(m->contact), p, 1);
		return;
	}
	size_t un = memchr(p, '<', n) ? n : find_outside(p, n, ';');
	const char *u = p;
	if (memchr(p, '<', n)) {
		const char *lt = memchr(p, '<', n), *gt = memchr(lt, '>', n - (size_t)(lt - p));
		if (!gt)
			return;
		u = lt + 1;
		un = (size_t)(gt - lt - 1);
	}
	copy_field(m->contact, sizeof(m->contact), u, un);
	if (sip_uri_parse(u, un, &m->contact_uri, NULL, 0) < 0)
		memset(&m->contact_uri, 0, sizeof(m->contact_uri));
	/* Header params start after the URI. */
	const char *hp = u + un;
	size_t hn = n - (size_t)(hp - p);
	header_param(hp, hn, "+sip.instance", m->instance, sizeof(m->instance));
	if (header_param(hp, hn, "expires", v, sizeof(v)))
		if (!parse_long(v, strlen(v), 0x7fffffff, &m->contact_expires))
			m->contact_expires = -1;
}

/* Value of auth-param key in a credentials or challenge value
 * ("Digest k=v, k="v", ..."), unquoted; true if present.  The scheme token
 * is skipped; a key inside another parameter's quoted value never matches. */
static bool auth_param(const char *p, size_t n, const char *key, char *out, size_t outsize)
{
	size_t kl = strlen(key), i = 0;
	trim(&p, &n);
	while (i < n && p[i] != ' ' && p[i] != '\t')
		i++;
	while (i < n) {
		const char *ps = p + i;
		size_t plen = find_outside(ps, n - i, ',');
		const char *v = ps;
		size_t vn = plen;
		trim(&v, &vn);
		if (vn > kl && strncasecmp(v, key, kl) == 0) {
			const char *x = v + kl;
			size_t xn = vn - kl;
			trim(&x, &xn);
			if (xn && *x == '=') {
				x++;
				xn--;
				trim(&x, &xn);
				if (xn >= 2 && x[0] == '"' && x[xn - 1] == '"') {
					x++;
					xn -= 2;
				}
				copy_field(out, outsize, x, xn);
				return true;
			}
		}
		i += plen + 1;
	}
	return false;
}

static bool digest_alg_ok(const char *alg)
{
	return !alg[0] || !strcasecmp(alg, "MD5") || !strcasecmp(alg, "SHA-256");
}

/* Keep the first Digest challenge, or a later one if the first names an
 * algorithm nobody here can answer (RFC 8760 servers send several). */
static void parse_challenge(struct sipmsg *m, const char *p, size_t n, bool proxy)
{
	struct sip_challenge c;
	trim(&p, &n);
	if (n < 7 || strncasecmp(p, "Digest", 6) || (p[6] != ' ' && p[6] != '\t'))
		return;
	if (m->challenge.present && digest_alg_ok(m->challenge.algorithm))
		return;
	memset(&c, 0, sizeof(c));
	c.present = true;
	c.proxy = proxy;
	auth_param(p, n, "realm", c.realm, sizeof(c.realm));
	auth_param(p, n, "nonce", c.nonce, sizeof(c.nonce));
	auth_param(p, n, "opaque", c.opaque, sizeof(c.opaque));
	auth_param(p, n, "algorithm", c.algorithm, sizeof(c.algorithm));
	auth_param(p, n, "qop", c.qop, sizeof(c.qop));
	if (!m->challenge.present || digest_alg_ok(c.algorithm))
		m->challenge = c;
}

/* Reason: protocol ;cause=N ;text="..." (RFC 3326), first value only. */
static void parse_reason(struct sipmsg *m, const char *p, size_t n)
{
	char v[16];
	if (m->reason_proto[0])
		return;
	n = find_outside(p, n, ',');
	trim(&p, &n);
	size_t t = 0;
	while (t < n && p[t] != ';' && p[t] != ' ' && p[t] != '\t')
		t++;
	copy_field(m->reason_proto, sizeof(m->reason_proto), p, t);
	if (header_param(p, n, "cause", v, sizeof(v)) && !parse_long(v, strlen(v), 0x7fffffff, &m->reason_cause))
		m->reason_cause = -1;
	header_param(p, n, "text", m->reason_text, sizeof(m->reason_text));
}

static bool name_is(const char *name, size_t nl, const char *full, char compact)
{
	if (nl == 1 && compact && tolower((unsigned char)name[0]) == compact)
		return true;
	return strlen(full) == nl && strncasecmp(name, full, nl) == 0;
}

static int header(struct sipmsg *m, const char *line, size_t n, char *err, size_t errlen)
{
	const char *colon = memchr(line, ':', n);
	if (!colon)
		return sp_err(err, errlen, "header without ':'");
	const char *name = line;
	size_t nl = (size_t)(colon - line);
	trim(&name, &nl);
	const char *v = colon + 1;
	size_t vn = n - (size_t)(v - line);
	trim(&v, &vn);
	if (name_is(name, nl, "via", 'v')) {
		if (!m->via_transport[0])
			parse_via(m, v, vn);
	} else if (name_is(name, nl, "from", 'f')) {
		parse_addr(&m->from, v, vn);
		header_param(v, vn, "tag", m->from_tag, sizeof(m->from_tag));
	} else if (name_is(name, nl, "to", 't')) {
		parse_addr(&m->to, v, vn);
		header_param(v, vn, "tag", m->to_tag, sizeof(m->to_tag));
	} else if (name_is(name, nl, "call-id", 'i')) {
		copy_field(m->call_id, sizeof(m->call_id), v, vn);
	} else if (name_is(name, nl, "cseq", 0)) {
		size_t i = 0;
		while (i < vn && v[i] >= '0' && v[i] <= '9')
			i++;
		if (!parse_long(v, i, 0x7fffffff, &m->cseq))
			return sp_err(err, errlen, "bad CSeq");
		const char *mp = v + i;
		size_t mn = vn - i;
		trim(&mp, &mn);
		copy_field(m->cseq_method, sizeof(m->cseq_method), mp, mn);
	} else if (name_is(name, nl, "contact", 'm')) {
		parse_contact(m, v, vn);
	} else if (name_is(name, nl, "expires", 0)) {
		if (!parse_long(v, vn, 0x7fffffff, &m->expires))
			m->expires = -1;
	} else if (name_is(name, nl, "authorization", 0) || name_is(name, nl, "proxy-authorization", 0)) {
		if (!m->auth_username[0])
			auth_param(v, vn, "username", m->auth_username, sizeof(m->auth_username));
	} else if (name_is(name, nl, "www-authenticate", 0) || name_is(name, nl, "proxy-authenticate", 0)) {
		parse_challenge(m, v, vn, nl == 18);
	} else if (name_is(name, nl, "content-length", 'l')) {
		if (!parse_long(v, vn, 0x7fffffff, &m->content_length))
			m->content_length = -1;
	} else if (name_is(name, nl, "reason", 0)) {
		parse_reason(m, v, vn);
	} else if (name_is(name, nl, "user-agent", 0)) {
		copy_field(m->user_agent, sizeof(m->user_agent), v, vn);
	}
	return 0;
}

static int start_line(struct sipmsg *m, const char *p, size_t n, char *err, size_t errlen)
{
	if (n >= 11 && strncmp(p, "SIP/2.0 ", 8) == 0) {
		long code;
		if (!parse_long(p + 8, 3, 699, &code) || code < 100 || (n > 11 && p[11] != ' '))
			return sp_err(err, errlen, "bad status line");
		m->code = (int)code;
		if (n > 12)
			copy_field(m->reason, sizeof(m->reason), p + 12, n - 12);
		return 0;
	}
	const char *sp1 = memchr(p, ' ', n);
	if (!sp1 || sp1 == p || sp1 - p >= (long)sizeof(m->method))
		return sp_err(err, errlen, "bad request line");
	const char *u = sp1 + 1;
	const char *sp2 = memchr(u, ' ', n - (size_t)(u - p));
	if (!sp2 || (size_t)(p + n - sp2) != 8 || strncmp(sp2 + 1, "SIP/2.0", 7))
		return sp_err(err, errlen, "bad request line");
	for (const char *x = p; x < sp1; x++)
		if (!isupper((unsigned char)*x) && *x != '-' && *x != '_' && *x != '.')
			return sp_err(err, errlen, "bad request method");
	m->request = true;
	copy_field(m->method, sizeof(m->method), p, (size_t)(sp1 - p));
	if (sip_uri_parse(u, (size_t)(sp2 - u), &m->ruri, NULL, 0) < 0)
		return sp_err(err, errlen, "bad request-URI");
	return 0;
}

/* Next line in [*pos, len): returns its length without CR/LF, or -1 at end. */
static long next_line(const char *buf, size_t len, size_t *pos, const char **line)
{
	if (*pos >= len)
		return -1;
	const char *s = buf + *pos;
	const char *nl = memchr(s, '\n', len - *pos);
	size_t n = nl ? (size_t)(nl - s) : len - *pos;
	*pos += n + (nl ? 1 : 0);
	if (n && s[n - 1] == '\r')
		n--;
	*line = s;
	return (long)n;
}

int sipmsg_parse(const char *buf, size_t len, struct sipmsg *m, char *err, size_t errlen)
{
	char line[SIPMSG_MAX_LINE];
	size_t pos = 0, have = 0;
	int nheaders = 0;
	const char *l;
	long n;

	memset(m, 0, sizeof(*m));
	m->contact_expires = -1;
	m->expires = -1;
	m->content_length = -1;
	m->reason_cause = -1;
	/* RFC 3261 7.5: ignore empty lines before the start line (keep-alives). */
	do {
		n = next_line(buf, len, &pos, &l);
	} while (n == 0);
	if (n < 0)
		return sp_err(err, errlen, "empty message");
	if (n > SIPMSG_MAX_LINE)
		return sp_err(err, errlen, "start line too long");
	if (start_line(m, l, (size_t)n, err, errlen) < 0)
		return -1;
	for (;;) {
		n = next_line(buf, len, &pos, &l);
		bool folded = n > 0 && (l[0] == ' ' || l[0] == '\t');
		if (folded && have) {
			/* Folded: continue the previous header with one space. */
			if (have + 1 + (size_t)n > sizeof(line))
				return sp_err(err, errlen, "header too long");
			line[have++] = ' ';
			memcpy(line + have, l, (size_t)n);
			have += (size_t)n;
			continue;
		}
		if (have) {
			if (header(m, line, have, err, errlen) < 0)
				return -1;
			have = 0;
		}
		if (n <= 0)
			break;                  /* end of headers or of the buffer */
		if (folded)
			return sp_err(err, errlen, "folded line without a header");
		if (++nheaders > SIPMSG_MAX_HEADERS)
			return sp_err(err, errlen, "too many headers");
		if ((size_t)n > sizeof(line))
			return sp_err(err, errlen, "header too long");
		memcpy(line, l, (size_t)n);
		have = (size_t)n;
	}
	if (!m->call_id[0])
		return sp_err(err, errlen, "no Call-ID");
	if (!m->cseq_method[0])
		return sp_err(err, errlen, "no CSeq");
	if (!m->request)
		copy_field(m->method, sizeof(m->method), m->cseq_method, strlen(m->cseq_method));
	return 0;
}

/* Compact forms (RFC 3261 7.3.3 and later RFCs' registrations). */
static const struct { char c; const char *name; } compact[] = {
	{ 'i', "call-id" }, { 'v', "via" }, { 'l', "content-length" }, { 'f', "from" }, { 't', "to" },
	{ 'm', "contact" }, { 'c', "content-type" }, { 'e', "content-encoding" }, { 'k', "supported" },
	{ 's', "subject" }, { 'o', "event" }, { 'u', "allow-events" }, { 'r', "refer-to" },
};

int sipmsg_header(const char *buf, size_t len, const char *name, char *out, size_t outlen)
{
	char c = 0;
	size_t pos = 0, nl = strlen(name);
	const char *l;
	long n;

	for (size_t i = 0; i < sizeof(compact) / sizeof(compact[0]); i++)
		if (!strcasecmp(name, compact[i].name))
			c = compact[i].c;
	do {
		n = next_line(buf, len, &pos, &l);
	} while (n == 0);
	while ((n = next_line(buf, len, &pos, &l)) > 0) {
		const char *colon = memchr(l, ':', (size_t)n);
		if (!colon)
			continue;
		const char *h = l;
		size_t hl = (size_t)(colon - l);
		trim(&h, &hl);
		if (!((hl == nl && !strncasecmp(h, name, nl)) || (c && name_is(h, hl, name, c))))
			continue;
		const char *v = colon + 1;
		size_t vn = (size_t)n - (size_t)(v - l);
		trim(&v, &vn);
		if (outlen)
			copy_field(out, outlen, v, vn);
		return 1;
	}
	return 0;
}

long sipmsg_frame(const char *buf, size_t len, size_t max)
{
	size_t i = 0, body = 0;
	char cl[24];
	long v = 0;

	while (i < len && (buf[i] == '\r' || buf[i] == '\n'))
		i++;
	for (size_t k = i; k < len; k++) {
		if (buf[k] != '\n')
			continue;
		if (k + 1 < len && buf[k + 1] == '\n') {
			body = k + 2;
			break;
		}
		if (k + 2 < len && buf[k + 1] == '\r' && buf[k + 2] == '\n') {
			body = k + 3;
			break;
		}
	}
	if (!body)
		return len >= max ? -1 : 0;
	if (sipmsg_header(buf + i, body - i, "content-length", cl, sizeof(cl)) &&
	    !parse_long(cl, strlen(cl), (long)max, &v))
		return -1;
	if (body + (size_t)v > max)
		return -1;
	return body + (size_t)v <= len ? (long)(body + (size_t)v) : 0;
}
