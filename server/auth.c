/*
 * auth.c: device authentication per tenant policy (none on loopback when
 * configured, token URLs, source CIDR allowlists, per-device HTTP digest)
 * and per-source failure counting with lockout.  It decides; http.c turns
 * every refusal into the same response, so unknown and unauthorized look
 * alike.  It never sees or logs a SIP password.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <microhttpd.h>

#include "auth.h"

static bool policy_has(const char *list, const char *mode)
{
	size_t n = strlen(mode);
	for (const char *p = list; *p;) {
		size_t k = strcspn(p, ",");
		if (k == n && strncmp(p, mode, n) == 0)
			return true;
		p += k;
		if (*p == ',')
			p++;
	}
	return false;
}

bool auth_is_loopback(const struct sockaddr *addr)
{
	if (addr->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)addr)->sin_addr.s_addr) >> 24) == 127;
	if (addr->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)addr)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a))
			return true;
		return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
	}
	return false;
}

/* Compare the first bits of two byte strings. */
static bool prefix_eq(const unsigned char *a, const unsigned char *b, int bits)
{
	int bytes = bits / 8, rem = bits % 8;
	if (memcmp(a, b, (size_t)bytes))
		return false;
	if (rem == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rem));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

static bool cidr_match(const char *cidr, size_t len, const struct sockaddr *addr)
{
	char buf[64];
	unsigned char net[16], host[16];
	long bits;
	int fam;
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, cidr, len);
	buf[len] = '\0';
	char *slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, net) == 1)
		fam = AF_INET;
	else if (inet_pton(AF_INET6, buf, net) == 1)
		fam = AF_INET6;
	else
		return false;
	long maxbits = fam == AF_INET ? 32 : 128;
	if (!slash)
		bits = maxbits;
	else if (sp_parse_int(slash + 1, 0, maxbits, &bits) < 0)
		return false;
	if (addr->sa_family == AF_INET) {
		memcpy(host, &((const struct sockaddr_in *)addr)->sin_addr, 4);
		if (fam != AF_INET)
			return false;
	} else if (addr->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)addr)->sin6_addr;
		if (fam == AF_INET6)
			memcpy(host, a, 16);
		else if (IN6_IS_ADDR_V4MAPPED(a))
			memcpy(host, a->s6_addr + 12, 4);
		else
			return false;
	} else {
		return false;
	}
	return prefix_eq(net, host, (int)bits);
}

bool auth_cidr_allows(const char *cidrs, const struct sockaddr *addr)
{
	if (!cidrs[0])
		return true;
	for (const char *p = cidrs; *p;) {
		size_t k = strcspn(p, ",");
		if (cidr_match(p, k, addr))
			return true;
		p += k;
		if (*p == ',')
			p++;
	}
	return false;
}

enum auth_verdict auth_check(const struct auth_req *r, char *why, size_t whylen)
{
	const struct auth_subject *s = r->subj;
	if (!s->found) {
		sp_err(why, whylen, s->token_route ? "unknown token" : "unknown device");
		return AUTH_DENY;
	}
	if (!s->tenant_active) {
		sp_err(why, whylen, "tenant '%s' suspended", s->tenant);
		return AUTH_DENY;
	}
	if (!s->device_active) {
		sp_err(why, whylen, "device %s disabled", s->mac);
		return AUTH_DENY;
	}
	if (!s->vendor_ok) {
		sp_err(why, whylen, "file name does not match device %s's layout", s->mac);
		return AUTH_DENY;
	}
	if (!auth_cidr_allows(s->allow_cidrs, r->addr)) {
		sp_err(why, whylen, "source %s outside tenant '%s' allowlist", r->ip, s->tenant);
		return AUTH_DENY;
	}
	if (s->token_route) {
		if (policy_has(s->device_auth, "token") && s->token_ok)
			return AUTH_OK;
		sp_err(why, whylen, s->token_ok ? "tenant '%s' does not allow token URLs" : "token revoked",
		       s->tenant);
		return AUTH_DENY;
	}
	if (policy_has(s->device_auth, "none")) {
		if (!s->has_secrets || (r->insecure_loopback && r->loopback))
			return AUTH_OK;
		sp_err(why, whylen, "auth 'none' serves secrets only to loopback with insecure_loopback");
		return AUTH_DENY;
	}
	sp_err(why, whylen, "no accepted credentials for device %s (policy %s)", s->mac, s->device_auth);
	return AUTH_DENY;
}

