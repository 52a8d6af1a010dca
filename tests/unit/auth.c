/*
 * tests/unit/auth.c: auth.c's policy decisions (without a connection:
 * status, vendor, CIDR, token, "none"), CIDR matching for IPv4, IPv6 and
 * v4-mapped sources, the Digest header parameter reader, the MAC finder
 * for certificate subjects, and the failure table (threshold, lockout,
 * /64 grouping, refunds).  Digest and mTLS themselves run in tests/t/4x.
 */
#include <arpa/inet.h>
#include <string.h>

#include "tap.h"
#include "daemon/daemon.h"
#include "core/sipprov.h"

static struct sockaddr_storage v4(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;
	memset(&ss, 0, sizeof(ss));
	a->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &a->sin_addr);
	return ss;
}

static struct sockaddr_storage v6(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
	memset(&ss, 0, sizeof(ss));
	a->sin6_family = AF_INET6;
	inet_pton(AF_INET6, ip, &a->sin6_addr);
	return ss;
}

#define SA(x) ((const struct sockaddr *)&(x))

static struct auth_subject subject(void)
{
	struct auth_subject s;
	memset(&s, 0, sizeof(s));
	s.found = s.device_active = s.tenant_active = s.vendor_ok = true;
	s.has_secrets = true;
	s.device_id = 7;
	sp_strlcpy(s.mac, "001565aabbcc", sizeof(s.mac));
	sp_strlcpy(s.tenant, "acme", sizeof(s.tenant));
	auth_subject_policy(&s, "digest", "");
	return s;
}

static enum auth_verdict check(const struct auth_subject *s, const struct sockaddr *a, bool insecure, char *why,
			       size_t n, const char **method)
{
	struct auth_req r = { .conn = NULL, .addr = a, .ip = "x", .loopback = auth_is_loopback(a), .tls = false,
			      .insecure_loopback = insecure, .subj = s };
	struct auth_result res;
	enum auth_verdict v = auth_check(&r, &res, why, n);
	if (method)
		*method = res.method;
	return v;
}

/* The allowlist alone decides: a "none" tenant with nothing secret. */
static bool cidr_allows(const char *cidrs, const struct sockaddr *a)
{
	char why[SP_ERR_MAX];
	struct auth_subject s = subject();
	auth_subject_policy(&s, "none", cidrs);
	s.has_secrets = false;
	return check(&s, a, false, why, sizeof(why), NULL) == AUTH_OK;
}

static void test_cidr(void)
{
	static const struct {
		const char *cidrs, *ip;
		bool v6, want;
	} t[] = {
		{ "", "203.0.113.9", false, true },
		{ "10.0.0.0/8", "10.200.1.1", false, true },
		{ "10.0.0.0/8", "11.0.0.1", false, false },
		{ "192.168.1.0/24,10.0.0.0/8", "10.0.0.1", false, true },
		{ "192.168.1.17/32", "192.168.1.17", false, true },
		{ "192.168.1.17/32", "192.168.1.18", false, false },
		{ "192.168.1.17", "192.168.1.17", false, true },
		{ "172.16.0.0/12", "172.31.255.255", false, true },
		{ "172.16.0.0/12", "172.32.0.0", false, false },
		{ "0.0.0.0/0", "8.8.8.8", false, true },
		{ "10.0.0.0/8", "::ffff:10.1.2.3", true, true },       /* v4-mapped */
		{ "10.0.0.0/8", "::ffff:11.1.2.3", true, false },
		{ "2001:db8::/32", "2001:db8:1::5", true, true },
		{ "2001:db8::/32", "2001:db9::5", true, false },
		{ "2001:db8::/32", "10.0.0.1", false, false },          /* family mismatch */
		{ "10.0.0.0/8", "2001:db8::1", true, false },
		{ "::1/128", "::1", true, true },
		{ "10.0.0.0/33", "10.0.0.1", false, false },            /* bad entries never match */
		{ "garbage", "10.0.0.1", false, false },
		{ "10.0.0.0/8x", "10.0.0.1", false, false },
		{ "2001:db8::/129", "2001:db8::1", true, false },
		{ "fe80::/10", "febf::1", true, true },
		{ "fe80::/10", "fec0::1", true, false },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sockaddr_storage a = t[i].v6 ? v6(t[i].ip) : v4(t[i].ip);
		is_int(cidr_allows(t[i].cidrs, SA(a)), t[i].want, "cidr '%s' vs %s", t[i].cidrs, t[i].ip);
	}
	struct sockaddr_storage a = v4("127.0.0.2"), b = v6("::1"), c = v6("::ffff:127.0.0.1"), d = v4("10.0.0.1"),
				e = v6("2001:db8::1");
	ok(auth_is_loopback(SA(a)) && auth_is_loopback(SA(b)) && auth_is_loopback(SA(c)),
	   "loopback: 127/8, ::1, v4-mapped 127/8");
	ok(!auth_is_loopback(SA(d)) && !auth_is_loopback(SA(e)), "not loopback: 10.0.0.1, 2001:db8::1");
}

