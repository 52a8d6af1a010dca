/*
 * uri.c: the one SIP URI parser (RFC 3261 19.1, RFC 3966 for tel:): scheme,
 * user, host (name, IPv4, [IPv6]), port, and the transport= and maddr=
 * parameters, from a bare URI or the <...> of a name-addr.  It reads only
 * s[len], refuses what is not well formed (control bytes, bad host or port,
 * overlong parts) and skips the headers part ('?...') without reading it.
 * It does not unescape %XX nor keep other parameters.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sip.h"
#include "core/sipprov.h"

static const char *const tr_names[] = { "udp", "tcp", "tls" };

const char *sip_transport_name(enum sip_transport t)
{
	return t <= SIP_TLS ? tr_names[t] : "unknown";
}

int sip_transport_parse(const char *s)
{
	for (int i = 0; i <= SIP_TLS; i++)
		if (!strcasecmp(s, tr_names[i]))
			return i;
	return -1;
}

static bool host_char(unsigned char c)
{
	return isalnum(c) || c == '.' || c == '-' || c == '_';
}

/* Copy p[n] lowercased into dst[size]; false if it does not fit. */
static bool put(char *dst, size_t size, const char *p, size_t n, bool low)
{
	if (n >= size)
		return false;
	for (size_t i = 0; i < n; i++)
		dst[i] = low ? (char)tolower((unsigned char)p[i]) : p[i];
	dst[n] = '\0';
	return true;
}

/* host[:port] in p[n]; the rest (params) is left in *rest. */
static int hostport(const char *p, size_t n, struct sip_uri *u, size_t *used, char *err, size_t errlen)
{
	size_t i = 0, hs, he;
	if (n && p[0] == '[') {
		const char *rb = memchr(p, ']', n);
		if (!rb)
			return sp_err(err, errlen, "unterminated '[' in host");
		hs = 1;
		he = (size_t)(rb - p);
		if (he == hs)
			return sp_err(err, errlen, "empty IPv6 reference");
		for (size_t k = hs; k < he; k++)
			if (!isxdigit((unsigned char)p[k]) && p[k] != ':' && p[k] != '.')
				return sp_err(err, errlen, "bad IPv6 reference '%.*s'", (int)(he - hs), p + hs);
		if (!memchr(p + hs, ':', he - hs))
			return sp_err(err, errlen, "IPv6 reference without ':'");
		i = he + 1;
	} else {
		while (i < n && p[i] != ':' && p[i] != ';')
			i++;
		hs = 0;
		he = i;
		if (he == 0)
			return sp_err(err, errlen, "missing host");
		for (size_t k = 0; k < he; k++)
			if (!host_char((unsigned char)p[k]))
				return sp_err(err, errlen, "bad character in host '%.*s'", (int)(he > 64 ? 64 : he), p);
	}
	if (!put(u->host, sizeof(u->host), p + hs, he - hs, true))
		return sp_err(err, errlen, "overlong host");
	if (i < n && p[i] == ':') {
		long port = 0;
		size_t ps = ++i;
		while (i < n && isdigit((unsigned char)p[i]) && i - ps < 6)
			port = port * 10 + (p[i++] - '0');
		if (i == ps || (i < n && p[i] != ';') || port < 1 || port > 65535)
			return sp_err(err, errlen, "bad port in '%.*s'", (int)(n > 64 ? 64 : n), p);
		u->port = (int)port;
	} else if (i < n && p[i] != ';') {
		return sp_err(err, errlen, "unexpected '%c' after host", p[i]);
	}
	*used = i;
	return 0;
}

/* ;name=value parameters in p[n] (n starts at a ';' or is 0). */
static int params(const char *p, size_t n, struct sip_uri *u, char *err, size_t errlen)
{
	size_t i = 0;
	while (i < n) {
		size_t s = ++i;                 /* past the ';' */
		while (i < n && p[i] != ';')
			i++;
		const char *v = p + s;
		size_t vn = i - s;
		if (vn > 10 && !strncasecmp(v, "transport=", 10)) {
			if (!put(u->transport, sizeof(u->transport), v + 10, vn - 10, true))
				return sp_err(err, errlen, "overlong transport parameter");
		} else if (vn > 6 && !strncasecmp(v, "maddr=", 6)) {
			if (!put(u->maddr, sizeof(u->maddr), v + 6, vn - 6, true))
				return sp_err(err, errlen, "overlong maddr parameter");
		}
	}
	return 0;
}