/* ---- failure counting: a small open-addressed table of sources ---- */

#define FAIL_SLOTS 4096
struct fail_slot {
	unsigned char addr[16];
	int64_t window_start;
	long count;
	int64_t locked_until;
	bool used;
};
static struct fail_slot *fails;
static pthread_mutex_t fail_mu = PTHREAD_MUTEX_INITIALIZER;
static long fail_threshold = 20, fail_window = 60, fail_lockout = 300;

void auth_limits_init(long threshold, long window, long lockout)
{
	fail_threshold = threshold;
	fail_window = window;
	fail_lockout = lockout;
	if (!fails)
		fails = xcalloc(FAIL_SLOTS, sizeof(*fails));
}

void auth_limits_release(void)
{
	free(fails);
	fails = NULL;
}

static void addr_key(const struct sockaddr *a, unsigned char k[16])
{
	memset(k, 0, 16);
	if (a->sa_family == AF_INET)
		memcpy(k + 12, &((const struct sockaddr_in *)a)->sin_addr, 4);
	else if (a->sa_family == AF_INET6)
		memcpy(k, &((const struct sockaddr_in6 *)a)->sin6_addr, 16);
}

/* Find or claim the slot for k; with the table full, reuse the stalest. */
static struct fail_slot *slot_for(const unsigned char k[16], int64_t now)
{
	size_t h = 0;
	for (int i = 0; i < 16; i++)
		h = h * 131 + k[i];
	struct fail_slot *stale = NULL;
	for (size_t i = 0; i < 64; i++) {
		struct fail_slot *s = &fails[(h + i) % FAIL_SLOTS];
		if (s->used && memcmp(s->addr, k, 16) == 0)
			return s;
		if (!s->used || (s->locked_until < now && s->window_start + fail_window < now)) {
			memset(s, 0, sizeof(*s));
			memcpy(s->addr, k, 16);
			s->used = true;
			return s;
		}
		if (!stale || s->window_start < stale->window_start)
			stale = s;
	}
	memset(stale, 0, sizeof(*stale));
	memcpy(stale->addr, k, 16);
	stale->used = true;
	return stale;
}

bool auth_fail_note(const struct sockaddr *addr)
{
	unsigned char k[16];
	int64_t now = sp_now();
	bool started = false;
	if (!fails)
		return false;
	addr_key(addr, k);
	pthread_mutex_lock(&fail_mu);
	struct fail_slot *s = slot_for(k, now);
	if (s->window_start + fail_window < now) {
		s->window_start = now;
		s->count = 0;
	}
	if (++s->count >= fail_threshold && s->locked_until < now) {
		s->locked_until = now + fail_lockout;
		started = true;
	}
	pthread_mutex_unlock(&fail_mu);
	return started;
}

bool auth_locked(const struct sockaddr *addr)
{
	unsigned char k[16];
	int64_t now = sp_now();
	bool locked = false;
	if (!fails)
		return false;
	addr_key(addr, k);
	pthread_mutex_lock(&fail_mu);
	size_t h = 0;
	for (int i = 0; i < 16; i++)
		h = h * 131 + k[i];
	for (size_t i = 0; i < 64; i++) {
		struct fail_slot *s = &fails[(h + i) % FAIL_SLOTS];
		if (s->used && memcmp(s->addr, k, 16) == 0) {
			locked = s->locked_until >= now;
			break;
		}
	}
	pthread_mutex_unlock(&fail_mu);
	return locked;
}
