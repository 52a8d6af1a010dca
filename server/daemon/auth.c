/*
 * auth.c: device authentication per tenant policy (none on loopback when
 * configured, token URLs, source CIDR allowlists, per-device HTTP digest
 * against the stored HA1, mutual TLS through tls_peer.c) and per-source
 * failure counting with lockout.  It decides; http.c turns every refusal
 * into the same response, so unknown and unauthorized look alike.  It
 * never sees or logs a SIP password or an HTTP password.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <microhttpd.h>
#include <openssl/rand.h>

#include "auth.h"
#include "nonce.h"
#include "tls_ossl.h"
#include "tls_peer.h"

/* Allowlists by text, parsed once.  One is never freed: render cache
 * entries, in memory and in its file, point at it.  A tenant has one at a
 * time, so the table grows only when an admin writes a new one. */
#define NETS_BUCKETS 256
struct nets_kept {
	struct nets_kept *next;
	char *text;
	struct policy_nets nets;
};
static pthread_mutex_t nets_mu = PTHREAD_MUTEX_INITIALIZER;
static struct nets_kept *nets_kept[NETS_BUCKETS];
static const struct policy_nets nets_every = { .any = true };

static const struct policy_nets *nets_intern(const char *text)
{
	if (!text || !text[0])
		return &nets_every;
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		h = (h ^ *p) * 16777619u;
	pthread_mutex_lock(&nets_mu);
	struct nets_kept **b = &nets_kept[h % NETS_BUCKETS], *k = *b;
	while (k && strcmp(k->text, text))
		k = k->next;
	if (!k) {
		k = xcalloc(1, sizeof(*k));
		k->text = xstrdup(text);
		policy_nets_parse(text, &k->nets, NULL, 0);
		k->next = *b;
		*b = k;
	}
	pthread_mutex_unlock(&nets_mu);
	return &k->nets;
}