static void test_digest_param(void)
{
	char v[64];
	const char *h = "Digest username=\"0015654aa937\", realm=\"sipprov\", nonce=\"abc,def\", "
			"uri=\"/0015654aa937.cfg\", algorithm=SHA-256, response=\"ff\", qop=auth, nc=00000001, "
			"cnonce=\"x\\\"y\"";
	ok(auth_digest_param(h, "username", v, sizeof(v)) == 1 && !strcmp(v, "0015654aa937"), "digest param: quoted");
	ok(auth_digest_param(h, "algorithm", v, sizeof(v)) == 1 && !strcmp(v, "SHA-256"), "digest param: token");
	ok(auth_digest_param(h, "nc", v, sizeof(v)) == 1 && !strcmp(v, "00000001"), "digest param: nc");
	ok(auth_digest_param(h, "nonce", v, sizeof(v)) == 1 && !strcmp(v, "abc,def"), "digest param: comma in quotes");
	ok(auth_digest_param(h, "qop", v, sizeof(v)) == 1 && !strcmp(v, "auth"), "digest param: after quoted comma");
	ok(auth_digest_param(h, "opaque", v, sizeof(v)) == 0 && v[0] == '\0', "digest param: absent");
	ok(auth_digest_param(h, "nonce", v, 4) == 0, "digest param: too long for the buffer is not found");
	ok(auth_digest_param("Digest nc", "nc", v, sizeof(v)) == 0, "digest param: name without value");
	ok(auth_digest_param("Digest a=\"unterminated", "a", v, sizeof(v)) == 1 && !strcmp(v, "unterminated"),
	   "digest param: unterminated quote stays bounded");
	ok(auth_digest_param("", "nc", v, sizeof(v)) == 0, "digest param: empty header");

	/* auth_params_get answers as auth_digest_param, on every header above
	 * and on ones with more parameters than it indexes, repeated names,
	 * elements without '=', odd spacing and values that do not fit. */
	char many[2048], dup[4096];
	size_t o = (size_t)snprintf(many, sizeof(many), "Digest ");
	for (int i = 0; i < 40; i++)
		o += (size_t)snprintf(many + o, sizeof(many) - o, "p%d=\"v%d\", bare%d, ", i, i, i);
	snprintf(many + o, sizeof(many) - o, "nc=00000002, nonce=late, response=\"%064d\"", 7);
	snprintf(dup, sizeof(dup), "%s, nc=again, nonce=\"%0300d\", p3=late", many, 1);
	const char *const hs[] = {
		h, many, dup, "Digest nc", "Digest a=\"unterminated", "", "digest  nc = 1 ,,, nc=2", "Basic abc",
		"Digest nonce=\"x\\\"y\", nonce=z", "Digest   ,\t, uri=/a b, qop=auth-int, qop=auth",
		"Digest username=\"a\", username=\"b\", p0=0, p1=1, p2=2, p3=3, p4=4, p5=5, p6=6, p7=7, p8=8, "
		"p9=9, p10=10, p11=11, p12=12, p13=13, p14=14, p15=15, nonce=n16, username=c",
	};
	static const char *const keys[] = { "username", "nonce", "uri", "nc", "qop", "cnonce", "response",
					    "algorithm", "p3", "p15", "p16", "p39", "bare1", "a", "x" };
	static const size_t lens[] = { 1, 4, 8, 64, 301, 400 };
	int agree = 0, asked = 0;
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
		struct auth_params ap;
		auth_params_parse(&ap, hs[i]);
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
				char a1[400], a2[400];
				memset(a1, 'Z', sizeof(a1));
				memset(a2, 'Y', sizeof(a2));
				int r1 = auth_digest_param(hs[i], keys[k], a1, lens[l]);
				int r2 = auth_params_get(&ap, keys[k], a2, lens[l]);
				asked++;
				agree += r1 == r2 && !strcmp(a1, a2);
			}
	}
	is_int(agree, asked, "auth_params_get agrees with auth_digest_param on %d lookups", asked);
	struct auth_params ap;
	auth_params_parse(&ap, dup);
	ok(ap.more && auth_params_get(&ap, "nonce", v, sizeof(v)) == 1 && !strcmp(v, "late"),
	   "past the indexed parameters: the first of a repeated name, found by the rescan");
}

