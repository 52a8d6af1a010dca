/*
 * policy.c: the one implementation of a tenant's policy rules (device auth
 * modes, source CIDR allowlist, username patterns): parse, canonical text,
 * match.  The parsers also read what older versions stored (spaces, host
 * bits, v4-mapped networks) with its meaning.  No database, no logging.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "sipprov.h"

#define ITEM_MAX 128

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Show an item in an error: printable ASCII as is, the rest as \xNN. */
static const char *shown(const char *s, char *out, size_t n)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < n; p++) {
		if (*p >= 0x20 && *p < 0x7f && *p != '"')
			out[o++] = (char)*p;
		else
			o += (size_t)snprintf(out + o, n - o, "\\x%02x", *p);
	}
	out[o] = '\0';
	return out;
}

/* Walk a comma list: each call yields the next item with surrounding
 * whitespace trimmed into item (cut at ITEM_MAX - 1: an item that long
 * is bad in every list).  Returns false at the end. */
static bool next_item(const char **pp, char item[ITEM_MAX])
{
	const char *p = *pp, *b, *e;
	size_t len;
	if (!p)
		return false;
	len = strcspn(p, ",");
	b = p;
	e = p + len;
	while (b < e && is_space(*b))
		b++;
	while (e > b && is_space(e[-1]))
		e--;
	sp_strlcpy(item, b, (size_t)(e - b) + 1 < ITEM_MAX ? (size_t)(e - b) + 1 : ITEM_MAX);
	*pp = p[len] == ',' ? p + len + 1 : NULL;
	return true;
}

/* ---- device auth modes ---- */

static const char *const mode_names[] = { "none", "digest", "mtls", "token" };
#define NMODES (sizeof(mode_names) / sizeof(mode_names[0]))

int policy_auth_parse(const char *text, unsigned *modes, char *err, size_t errlen)
{
	char item[ITEM_MAX], q[ITEM_MAX * 4];
	const char *p = text && text[0] ? text : NULL;
	int rc = 0;
	*modes = 0;
	while (next_item(&p, item)) {
		size_t i;
		for (i = 0; i < NMODES; i++)
			if (strcasecmp(item, mode_names[i]) == 0)
				break;
		if (i < NMODES) {
			*modes |= 1u << i;
			continue;
		}
		if (rc == 0) {
			if (!item[0])
				sp_err(err, errlen, "device_auth \"%s\" has an empty item: use a comma list of none, "
				       "digest, mtls, token", shown(text, q, sizeof(q)));
			else
				sp_err(err, errlen, "device_auth \"%s\" is not one of none, digest, mtls, token",
				       shown(item, q, sizeof(q)));
		}
		rc = -1;
	}
	return rc;
}

void policy_auth_format(unsigned modes, char *out, size_t outlen)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < NMODES; i++)
		if (modes & (1u << i))
			o += sp_cat(out + o, outlen - o, o ? "," : "", mode_names[i], (char *)NULL);
}

/* ---- source allowlist ---- */

static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* Clear the bits past the prefix. */
static void mask(unsigned char a[16], unsigned bits)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * i : 0;
		a[i] &= (unsigned char)(0xff00 >> keep);
	}
}

/* "10.0.0.0/8", "2001:db8::/32", "::ffff:10.0.0.0/104", "192.0.2.1". */
static bool net_parse(const char *item, struct policy_net *n)
{
	char addr[64];
	const char *slash = strchr(item, '/');
	size_t alen = slash ? (size_t)(slash - item) : strlen(item);
	unsigned long bits = 0;
	unsigned max;
	if (alen == 0 || alen >= sizeof(addr))
		return false;
	memcpy(addr, item, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, n->addr + 12) == 1) {
		memcpy(n->addr, v4mapped, 12);
		max = 32;
	} else if (inet_pton(AF_INET6, addr, n->addr) == 1) {
		max = 128;
	} else {
		return false;
	}
	if (slash) {
		/* 1 to 3 digits, nothing else (no sign, no spaces). */
		const char *d = slash + 1;
		size_t nd = strspn(d, "0123456789");
		if (nd == 0 || nd > 3 || d[nd])
			return false;
		bits = strtoul(d, NULL, 10);
		if (bits > max)
			return false;
	} else {
		bits = max;
	}
	n->bits = (unsigned char)(bits + (max == 32 ? 96 : 0));
	mask(n->addr, n->bits);
	return true;
}