void auth_subject_policy(struct auth_subject *s, const char *device_auth, const char *allow_cidrs)
{
	/* Errors are for the writers; a legacy row still yields what it meant,
	 * and an allowlist it cannot read refuses rather than allows. */
	policy_auth_parse(device_auth, &s->auth_modes, NULL, 0);
	policy_auth_format(s->auth_modes, s->device_auth, sizeof(s->device_auth));
	s->allow = nets_intern(allow_cidrs);
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

/* ---- digest ---- */

/* HA1 for requests that cannot succeed (unknown device, wrong user, no
 * credentials): the check still runs, so the nonce verdict (stale or not)
 * and the work done are the same as for a real device. */
static unsigned char dummy_ha1[32];

/* The header's next parameter from p: name and value (quotes off, escapes
 * kept), or *name NULL for an element without '='.  Returns where the scan
 * goes on; "" at the end. */
static const char *param_next(const char *p, const char **name, size_t *nl, const char **v, size_t *vl)
{
	while (*p == ' ' || *p == ',' || *p == '\t')
		p++;
	const char *n = p;
	while (*p && *p != '=' && *p != ',' && *p != ' ')
		p++;
	*nl = (size_t)(p - n);
	while (*p == ' ')
		p++;
	if (*p != '=') {
		while (*p && *p != ',')
			p++;
		*name = NULL;
		return p;
	}
	*name = n;
	p++;
	while (*p == ' ')
		p++;
	*v = p;
	if (*p == '"') {
		*v = ++p;
		while (*p && *p != '"') {
			if (*p == '\\' && p[1])
				p++;
			p++;
		}
		*vl = (size_t)(p - *v);
		if (*p == '"')
			p++;
	} else {
		while (*p && *p != ',' && *p != ' ')
			p++;
		*vl = (size_t)(p - *v);
	}
	return p;
}

static const char *params_start(const char *header)
{
	return strncasecmp(header, "Digest ", 7) == 0 ? header + 7 : header;
}

/* The value found into out: 1, or 0 (out "") when it does not fit. */
static int param_copy(const char *v, size_t vl, char *out, size_t outlen)
{
	if (vl >= outlen)
		return 0;
	memcpy(out, v, vl);
	out[vl] = '\0';
	return 1;
}

int auth_digest_param(const char *header, const char *key, char *out, size_t outlen)
{
	size_t kl = strlen(key), nl, vl;
	const char *p = params_start(header), *name, *v;
	out[0] = '\0';
	while (*p) {
		p = param_next(p, &name, &nl, &v, &vl);
		if (name && nl == kl && strncasecmp(name, key, kl) == 0)
			return param_copy(v, vl, out, outlen);
	}
	return 0;
}

void auth_params_parse(struct auth_params *ap, const char *header)
{
	const char *p = params_start(header);
	ap->header = header;
	ap->n = 0;
	while (*p && ap->n < AUTH_PARAMS_MAX) {
		struct auth_param *e = &ap->p[ap->n];
		p = param_next(p, &e->name, &e->nl, &e->v, &e->vl);
		if (e->name)
			ap->n++;
	}
	ap->more = *p != '\0';
}

int auth_params_get(const struct auth_params *ap, const char *key, char *out, size_t outlen)
{
	size_t kl = strlen(key);
	out[0] = '\0';
	for (size_t i = 0; i < ap->n; i++)
		if (ap->p[i].nl == kl && strncasecmp(ap->p[i].name, key, kl) == 0)
			return param_copy(ap->p[i].v, ap->p[i].vl, out, outlen);
	/* Past the first AUTH_PARAMS_MAX: the scan from the start finds
	 * the same first match. */
	return ap->more ? auth_digest_param(ap->header, key, out, outlen) : 0;
}

enum dig { DIG_NONE, DIG_OK, DIG_BAD, DIG_STALE };

/* Is the header's response right for this HA1 (RFC 7616 3.4.1, qop=auth
 * or none)?  Computed for unknown devices too (with the dummy HA1), so the
 * time taken says nothing about which MACs exist.  The nonce is judged
 * apart (nonce.c): a right response on a stale nonce gets stale=true, so
 * the phone retries at once instead of failing. */
static bool digest_response_ok(const struct auth_params *ap, const char *method, const char *nonce, const char *uri,
			       const char *nc, const unsigned char *ha1, size_t len, bool sha256)
{
	char cnonce[160], qop[16], resp[80], h1[65], h2[65], want[65];
	char buf[1600];
	void (*hash)(const void *, size_t, char *) = sha256 ? sha256_hex : md5_hex;
	if (!auth_params_get(ap, "response", resp, sizeof(resp)))
		return false;
	bool q = auth_params_get(ap, "qop", qop, sizeof(qop));
	if (q && (strcasecmp(qop, "auth") || !nc[0] || !auth_params_get(ap, "cnonce", cnonce, sizeof(cnonce))))
		return false;
	sp_hex(ha1, len, h1);
	size_t a2 = sp_cat(buf, sizeof(buf), method, ":", uri, (char *)NULL);
	hash(buf, a2, h2);
	size_t blen = q ? sp_cat(buf, sizeof(buf), h1, ":", nonce, ":", nc, ":", cnonce, ":auth:", h2, (char *)NULL)
			: sp_cat(buf, sizeof(buf), h1, ":", nonce, ":", h2, (char *)NULL);
	hash(buf, blen, want);
	secret_wipe(h1, sizeof(h1));
	secret_wipe(buf, (blen > a2 ? blen : a2) + 1);  /* the bytes written, not all 1,600 */
	size_t n = strlen(want);
	unsigned char diff = strlen(resp) != n;
	for (size_t i = 0; i < n && resp[i]; i++)
		diff |= (unsigned char)(want[i] ^ (resp[i] | 0x20));   /* hex digits, either case */
	return !diff;
}

/* Does the header's uri name this request's path (the query aside)?  The
 * listener keeps URLs escaped as sent, so bytes compare. */
static bool digest_uri_ok(const char *uri, const char *url)
{
	size_t n = strcspn(uri, "?");
	return url && strlen(url) == n && memcmp(uri, url, n) == 0;
}

/* Run the digest check for whatever Authorization header came, against
 * the device's HA1 when the header's user is this device's http_user and
 * the tenant accepts digest, else against the dummy. */
static enum dig digest_eval(const struct auth_req *r, bool *fresh, char *why, size_t whylen)
{
	const struct auth_subject *s = r->subj;
	const char *hdr = r->headers ? r->authz
				     : MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	char algo_s[32], ncs[16], user[256], nonce[160], uri[1024], ue[100] = "";
	unsigned char ha1[32];
	size_t len;
	bool sha256;

	*fresh = false;
	if (!hdr || strncasecmp(hdr, "Digest ", 7) != 0) {
		sp_err(why, whylen, hdr ? "authorization is not Digest" : "no credentials");
		return DIG_NONE;
	}
	/* One pass over the header: eight parameters are read from it. */
	struct auth_params ap;
	auth_params_parse(&ap, hdr);
	if (!auth_params_get(&ap, "username", user, sizeof(user)) ||
	    !auth_params_get(&ap, "nonce", nonce, sizeof(nonce)) || !auth_params_get(&ap, "uri", uri, sizeof(uri))) {
		sp_err(why, whylen, "malformed digest credentials");
		return DIG_BAD;
	}
	/* The user name is client bytes bound for the log. */
	sp_log_escape(user, ue, sizeof(ue));
	auth_params_get(&ap, "algorithm", algo_s, sizeof(algo_s));
	if (!algo_s[0] || !strcasecmp(algo_s, "MD5")) {
		sha256 = false;
		len = 16;
	} else if (!strcasecmp(algo_s, "SHA-256")) {
		sha256 = true;
		len = 32;
	} else {
		char ae[64];
		sp_err(why, whylen, "digest algorithm '%s' not supported", sp_log_escape(algo_s, ae, sizeof(ae)));
		return DIG_BAD;
	}
	if (!digest_uri_ok(uri, r->url)) {
		char pe[200];
		sp_err(why, whylen, "digest uri '%s' is not the requested path (user '%s')",
		       sp_log_escape(uri, pe, sizeof(pe)), ue);
		return DIG_BAD;
	}
	const char *h = sha256 ? s->ha1_sha256 : s->ha1_md5;
	bool real = s->found && (s->auth_modes & POLICY_AUTH_DIGEST) && s->http_user[0] &&
		    strcmp(user, s->http_user) == 0 && sp_hex_decode(h, strlen(h), ha1, len) == 0;
	if (!real)
		memcpy(ha1, dummy_ha1, len);
	/* Header values parsed once: the nonce check and the response share them. */
	uint32_t nc = auth_params_get(&ap, "nc", ncs, sizeof(ncs)) ? (uint32_t)strtoul(ncs, NULL, 16) : 0;
	enum nonce_verdict nv = nonce_check(nonce, nc, AUTH_NONCE_TIMEOUT);
	bool resp_ok = digest_response_ok(&ap, r->method ? r->method : "GET", nonce, uri, ncs, ha1, len, sha256);
	secret_wipe(ha1, sizeof(ha1));
	if (nv == NONCE_REPLAY && resp_ok && real) {
		sp_err(why, whylen, "right digest response but the nonce was not accepted (a replay: nc %u was "
			       "already used) for user '%s': challenged again with stale=true", nc, ue);
		return DIG_STALE;
	}
	if (nv != NONCE_OK) {
		sp_err(why, whylen, "%s digest nonce (user '%s')",
		       nv == NONCE_EXPIRED ? "expired" : nv == NONCE_REPLAY ? "replayed" : "stale or unknown", ue);
		return DIG_STALE;
	}
	if (resp_ok && real) {
		nonce_accepted(nonce, nc);
		*fresh = nc == 1;
		return DIG_OK;
	}
	if (!s->found || !(s->auth_modes & POLICY_AUTH_DIGEST))
		sp_err(why, whylen, "digest credentials for user '%s'", ue);
	else if (!s->http_user[0] || !s->ha1_md5[0])
		sp_err(why, whylen, "device %s has no digest credentials (sipprov device credentials %s)", s->mac,
		       s->mac);
	else if (strcmp(user, s->http_user) != 0)
		sp_err(why, whylen, "digest user '%s' is not device %s's user", ue, s->mac);
	else
		sp_err(why, whylen, "wrong digest response for user '%s' (%s)", ue, sha256 ? "SHA-256" : "MD5");
	return DIG_BAD;
}

void auth_challenge_values(char hv[2][AUTH_CHALLENGE_MAX], bool stale)
{
	/* Two challenges, MD5 first: every phone speaks MD5 and many take the
	 * first challenge they see; RFC 7616 clients that look further pick
	 * SHA-256.  One nonce serves both (it is not bound to an algorithm).
	 * The layout is libmicrohttpd's, which phones met before. */
	char n[NONCE_LEN + 1];
	nonce_make(n);
	for (int i = 0; i < 2; i++)
		sp_cat(hv[i], AUTH_CHALLENGE_MAX, "Digest realm=\"" SP_REALM "\",qop=\"auth\",nonce=\"", n,
		       "\",opaque=\"" SP_REALM "\",algorithm=", i ? "sha-256" : "md5", stale ? ",stale=\"true\"" : "",
		       (char *)NULL);
}

void auth_challenge(struct MHD_Response *r, bool stale)
{
	char hv[2][AUTH_CHALLENGE_MAX];
	auth_challenge_values(hv, stale);
	for (int i = 0; i < 2; i++)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, hv[i]);
}