int sip_uri_parse(const char *s, size_t len, struct sip_uri *u, char *err, size_t errlen)
{
	const char *p = s;
	size_t n = len;
	bool quoted = false;

	memset(u, 0, sizeof(*u));
	while (n && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	/* name-addr: the URI is between the first '<' outside quotes and '>'. */
	for (size_t i = 0; i < n; i++) {
		if (quoted && p[i] == '\\' && i + 1 < n) {
			i++;
		} else if (p[i] == '"') {
			quoted = !quoted;
		} else if (!quoted && p[i] == '<') {
			const char *gt = memchr(p + i, '>', n - i);
			if (!gt)
				return sp_err(err, errlen, "unterminated '<'");
			p += i + 1;
			n = (size_t)(gt - p);
			break;
		}
	}
	if (n == 0)
		return sp_err(err, errlen, "empty URI");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f || p[i] == '<' || p[i] == '>' ||
		    p[i] == '"')
			return sp_err(err, errlen, "bad character in URI at offset %zu", i);
	if (!put(u->text, sizeof(u->text), p, n, false))
		return sp_err(err, errlen, "overlong URI");
	const char *colon = memchr(p, ':', n);
	if (!colon || !put(u->scheme, sizeof(u->scheme), p, (size_t)(colon - p), true) ||
	    (strcmp(u->scheme, "sip") && strcmp(u->scheme, "sips") && strcmp(u->scheme, "tel")))
		return sp_err(err, errlen, "not a sip:, sips: or tel: URI");
	u->sips = !strcmp(u->scheme, "sips");
	n -= (size_t)(colon + 1 - p);
	p = colon + 1;
	/* The headers part is not ours: cut it off before looking for '@'. */
	const char *q = memchr(p, '?', n);
	if (q)
		n = (size_t)(q - p);
	if (!strcmp(u->scheme, "tel")) {
		size_t un = 0;
		while (un < n && p[un] != ';')
			un++;
		if (!un || !put(u->user, sizeof(u->user), p, un, false))
			return sp_err(err, errlen, "bad tel: number");
		return params(p + un, n - un, u, err, errlen);
	}
	const char *at = NULL;
	for (size_t i = 0; i < n; i++)
		if (p[i] == '@')
			at = p + i;
	if (at) {
		size_t un = (size_t)(at - p);
		const char *pw = memchr(p, ':', un);   /* user:password: the password is dropped */
		if (pw)
			un = (size_t)(pw - p);
		if (!un)
			return sp_err(err, errlen, "empty user before '@'");
		if (!put(u->user, sizeof(u->user), p, un, false))
			return sp_err(err, errlen, "overlong user");
		n -= (size_t)(at + 1 - p);
		p = at + 1;
	}
	size_t used = 0;
	if (hostport(p, n, u, &used, err, errlen) < 0)
		return -1;
	return params(p + used, n - used, u, err, errlen);
}

enum sip_transport sip_uri_transport(const struct sip_uri *u)
{
	if (u->transport[0]) {
		int t = sip_transport_parse(u->transport);
		return t < 0 ? SIP_TR_UNKNOWN : (enum sip_transport)t;
	}
	return u->sips ? SIP_TLS : SIP_UDP;
}

int sip_uri_target(const char *s, struct sip_uri *u, char *err, size_t errlen)
{
	char why[160];
	if (sip_uri_parse(s, strlen(s), u, why, sizeof(why)) < 0)
		return sp_err(err, errlen, "bad SIP URI '%.200s': %s", s, why);
	if (!strcmp(u->scheme, "tel"))
		return sp_err(err, errlen, "'%.200s' is a tel: URI, not sip: or sips:", s);
	enum sip_transport t = sip_uri_transport(u);
	if (t == SIP_TR_UNKNOWN)
		return sp_err(err, errlen, "unsupported transport '%s' in '%.200s' (udp, tcp, tls)", u->transport, s);
	if (u->sips && t != SIP_TLS)
		return sp_err(err, errlen, "sips: URI '%.200s' with a transport other than tls", s);
	return 0;
}

int sip_hostport_parse(const char *s, struct sip_uri *u, char *err, size_t errlen)
{
	char uri[sizeof(u->text) + 8];
	if (!strncasecmp(s, "sip:", 4) || !strncasecmp(s, "sips:", 5) || strchr(s, '<'))
		return sip_uri_target(s, u, err, errlen);
	if ((size_t)snprintf(uri, sizeof(uri), "sip:%s", s) >= sizeof(uri))
		return sp_err(err, errlen, "overlong address '%.200s'", s);
	return sip_uri_target(uri, u, err, errlen);
}

int sip_uri_port(const struct sip_uri *u)
{
	return u->port ? u->port : sip_uri_transport(u) == SIP_TLS ? 5061 : 5060;
}