int policy_nets_parse(const char *text, struct policy_nets *out, char *err, size_t errlen)
{
	char item[ITEM_MAX], q[ITEM_MAX * 4];
	const char *p = text && text[0] ? text : NULL;
	int rc = 0;
	memset(out, 0, sizeof(*out));
	out->any = p == NULL;
	while (next_item(&p, item)) {
		struct policy_net n;
		bool dup = false;
		if (!item[0] || !net_parse(item, &n)) {
			if (rc == 0 && !item[0])
				sp_err(err, errlen, "allowed sources \"%s\" have an empty item: give a comma list of "
				       "addresses or CIDRs", shown(text, q, sizeof(q)));
			else if (rc == 0)
				sp_err(err, errlen, "allowed source \"%s\" is not an address or CIDR "
				       "(e.g. 192.0.2.0/24, 2001:db8::/32)", shown(item, q, sizeof(q)));
			rc = -1;
			continue;
		}
		for (unsigned i = 0; i < out->n && !dup; i++)
			dup = out->net[i].bits == n.bits && memcmp(out->net[i].addr, n.addr, 16) == 0;
		if (dup)
			continue;
		if (out->n == SP_POLICY_NETS_MAX) {
			if (rc == 0)
				sp_err(err, errlen, "allowed sources: more than %d networks (at \"%s\"): merge them "
				       "into wider prefixes", SP_POLICY_NETS_MAX, shown(item, q, sizeof(q)));
			rc = -1;
			continue;
		}
		out->net[out->n++] = n;
	}
	return rc;
}

int policy_nets_format(const struct policy_nets *nets, char *out, size_t outlen)
{
	size_t o = 0;
	if (outlen == 0)
		return -1;
	out[0] = '\0';
	for (unsigned i = 0; i < nets->n; i++) {
		const struct policy_net *n = &nets->net[i];
		char a[INET6_ADDRSTRLEN];
		bool v4 = n->bits >= 96 && memcmp(n->addr, v4mapped, 12) == 0;
		inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? n->addr + 12 : n->addr, a, sizeof(a));
		int w = snprintf(out + o, outlen - o, "%s%s/%u", i ? "," : "", a, n->bits - (v4 ? 96u : 0u));
		if (w < 0 || (size_t)w >= outlen - o) {
			out[0] = '\0';
			return -1;
		}
		o += (size_t)w;
	}
	return 0;
}

bool policy_nets_match(const struct policy_nets *nets, const unsigned char addr[16])
{
	if (nets->any)
		return true;
	for (unsigned i = 0; i < nets->n; i++) {
		const struct policy_net *n = &nets->net[i];
		unsigned full = n->bits / 8, rem = n->bits % 8;
		if (memcmp(n->addr, addr, full) != 0)
			continue;
		if (rem == 0 || ((addr[full] ^ n->addr[full]) & (0xff00 >> rem)) == 0)
			return true;
	}
	return false;
}