/* ---- the decision ---- */

static enum auth_verdict deny(char *why, size_t whylen, const char *what)
{
	sp_strlcpy(why, what, whylen);
	return AUTH_DENY;
}

enum auth_verdict auth_check(const struct auth_req *r, struct auth_result *res, char *why, size_t whylen)
{
	const struct auth_subject *s = r->subj;
	struct auth_result dummy;
	char dwhy[SP_ERR_MAX] = "", twhy[SP_ERR_MAX] = "", msg[SP_ERR_MAX], cmac[SP_MAC_LEN + 1] = "";
	bool fresh = false;
	enum tls_peer_result tp = TLS_PEER_NONE;

	if (!res)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	/* Evaluated before anything else, for every request alike, so that a
	 * stale nonce and the time taken do not depend on whether the MAC exists. */
	enum dig d = r->conn || r->headers ? digest_eval(r, &fresh, dwhy, sizeof(dwhy)) : DIG_NONE;
	res->stale = d == DIG_STALE;
	if (r->tls && r->ssl)
		tp = tls_ossl_peer_mac(r->ssl, cmac, twhy, sizeof(twhy));
	else if (r->tls && r->conn)
		tp = tls_peer_mac(r->conn, cmac, twhy, sizeof(twhy));

	if (!s->found)
		return deny(why, whylen, s->token_route ? "unknown token" : "unknown device");
	if (!s->tenant_active) {
		snprintf(msg, sizeof(msg), "tenant '%s' suspended", s->tenant);
		return deny(why, whylen, msg);
	}
	if (!s->device_active) {
		snprintf(msg, sizeof(msg), "device %s disabled", s->mac);
		return deny(why, whylen, msg);
	}
	if (!s->vendor_ok) {
		snprintf(msg, sizeof(msg), "file name does not match device %s's layout", s->mac);
		return deny(why, whylen, msg);
	}
	unsigned char src[16];
	if (!(s->allow && s->allow->any) &&
	    !(s->allow && policy_addr_sockaddr(r->addr, src) && policy_nets_match(s->allow, src))) {
		snprintf(msg, sizeof(msg), "source %s outside tenant '%s' allowlist", r->ip, s->tenant);
		return deny(why, whylen, msg);
	}
	if (s->token_route && !s->token_ok)
		return deny(why, whylen, "token revoked");