static void test_subject_mac(void)
{
	static const struct {
		const char *value;
		int want;
		const char *mac;
	} t[] = {
		{ "001565aabbcc", 1, "001565aabbcc" },
		{ "00:15:65:AA:BB:CC", 1, "001565aabbcc" },
		{ "00-15-65-aa-bb-cc", 1, "001565aabbcc" },
		{ "0015.65aa.bbcc", 1, "001565aabbcc" },
		{ "SEP001565AABBCC", 1, "001565aabbcc" },               /* Cisco style */
		{ "CP-8841-SEP00562B043615", 1, "00562b043615" },
		{ "Yealink SIP-T46G 001565aabbcc", 1, "001565aabbcc" },
		{ "MAC=0004f2abcdef", 1, "0004f2abcdef" },
		{ "Yealink Device", 0, "" },                             /* generic */
		{ "Polycom Root CA", 0, "" },
		{ "000000000000", 0, "" },                               /* generic placeholders */
		{ "ff:ff:ff:ff:ff:ff", 0, "" },
		{ "001565aabbccdd", 0, "" },                             /* 14 hex: not a MAC */
		{ "1001565aabbcc", 0, "" },                              /* 13 hex */
		{ "00:15:65:aa:bb:cc:dd", 0, "" },
		{ "00:15:65-aa:bb:cc", 0, "" },                          /* mixed separators */
		{ "001565aabbcc 001565AABBCC", 1, "001565aabbcc" },      /* same MAC twice */
		{ "001565aabbcc 001565aabbcd", -1, "" },                 /* two MACs: ambiguous */
		{ "", 0, "" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char mac[SP_MAC_LEN + 1] = "";
		int r = tls_subject_mac(t[i].value, mac);
		is_int(r, t[i].want, "subject MAC in '%s'", t[i].value);
		if (r == 1)
			is_str(mac, t[i].mac, "subject MAC in '%s' normalized", t[i].value);
	}
}

static void test_check(void)
{
	char why[SP_ERR_MAX];
	const char *method = NULL;
	struct sockaddr_storage lo = v4("127.0.0.1"), lan = v4("192.168.1.50"), lo6 = v6("::1");
	struct auth_subject s;

	s = subject();
	s.found = false;
	ok(check(&s, SA(lo), true, why, sizeof(why), NULL) == AUTH_DENY && !strcmp(why, "unknown device"),
	   "unknown device refused: %s", why);
	s.token_route = true;
	ok(check(&s, SA(lo), true, why, sizeof(why), NULL) == AUTH_DENY && !strcmp(why, "unknown token"),
	   "unknown token refused: %s", why);

	s = subject();
	auth_subject_policy(&s, "none", "");
	s.tenant_active = false;
	ok(check(&s, SA(lo), true, why, sizeof(why), NULL) == AUTH_DENY && strstr(why, "suspended"),
	   "suspended tenant refused even with none+loopback: %s", why);
	s = subject();
	auth_subject_policy(&s, "none", "");
	s.device_active = false;
	ok(check(&s, SA(lo), true, why, sizeof(why), NULL) == AUTH_DENY && strstr(why, "disabled"),
	   "disabled device refused: %s", why);
	s = subject();
	auth_subject_policy(&s, "none", "");
	s.vendor_ok = false;
	ok(check(&s, SA(lo), true, why, sizeof(why), NULL) == AUTH_DENY && strstr(why, "layout"),
	   "other vendor's file name refused: %s", why);

	/* "none": secrets only to loopback with insecure_loopback. */
	s = subject();
	auth_subject_policy(&s, "none", "");
	ok(check(&s, SA(lo), true, why, sizeof(why), &method) == AUTH_OK && !strcmp(method, "none"),
	   "none + secrets + loopback + insecure_loopback: served");
	ok(check(&s, SA(lo6), true, why, sizeof(why), NULL) == AUTH_OK, "none: ::1 counts as loopback");
	ok(check(&s, SA(lo), false, why, sizeof(why), NULL) == AUTH_DENY && strstr(why, "insecure_loopback is off"),
	   "none + secrets + loopback without insecure_loopback: refused: %s", why);
	ok(check(&s, SA(lan), true, why, sizeof(why), NULL) == AUTH_DENY && strstr(why, "not on loopback"),
	   "none + secrets from the LAN: refused: %s", why);
	s.has_secrets = false;
	ok(check(&s, SA(lan), false, why, sizeof(why), NULL) == AUTH_OK, "none without secrets: served to anyone");

	/* CIDR refuses whatever the method. */
	s = subject();
	auth_subject_policy(&s, "none", "10.0.0.0/8");
	s.has_secrets = false;
	ok(check(&s, SA(lan), false, why, sizeof(why), NULL) == AUTH_DENY && strstr(why, "allowlist"),
	   "source outside the allowlist refused: %s", why);
	auth_subject_policy(&s, "none", "192.168.1.0/24");
	ok(check(&s, SA(lan), false, why, sizeof(why), NULL) == AUTH_OK, "source inside the allowlist served");

	/* Digest tenant without credentials: refused, reason names digest. */
	s = subject();
	ok(check(&s, SA(lo), true, why, sizeof(why), NULL) == AUTH_DENY && strstr(why, "digest:"),
	   "digest tenant, no credentials: refused: %s", why);
	/* mtls over plain HTTP. */
	auth_subject_policy(&s, "mtls", "");
	ok(check(&s, SA(lo), true, why, sizeof(why), NULL) == AUTH_DENY && strstr(why, "plain HTTP"),
	   "mtls tenant over plain HTTP: refused: %s", why);

	/* Tokens. */
	s = subject();
	s.token_route = true;
	s.token_ok = true;
	auth_subject_policy(&s, "token", "");
	ok(check(&s, SA(lan), false, why, sizeof(why), &method) == AUTH_OK && !strcmp(method, "token"),
	   "valid token on a token tenant: served");
	s.token_ok = false;
	ok(check(&s, SA(lan), false, why, sizeof(why), NULL) == AUTH_DENY && !strcmp(why, "token revoked"),
	   "revoked token refused: %s", why);
	s.token_ok = true;
	auth_subject_policy(&s, "digest", "");
	ok(check(&s, SA(lan), false, why, sizeof(why), NULL) == AUTH_DENY && strstr(why, "token URLs not allowed"),
	   "token on a digest-only tenant needs digest: %s", why);
	s = subject();
	s.token_route = false;
	auth_subject_policy(&s, "token", "");
	ok(check(&s, SA(lo), true, why, sizeof(why), NULL) == AUTH_DENY, "token tenant: MAC route refused");
	auth_subject_policy(&s, "", "");
	ok(check(&s, SA(lo), true, why, sizeof(why), NULL) == AUTH_DENY && strstr(why, "no device auth"),
	   "empty policy refused: %s", why);
}

static void test_limits(void)
{
	struct sockaddr_storage a = v4("198.51.100.7"), a6 = v6("::ffff:198.51.100.7"), b = v4("198.51.100.8"),
				n1 = v6("2001:db8:1:2::1"), n2 = v6("2001:db8:1:2:ffff::9"), n3 = v6("2001:db8:1:3::1");
	int started = 0;

	auth_limits_init(5, 60, 300);
	ok(!auth_locked(SA(a)), "fresh source not locked");
	for (int i = 0; i < 4; i++)
		started += auth_fail_note(SA(a));
	ok(started == 0 && !auth_locked(SA(a)), "4 failures under a threshold of 5: not locked");
	ok(auth_fail_note(SA(a6)), "5th failure, via the v4-mapped form of the same address, starts a lockout");
	ok(auth_locked(SA(a)) && auth_locked(SA(a6)), "locked as IPv4 and as v4-mapped IPv6");
	ok(!auth_fail_note(SA(a)), "a failure while locked does not start another lockout");
	ok(!auth_locked(SA(b)), "a neighbour address is not locked");

	/* IPv6: one /64 is one source. */
	for (int i = 0; i < 2; i++)
		auth_fail_note(SA(n1));
	for (int i = 0; i < 2; i++)
		auth_fail_note(SA(n2));
	ok(!auth_locked(SA(n1)), "4 failures in one /64: not yet locked");
	ok(auth_fail_note(SA(n3)) == false && !auth_locked(SA(n3)), "another /64 counts on its own");
	ok(auth_fail_note(SA(n2)) && auth_locked(SA(n1)), "5th failure anywhere in the /64 locks the whole /64");

	/* Refunds: a challenge answered at once costs nothing. */
	auth_limits_init(3, 60, 300);
	for (int i = 0; i < 10; i++) {
		auth_fail_note(SA(b));
		auth_success_note(SA(b));
	}
	ok(!auth_locked(SA(b)), "10 challenge+success round trips: not locked");
	auth_fail_note(SA(b));
	auth_fail_note(SA(b));
	ok(auth_fail_note(SA(b)) && auth_locked(SA(b)), "3 failures without success lock");

	/* Zero lockout: counting only, nothing is refused. */
	auth_limits_init(1, 60, 0);
	ok(!auth_fail_note(SA(a)) && !auth_fail_note(SA(a)), "lockout_seconds 0: no lockout starts");
	ok(!auth_locked(SA(a)), "lockout_seconds 0: the source is not locked");
	auth_limits_init(1, 60, 300);
	ok(auth_fail_note(SA(a)) && auth_locked(SA(a)), "threshold 1: the first failure locks");
	auth_limits_release();
	ok(!auth_locked(SA(a)), "after release nothing is locked");

	/* Many distinct sources do not evict a locked one. */
	auth_limits_init(2, 60, 300);
	auth_fail_note(SA(b));
	auth_fail_note(SA(b));
	char ip[64];
	for (int i = 0; i < 20000; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		struct sockaddr_storage x = v4(ip);
		auth_fail_note(SA(x));
	}
	ok(auth_locked(SA(b)), "a locked source stays locked after 20000 other sources failed once");
	auth_limits_release();
}

int main(void)
{
	log_init(LOG_LVL_ERR, false);
	test_cidr();
	test_digest_param();
	test_subject_mac();
	test_check();
	test_limits();
	return tap_done();
}