bool policy_addr_sockaddr(const struct sockaddr *sa, unsigned char out[16])
{
	if (sa && sa->sa_family == AF_INET) {
		memcpy(out, v4mapped, 12);
		memcpy(out + 12, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return true;
	}
	if (sa && sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
		return true;
	}
	return false;
}

bool policy_addr_text(const char *ip, unsigned char out[16])
{
	if (ip && inet_pton(AF_INET, ip, out + 12) == 1) {
		memcpy(out, v4mapped, 12);
		return true;
	}
	return ip && inet_pton(AF_INET6, ip, out) == 1;
}

/* ---- username patterns ----
 * Import calls validate_account once per row; the daemon validates every
 * render from several threads.  glibc's regexec is thread-safe on a shared
 * regex_t; entries are never evicted, so a pointer handed out stays
 * valid.  When the cache is full the caller compiles a private copy. */

#define RX_SLOTS 64
static struct { char *pattern; regex_t rx; } rx_cache[RX_SLOTS];
static size_t rx_used;
static pthread_mutex_t rx_lock = PTHREAD_MUTEX_INITIALIZER;

static int rx_compile(regex_t *rx, const char *pattern, char *err, size_t errlen)
{
	int rc = regcomp(rx, pattern, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char why[128];
		regerror(rc, rx, why, sizeof(why));
		regfree(rx);
		return sp_err(err, errlen, "%s", why);
	}
	return 0;
}

int policy_pattern_match(const char *pattern, const char *s, char *err, size_t errlen)
{
	regex_t own, *rx = NULL;
	int rc;
	pthread_mutex_lock(&rx_lock);
	for (size_t i = 0; i < rx_used; i++)
		if (strcmp(rx_cache[i].pattern, pattern) == 0) {
			rx = &rx_cache[i].rx;
			break;
		}
	if (!rx && rx_used < RX_SLOTS) {
		if (rx_compile(&rx_cache[rx_used].rx, pattern, err, errlen) < 0) {
			pthread_mutex_unlock(&rx_lock);
			return -1;
		}
		rx_cache[rx_used].pattern = xstrdup(pattern);
		rx = &rx_cache[rx_used++].rx;
	}
	pthread_mutex_unlock(&rx_lock);
	if (rx)
		return regexec(rx, s, 0, NULL, 0) == 0;
	if (rx_compile(&own, pattern, err, errlen) < 0)
		return -1;
	rc = regexec(&own, s, 0, NULL, 0) == 0;
	regfree(&own);
	return rc;
}

void policy_cleanup(void)
{
	pthread_mutex_lock(&rx_lock);
	for (size_t i = 0; i < rx_used; i++) {
		regfree(&rx_cache[i].rx);
		free(rx_cache[i].pattern);
		rx_cache[i].pattern = NULL;
	}
	rx_used = 0;
	pthread_mutex_unlock(&rx_lock);
}

/* ---- the whole tenant ---- */

/* Pattern without surrounding whitespace into out[n]; it must compile. */
static int pattern_canon(const char *field, const char *in, char *out, size_t n, char *err, size_t errlen)
{
	char why[160], q[SP_NAME_MAX * 4];
	const char *b = in, *e = in + strlen(in);
	while (b < e && is_space(*b))
		b++;
	while (e > b && is_space(e[-1]))
		e--;
	if ((size_t)(e - b) >= n)
		return sp_err(err, errlen, "%s is longer than %zu bytes", field, n - 1);
	memcpy(out, b, (size_t)(e - b));
	out[e - b] = '\0';
	if (out[0] && policy_pattern_match(out, "", why, sizeof(why)) < 0)
		return sp_err(err, errlen, "%s \"%s\" is not a POSIX extended regular expression: %s", field,
			      shown(out, q, sizeof(q)), why);
	return 0;
}

int policy_tenant_canon(struct tenant *t, char *err, size_t errlen)
{
	char auth[sizeof(t->device_auth)], allow[sizeof(t->allow_cidrs)];
	char upat[sizeof(t->username_pattern)], apat[sizeof(t->auth_username_pattern)];
	struct policy_nets nets;
	unsigned modes;

	if (policy_auth_parse(t->device_auth[0] ? t->device_auth : "digest", &modes, err, errlen) < 0)
		return -1;
	policy_auth_format(modes, auth, sizeof(auth));
	if (policy_nets_parse(t->allow_cidrs, &nets, err, errlen) < 0)
		return -1;
	if (policy_nets_format(&nets, allow, sizeof(allow)) < 0)
		return sp_err(err, errlen, "allowed sources are longer than %zu bytes once written as CIDRs",
			      sizeof(allow) - 1);
	if (pattern_canon("username_pattern", t->username_pattern, upat, sizeof(upat), err, errlen) < 0 ||
	    pattern_canon("auth_username_pattern", t->auth_username_pattern, apat, sizeof(apat), err, errlen) < 0)
		return -1;
	memcpy(t->device_auth, auth, sizeof(auth));
	memcpy(t->allow_cidrs, allow, sizeof(allow));
	memcpy(t->username_pattern, upat, sizeof(upat));
	memcpy(t->auth_username_pattern, apat, sizeof(apat));
	return 0;
}