	/* Any one accepted method suffices. */
	if (s->token_route && (s->auth_modes & POLICY_AUTH_TOKEN)) {
		res->method = "token";
		return AUTH_OK;
	}
	if (d == DIG_OK) {
		res->method = "digest";
		res->refund = fresh;
		return AUTH_OK;
	}
	if ((s->auth_modes & POLICY_AUTH_MTLS) && tp == TLS_PEER_OK && strcmp(cmac, s->mac) == 0) {
		res->method = "mtls";
		return AUTH_OK;
	}
	if ((s->auth_modes & POLICY_AUTH_NONE) && (!s->has_secrets || (r->insecure_loopback && r->loopback))) {
		res->method = "none";
		return AUTH_OK;
	}

	/* Refused: say what each accepted method lacked. */
	struct buf b;
	buf_init(&b, SP_ERR_MAX);
	/* Each phone's first request ends here (no credentials yet): appended,
	 * not printf'd. */
	buf_adds(&b, "device ");
	buf_adds(&b, s->mac);
	buf_adds(&b, " (tenant '");
	buf_adds(&b, s->tenant);
	buf_adds(&b, "', policy '");
	buf_adds(&b, s->device_auth);
	buf_adds(&b, "'):");
	if (s->token_route && !(s->auth_modes & POLICY_AUTH_TOKEN))
		buf_adds(&b, " token URLs not allowed;");
	if ((s->auth_modes & POLICY_AUTH_DIGEST)) {
		buf_adds(&b, " digest: ");
		buf_adds(&b, dwhy);
		buf_adds(&b, ";");
	}
	if ((s->auth_modes & POLICY_AUTH_MTLS)) {
		if (!r->tls)
			buf_printf(&b, " mtls: plain HTTP;");
		else if (tp == TLS_PEER_OK)
			buf_printf(&b, " mtls: certificate names MAC %s, not %s;", cmac, s->mac);
		else
			buf_printf(&b, " mtls: %s;", twhy);
	}
	if ((s->auth_modes & POLICY_AUTH_NONE))
		buf_printf(&b, " none: config has secrets and %s;",
			   !r->loopback ? "the client is not on loopback" : "insecure_loopback is off");
	if (!s->auth_modes)
		buf_printf(&b, " no device auth method configured;");
	if (b.len && b.data[b.len - 1] == ';')
		b.data[--b.len] = '\0';
	sp_strlcpy(why, b.data ? b.data : "refused", whylen);
	buf_release(&b);
	return AUTH_DENY;
}

/* ---- failure counting: a small open-addressed table of sources ----
 * One mutex guards the table; it is taken only on failures and refunds.
 * The hot path (auth_locked) first reads an atomic horizon: the latest
 * end of any lockout ever started.  While now is past it, no source can
 * be locked and no lock is taken.  The sliding window is two fixed
 * buckets, the previous one weighted by how much of it still overlaps. */

#define FAIL_SLOTS 4096
#define FAIL_PROBE 64
struct fail_slot {
	unsigned char key[16];
	int64_t bucket;                     /* now / window of 'cur' */
	long cur, prev;
	int64_t locked_until;
	bool used;
};
static struct fail_slot *fails;
static pthread_mutex_t fail_mu = PTHREAD_MUTEX_INITIALIZER;
static long fail_threshold = 20, fail_window = 60, fail_lockout = 300;
static uint64_t fail_seed;
static _Atomic int64_t lock_horizon;

void auth_limits_init(long threshold, long window, long lockout)
{
	pthread_mutex_lock(&fail_mu);
	fail_threshold = threshold > 0 ? threshold : 1;
	fail_window = window > 0 ? window : 1;
	fail_lockout = lockout > 0 ? lockout : 0;
	if (!fails)
		fails = xcalloc(FAIL_SLOTS, sizeof(*fails));
	memset(fails, 0, FAIL_SLOTS * sizeof(*fails));   /* a fresh start forgets old counts */
	if (RAND_bytes(dummy_ha1, sizeof(dummy_ha1)) != 1 ||
	    RAND_bytes((unsigned char *)&fail_seed, sizeof(fail_seed)) != 1)
		fatalx("random number generator failed");
	atomic_store(&lock_horizon, 0);
	pthread_mutex_unlock(&fail_mu);
}

void auth_limits_set(long threshold, long window, long lockout)
{
	pthread_mutex_lock(&fail_mu);
	fail_threshold = threshold > 0 ? threshold : 1;
	fail_window = window > 0 ? window : 1;
	fail_lockout = lockout > 0 ? lockout : 0;
	pthread_mutex_unlock(&fail_mu);
}

void auth_limits_release(void)
{
	pthread_mutex_lock(&fail_mu);
	free(fails);
	fails = NULL;
	pthread_mutex_unlock(&fail_mu);
}

/* IPv4 and v4-mapped IPv6 share one key (::ffff:a.b.c.d); other IPv6
 * sources count per /64. */
static void addr_key(const struct sockaddr *a, unsigned char k[16])
{
	memset(k, 0, 16);
	if (a->sa_family == AF_INET) {
		k[10] = k[11] = 0xff;
		memcpy(k + 12, &((const struct sockaddr_in *)a)->sin_addr, 4);
	} else if (a->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)a)->sin6_addr;
		memcpy(k, a6, IN6_IS_ADDR_V4MAPPED(a6) ? 16 : 8);
	}
}

/* Keyed, so a client cannot pick addresses that crowd one probe run. */
static size_t key_hash(const unsigned char k[16])
{
	uint64_t h = fail_seed ^ 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < 16; i++) {
		h ^= k[i];
		h *= 0x100000001b3ull;
		h ^= h >> 29;
	}
	return (size_t)h;
}

static struct fail_slot *slot_find(const unsigned char k[16])
{
	size_t h = key_hash(k);
	for (size_t i = 0; i < FAIL_PROBE; i++) {
		struct fail_slot *s = &fails[(h + i) % FAIL_SLOTS];
		if (s->used && memcmp(s->key, k, 16) == 0)
			return s;
	}
	return NULL;
}

/* Find or claim the slot for k.  A full probe run evicts the entry with
 * the oldest activity that is not locked out; only if all are locked the
 * one whose lockout ends first, so a flood of new sources cannot free a
 * locked one early (unless the flood is larger than the run). */
static struct fail_slot *slot_claim(const unsigned char k[16], int64_t now)
{
	size_t h = key_hash(k);
	struct fail_slot *victim = NULL;
	for (size_t i = 0; i < FAIL_PROBE; i++) {
		struct fail_slot *s = &fails[(h + i) % FAIL_SLOTS];
		if (s->used && memcmp(s->key, k, 16) == 0)
			return s;
		bool idle = !s->used || (s->locked_until < now && s->bucket + 2 <= now / fail_window);
		if (idle) {
			victim = s;
			break;
		}
		bool s_locked = s->locked_until >= now, v_locked = victim && victim->locked_until >= now;
		if (!victim || (v_locked && !s_locked) ||
		    (v_locked == s_locked && (s_locked ? s->locked_until < victim->locked_until
						       : s->bucket < victim->bucket)))
			victim = s;
	}
	memset(victim, 0, sizeof(*victim));
	memcpy(victim->key, k, 16);
	victim->used = true;
	victim->bucket = now / fail_window;
	return victim;
}

static void slot_roll(struct fail_slot *s, int64_t now)
{
	int64_t b = now / fail_window;
	if (b == s->bucket)
		return;
	s->prev = b == s->bucket + 1 ? s->cur : 0;
	s->cur = 0;
	s->bucket = b;
}

bool auth_fail_note(const struct sockaddr *addr)
{
	unsigned char k[16];
	int64_t now = sp_now();
	bool started = false;
	addr_key(addr, k);
	pthread_mutex_lock(&fail_mu);
	if (!fails) {
		pthread_mutex_unlock(&fail_mu);
		return false;
	}
	struct fail_slot *s = slot_claim(k, now);
	slot_roll(s, now);
	s->cur++;
	/* estimate = cur + prev * (part of the previous bucket still inside the window) */
	long overlap = fail_window - (long)(now % fail_window);
	if (fail_lockout > 0 && (s->cur * fail_window + s->prev * overlap) >= fail_threshold * fail_window &&
	    s->locked_until < now) {
		s->locked_until = now + fail_lockout;
		started = true;
		int64_t hz = atomic_load(&lock_horizon);
		while (hz < s->locked_until && !atomic_compare_exchange_weak(&lock_horizon, &hz, s->locked_until))
			;
	}
	pthread_mutex_unlock(&fail_mu);
	return started;
}

void auth_success_note(const struct sockaddr *addr)
{
	unsigned char k[16];
	addr_key(addr, k);
	pthread_mutex_lock(&fail_mu);
	struct fail_slot *s = fails ? slot_find(k) : NULL;
	if (s) {
		slot_roll(s, sp_now());
		if (s->cur > 0)
			s->cur--;
		else if (s->prev > 0)
			s->prev--;
	}
	pthread_mutex_unlock(&fail_mu);
}

bool auth_locked(const struct sockaddr *addr)
{
	unsigned char k[16];
	int64_t now = sp_now();
	bool locked = false;
	if (now > atomic_load_explicit(&lock_horizon, memory_order_relaxed))
		return false;
	addr_key(addr, k);
	pthread_mutex_lock(&fail_mu);
	struct fail_slot *s = fails ? slot_find(k) : NULL;
	locked = s && s->locked_until >= now;
	pthread_mutex_unlock(&fail_mu);
	return locked;
}
