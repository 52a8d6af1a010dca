/*
 * diagnose.c: the admin's 403 / 404 / 408 / timeout checklist for one
 * device line: evidence steps over three views (what the phone experienced,
 * what it runs, what probes from this host see), then a pure verdict,
 * diag_decide(), that ranks the causes of the bucket by the findings that
 * point to them.  It reads only; the only packets it sends are OPTIONS and
 * contact-less REGISTER queries (probe.c), marked so that intake keeps them
 * apart from the phone's own traffic.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "diagnose.h"
#include "probe.h"
#include "sip/sip.h"
#include "core/sipprov.h"

static const char *const step_names[DS_COUNT] = {
	"account active and allowed",
	"username / auth username",
	"template version served vs current",
	"what the phone experienced",
	"DNS",
	"reachability and port sweep",
	"REGISTER probe",
	"phone vs its config vs probes",
};

const char *diag_verdict_name(enum diag_verdict v)
{
	switch (v) {
	case DIAG_OK: return "ok";
	case DIAG_WARN: return "warn";
	case DIAG_FAIL: return "fail";
	case DIAG_SKIPPED: return "skipped";
	}
	return "?";
}

int diag_parse_error(const char *s)
{
	if (!s)
		return -1;
	if (!strcmp(s, "403"))
		return 403;
	if (!strcmp(s, "404"))
		return 404;
	if (!strcmp(s, "408") || !strcasecmp(s, "timeout"))
		return 408;
	return -1;
}

/* ---- reason phrases ---- */

/* What registrars write in the reason phrase, the Reason header or
 * P-Registrar-Error, and the cause it names.  Sources per phrase are in
 * docs/diagnose-reasons.md; the match is a case-insensitive substring, most
 * specific first ("Forbidden auth ID" before "Forbidden"). */
static const struct { const char *text; uint64_t finding; } phrases[] = {
	{ "wrong password", DF_SAYS_CREDENTIALS },
	{ "bad password", DF_SAYS_CREDENTIALS },
	{ "invalid password", DF_SAYS_CREDENTIALS },
	{ "invalid credentials", DF_SAYS_CREDENTIALS },
	{ "authentication failed", DF_SAYS_CREDENTIALS },
	{ "auth user mismatch", DF_SAYS_AUTH_ID },
	{ "forbidden auth id", DF_SAYS_AUTH_ID },
	{ "auth id", DF_SAYS_AUTH_ID },
	{ "disabled", DF_SAYS_DISABLED },
	{ "locked", DF_SAYS_DISABLED },
	{ "expired", DF_SAYS_DISABLED },
	{ "suspended", DF_SAYS_DISABLED },
	{ "blocked", DF_SAYS_DISABLED },
	{ "address not allowed", DF_SAYS_IP },
	{ "ip not allowed", DF_SAYS_IP },
	{ "not allowed from", DF_SAYS_IP },
	{ "acl", DF_SAYS_IP },
	{ "too many registered contacts", DF_SAYS_TOO_MANY },
	{ "too many registrations", DF_SAYS_TOO_MANY },
	{ "too many contacts", DF_SAYS_TOO_MANY },
	{ "max contacts", DF_SAYS_TOO_MANY },
	{ "domain not served", DF_SAYS_DOMAIN },
	{ "unknown domain", DF_SAYS_DOMAIN },
	{ "not local domain", DF_SAYS_DOMAIN },
	{ "user not found", DF_SAYS_USER_UNKNOWN },
	{ "unknown user", DF_SAYS_USER_UNKNOWN },
	{ "no such user", DF_SAYS_USER_UNKNOWN },
	{ "user unknown", DF_SAYS_USER_UNKNOWN },
	{ "service unavailable", DF_SAYS_UNAVAILABLE },
	{ "maintenance", DF_SAYS_UNAVAILABLE },
	{ "overload", DF_SAYS_UNAVAILABLE },
	{ "temporarily unavailable", DF_SAYS_UNAVAILABLE },
};

uint64_t diag_phrase_finding(const char *text)
{
	if (!text || !*text)
		return 0;
	for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++)
		if (strcasestr(text, phrases[i].text))
			return phrases[i].finding;
	return 0;
}

/* ---- the verdict (pure) ---- */

/* A cause of a bucket.  decisive findings prove it (a combination of views
 * that nothing else explains), strong ones point at it, weak ones make it
 * plausible; a veto finding rules it out as the first cause (it stays
 * listed, marked).  only_if: listed only when indicated (it belongs to
 * another bucket but can produce this code too). */
struct cause_def {
	int bucket;
	const char *id;
	const char *title;
	uint64_t decisive, strong, weak, veto;
	bool only_if;
	const char *next;
};

#define STEP2_FINDINGS (DF_SWAP | DF_IDENTITY_INVALID | DF_TOO_MANY)
#define SCORE_DECISIVE 150
#define SCORE_STRONG   100
#define SCORE_WEAK     40
#define SCORE_VETOED   10

/* Table order is the order of likelihood when no step points anywhere. */
static const struct cause_def cause_defs[] = {
	{ 403, "credentials", "credentials: the registrar rejects the password",
	  0, DF_AUTH_403 | DF_SAYS_CREDENTIALS, DF_PROBE_FORBIDDEN | DF_STALE | DF_UNANSWERED_401, DF_AUTH_OK, false,
	  "set the same SIP password on the PBX and in sipprov ('sipprov account set MAC --line N "
	  "--password ...'), then reprovision the device" },
	{ 403, "auth_username_mixup", "auth-username mix-up: username and auth username swapped or wrong",
	  DF_SWAP_PROVEN, DF_SWAP | DF_IDENTITY_INVALID | DF_DRIFT_IDENTITY | DF_AUTH_ID_UNKNOWN | DF_SAYS_AUTH_ID,
	  0, 0, false,
	  "put the SIP user in --username and the digest id in --auth-username ('sipprov account set "
	  "MAC --line N --username U --auth-username A'), then reprovision" },
	{ 403, "disabled", "disabled: device, tenant or user switched off",
	  0, DF_DEVICE_DISABLED | DF_TENANT_SUSPENDED | DF_SAYS_DISABLED, 0, 0, false,
	  "enable it ('sipprov device enable MAC' or resume the tenant) and check the user is enabled "
	  "on the PBX" },
	{ 403, "ip_policy", "IP policy: the source network is not allowed",
	  0, DF_IP_POLICY | DF_SAYS_IP, DF_PHONE_FAILS_PROBE_OK, 0, false,
	  "allow the device's network in the tenant ('sipprov tenant set T --allow CIDR') and in the "
	  "PBX's access list" },
	{ 403, "too_many_registrations", "too many registrations for this user",
	  0, DF_TOO_MANY | DF_SAYS_TOO_MANY, DF_PHONE_FAILS_PROBE_OK, 0, false,
	  "remove the extra devices sharing this SIP user or raise the limit on the PBX and in the "
	  "tenant policy" },
	{ 403, "stale_profile", "provisioning profile out of date: the phone runs older settings than sipprov "
	  "serves", DF_RUNS_OLD_FAILS, 0, DF_STALE | DF_ACCOUNT_CHANGED | DF_PHONE_FAILS_PROBE_OK, 0, false,
	  "make the phone fetch its config again ('sipprov reprovision --device MAC', or reboot it) and "
	  "check it fetches the current version" },
	{ 404, "auth_username_mixup", "auth-username mix-up: the registrar does not know the digest id",
	  DF_SWAP_PROVEN, DF_SWAP | DF_IDENTITY_INVALID | DF_AUTH_ID_UNKNOWN | DF_SAYS_AUTH_ID, 0, 0, true,
	  "put the SIP user in --username and the digest id in --auth-username, then reprovision" },
	{ 404, "registrar_domain", "registrar/domain: the registrar does not serve this domain",
	  0, DF_PROBE_DOMAIN_404 | DF_SAYS_DOMAIN, 0, DF_DNS_STALE | DF_DNS_WRONG | DF_SERVER_ELSEWHERE, false,
	  "correct 'registrar' in the template ('sipprov template set T NAME registrar=DOMAIN') to a "
	  "domain the registrar serves" },
	{ 404, "tenant_moved", "tenant drift: the device registers with settings of another cluster",
	  DF_RUNS_OLD_FAILS, DF_DRIFT_REGISTRAR | DF_FAILS_WHERE_RUNS, DF_STALE | DF_NEVER_FETCHED | DF_RUNS_DIFFERS, 0,
	  false,
	  "reprovision the device ('sipprov reprovision --device MAC') and check it fetches the current "
	  "version" },
	{ 404, "dns_record", "bad DNS: the name the device sends to resolves to a registrar that does not "
	  "serve this domain (stale or wrong record)", DF_DNS_STALE | DF_DNS_WRONG, 0, 0, 0, false,
	  "correct the DNS record, then make the phones resolve again (reboot them once the old record's "
	  "TTL has passed); until then put the registrar's address in 'server' of the template" },
	{ 404, "server_name", "wrong SIP server host name: 'server' names a host that is not this domain's "
	  "registrar", DF_SERVER_ELSEWHERE, 0, 0, 0, false,
	  "correct 'server' in the template ('sipprov template set T NAME server=HOST') to the host name "
	  "of the registrar that serves the domain, then reprovision" },
	{ 404, "deleted_user", "deleted user: the registrar does not know this user",
	  0, DF_NO_ACCOUNT | DF_DRIFT_UNKNOWN_USER | DF_SAYS_USER_UNKNOWN, DF_AUTH_404,
	  DF_DNS_STALE | DF_DNS_WRONG | DF_SERVER_ELSEWHERE, false,
	  "recreate the user on the PBX, or remove the line from the device" },
	{ 404, "outbound_proxy", "outbound proxy: the proxy refuses what the registrar itself accepts",
	  DF_PROXY_WRONG, 0, 0, 0, true,
	  "correct or remove 'outbound_proxy' in the template, then reprovision" },
	{ 408, "tls_certificate", "TLS certificate: the device cannot verify the registrar's certificate",
	  0, DF_TLS_FAIL, 0, 0, true,
	  "install a certificate for the registrar's host name from a CA the phones trust, or load the "
	  "CA on the phones (tls_verify=off only as a stopgap)" },
	{ 408, "transport_port_mismatch", "transport/port mismatch: the registrar listens on another "
	  "transport or port", 0, DF_OTHER_TRANSPORT_OK | DF_DRIFT_TRANSPORT, DF_TLS_FAIL, 0, false,
	  "set transport and port in the template to what the registrar serves ('sipprov template set "
	  "T NAME transport=... port=...'), then reprovision" },
	{ 408, "firewall", "firewall or closed port: nothing answers on the configured port",
	  0, DF_PORT_CLOSED | DF_NO_ANSWER, 0, DF_HEP_RECEIVED | DF_OTHER_TRANSPORT_OK, false,
	  "open the port on the registrar's firewall (or start the listener), then retry" },
	{ 408, "sip_alg", "SIP ALG or NAT on the device's path: the registrar answers here but not to "
	  "the device", DF_ALG_REWRITE, DF_UNANSWERED_401, DF_REACH_OK | DF_LAST_TIMEOUT, 0, false,
	  "turn off SIP ALG on the customer's router, or switch the device to TCP/TLS; enable NAT "
	  "keepalive" },
	{ 408, "server_name", "wrong server name: the host the device sends to does not exist in DNS",
	  DF_NAME_MISSING, 0, 0, 0, true,
	  "correct 'server' (or 'registrar') in the template to a host name that exists, then reprovision" },
	{ 408, "dns", "DNS: the registrar's name (or its SRV record) does not resolve",
	  0, DF_DNS_FAIL | DF_SRV_MISSING, 0, DF_NAME_MISSING, false,
	  "fix the DNS records or put a resolvable host in 'server'/'outbound_proxy' of the template" },
	{ 408, "server_unavailable", "provider overload or maintenance: the registrar answers 5xx",
	  0, DF_SAYS_UNAVAILABLE, 0, 0, false,
	  "ask the provider about maintenance or overload (Retry-After), or fail over to another registrar" },
	{ 408, "phone_network", "the phone's network blocks SIP (router, ISP, VPN or security software): "
	  "its REGISTERs never reach the registrar", DF_PHONE_SILENT, 0, 0, 0, false,
	  "check the customer's router and firewall for SIP blocking, VPN or security software; try "
	  "another port or TCP/TLS" },
	{ 408, "server_down", "server down: nothing listens on any SIP port of the registrar",
	  DF_ALL_REFUSED, 0, 0, DF_HEP_RECEIVED, false,
	  "start the registrar (or fix the host in the template) and retry" },
};

static int bucket_from_findings(const struct diag_step *st, uint64_t all, const char **from)
{
	if (st[DS_IDENTITY].verdict == DIAG_FAIL) {
		*from = "step 2";
		return 403;
	}
	*from = "probes";
	if (all & (DF_AUTH_403 | DF_PROBE_FORBIDDEN | DF_SAYS_CREDENTIALS | DF_SAYS_AUTH_ID | DF_SAYS_DISABLED |
		   DF_SAYS_IP | DF_SAYS_TOO_MANY | DF_SWAP_PROVEN))
		return 403;
	if (all & (DF_PROBE_DOMAIN_404 | DF_AUTH_404 | DF_SAYS_DOMAIN | DF_SAYS_USER_UNKNOWN | DF_PROXY_WRONG |
		   DF_DNS_STALE | DF_DNS_WRONG | DF_SERVER_ELSEWHERE))
		return 404;
	if (all & (DF_DNS_FAIL | DF_PORT_CLOSED | DF_NO_ANSWER | DF_TLS_FAIL | DF_SAYS_UNAVAILABLE | DF_PHONE_SILENT))
		return 408;
	*from = "steps";
	if (all & (DF_DEVICE_DISABLED | DF_TENANT_SUSPENDED | DF_IP_POLICY))
		return 403;
	if (all & (DF_NO_ACCOUNT | DF_DRIFT_UNKNOWN_USER))
		return 404;
	if (all & DF_LAST_TIMEOUT)
		return 408;
	return 0;
}

static void cause_evidence(const struct diag_step *st, uint64_t mask, char *out, size_t n)
{
	size_t len = 0;
	out[0] = '\0';
	for (int i = 0; i < DS_COUNT && len + 1 < n; i++) {
		if (!(st[i].findings & mask))
			continue;
		/* first line of the step's evidence is its summary */
		size_t l = strcspn(st[i].evidence, "\n");
		int w = snprintf(out + len, n - len, "%sstep %d (%s): %.*s", len ? "; " : "", i + 1,
				 st[i].name ? st[i].name : step_names[i], (int)l, st[i].evidence);
		if (w < 0)
			break;
		len += (size_t)w < n - len ? (size_t)w : n - len - 1;
	}
}

/* The phone's last code as a bucket: 401/407 never answered is a failure
 * too (the phone has no usable credentials, or never got the challenge);
 * a 5xx naming too many contacts is the 403 cause Asterisk reports so. */
static int bucket_of_code(long code, uint64_t all)
{
	if (code == 403 || code == 404 || code == 408)
		return (int)code;
	if (code == 401 || code == 407)
		return all & DF_AUTH_OK ? 408 : 403;
	if (code >= 500 && code < 600)
		return all & DF_SAYS_TOO_MANY ? 403 : 408;
	return 0;
}

void diag_decide(const struct diag_step steps[DS_COUNT], int error_code, long last_code,
		 struct diag_result *out)
{
	uint64_t all = 0;
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < DS_COUNT; i++)
		all |= steps[i].findings;

	if (error_code == 403 || error_code == 404 || error_code == 408) {
		out->bucket = error_code;
		out->bucket_from = "--error";
	} else if ((out->bucket = bucket_of_code(last_code, all))) {
		out->bucket_from = "last code seen";
	} else {
		out->bucket = bucket_from_findings(steps, all, &out->bucket_from);
	}
	out->bucket_name = out->bucket == 403 ? "403" : out->bucket == 404 ? "404" :
			   out->bucket == 408 ? "408/timeout" : "none";
	if (!out->bucket)
		return;

	for (size_t i = 0; i < sizeof(cause_defs) / sizeof(cause_defs[0]); i++) {
		const struct cause_def *d = &cause_defs[i];
		uint64_t why = 0;
		int score = 0;
		if (d->bucket != out->bucket)
			continue;
		if (all & d->decisive) {
			score = SCORE_DECISIVE;
			why = d->decisive;
		} else if (all & d->strong) {
			score = SCORE_STRONG;
			why = d->strong;
		} else if (all & d->weak) {
			score = SCORE_WEAK;
			why = d->weak;
		}
		/* A failed step 2 is decided before any network step: it leads. */
		if (steps[DS_IDENTITY].verdict == DIAG_FAIL && (all & d->strong & STEP2_FINDINGS))
			score += 50;
		if (d->only_if && !score)
			continue;
		if (out->ncauses >= DIAG_MAX_CAUSES)
			break;
		struct diag_cause *c = &out->causes[out->ncauses++];
		c->id = d->id;
		c->title = d->title;
		c->next = d->next;
		c->score = score;
		if (score)
			cause_evidence(steps, why, c->evidence, sizeof(c->evidence));
		else
			sp_strlcpy(c->evidence, "not indicated by any step; usual suspect for this code",
				   sizeof(c->evidence));
		if (score && (all & d->veto)) {
			/* Indicated, but another view rules it out as the cause. */
			size_t l = strlen(c->evidence);
			c->score = SCORE_VETOED;
			snprintf(c->evidence + l, sizeof(c->evidence) - l, "; ruled out by ");
			l = strlen(c->evidence);
			cause_evidence(steps, d->veto & all, c->evidence + l, sizeof(c->evidence) - l);
		}
	}
	/* stable: insertion sort by score, table order kept for ties */
	for (size_t i = 1; i < out->ncauses; i++) {
		struct diag_cause tmp = out->causes[i];
		size_t j = i;
		while (j > 0 && out->causes[j - 1].score < tmp.score) {
			out->causes[j] = out->causes[j - 1];
			j--;
		}
		out->causes[j] = tmp;
	}
	out->explained = out->ncauses && out->causes[0].score > SCORE_VETOED;
}

/* ---- evidence gathering ---- */

static void ev(struct diag_step *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ev(struct diag_step *st, const char *fmt, ...)
{
	size_t l = strlen(st->evidence);
	va_list ap;
	if (l + 2 >= sizeof(st->evidence))
		return;
	if (l)
		st->evidence[l++] = '\n';
	va_start(ap, fmt);
	vsnprintf(st->evidence + l, sizeof(st->evidence) - l, fmt, ap);
	va_end(ap);
}

static void verdict(struct diag_step *st, enum diag_verdict v)
{
	if (v > st->verdict || st->verdict == DIAG_SKIPPED)
		st->verdict = v;
}

/* Move the evidence line starting at offset off to the front: the first
 * line is the step's headline (the verdict quotes it). */
static void headline_at(struct diag_step *st, size_t off)
{
	struct buf b;
	size_t len = strlen(st->evidence), l;
	if (off == 0 || off >= len)
		return;
	l = strcspn(st->evidence + off, "\n");
	buf_init(&b, sizeof(st->evidence) + 2);
	buf_add(&b, st->evidence + off, l);
	buf_adds(&b, "\n");
	buf_add(&b, st->evidence, off - 1);
	if (off + l < len)
		buf_add(&b, st->evidence + off + l, len - off - l);
	buf_add(&b, "", 1);
	sp_strlcpy(st->evidence, b.data, sizeof(st->evidence));
	buf_release(&b);
}

static void skip(struct diag_step *st, const char *why)
{
	st->verdict = DIAG_SKIPPED;
	sp_strlcpy(st->reason, why, sizeof(st->reason));
}

static void fmt_time(int64_t t, char *out, size_t n)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!t || !gmtime_r(&tt, &tm)) {
		sp_strlcpy(out, "never", n);
		return;
	}
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Is ip inside the tenant's allowlist (the daemon's rule, policy.h)?
 * 1 yes, 0 no, -1 unparsable ip. */
static int cidr_match(const char *list, const char *ip)
{
	struct policy_nets nets;
	unsigned char a[16];
	if (!policy_addr_text(ip, a))
		return -1;
	policy_nets_parse(list, &nets, NULL, 0);
	return policy_nets_match(&nets, a);
}

/* "sip:host:port;params" or "[v6]:port" -> host, port (0 if none). */
static void host_port(const char *in, char *host, size_t hn, long *port)
{
	char tmp[256];
	char *p = tmp, *c;
	*port = 0;
	sp_strlcpy(tmp, in ? in : "", sizeof(tmp));
	if (!strncasecmp(p, "sips:", 5))
		p += 5;
	else if (!strncasecmp(p, "sip:", 4))
		p += 4;
	p[strcspn(p, ";>")] = '\0';
	if (*p == '[') {
		c = strchr(p, ']');
		if (c) {
			*c = '\0';
			if (c[1] == ':')
				sp_parse_int(c + 2, 1, 65535, port);
			sp_strlcpy(host, p + 1, hn);
			return;
		}
	}
	c = strchr(p, ':');
	if (c && !strchr(c + 1, ':')) {
		*c = '\0';
		sp_parse_int(c + 1, 1, 65535, port);
	}
	sp_strlcpy(host, p, hn);
}

static void step_active(struct store *s, const struct effective *e, const struct account *a,
			struct diag_report *rep)
{
	struct diag_step *st = &rep->steps[DS_ACTIVE];
	struct diag_fetch f;
	const struct tenant *t = &e->tenant;
	const struct device *d = &e->device;

	verdict(st, DIAG_OK);
	if (strcmp(d->status, "active")) {
		st->findings |= DF_DEVICE_DISABLED;
		verdict(st, DIAG_FAIL);
		ev(st, "device %s is %s: it is refused its config", d->mac, d->status);
	}
	if (strcmp(t->status, "active")) {
		st->findings |= DF_TENANT_SUSPENDED;
		verdict(st, DIAG_FAIL);
		ev(st, "tenant '%s' is %s", t->slug, t->status);
	}
	if (!a) {
		st->findings |= DF_NO_ACCOUNT;
		verdict(st, DIAG_FAIL);
		ev(st, "no account on line %ld of %s (deleted?)", rep->facts.line, d->mac);
	}
	if (st->verdict == DIAG_OK)
		ev(st, "device %s, tenant '%s' and line %ld are active", d->mac, t->slug, rep->facts.line);
	if (!t->allow_cidrs[0]) {
		ev(st, "tenant allows any source network");
	} else {
		const char *ips[2] = { d->fetched_ip, rep->facts.last_reg_ip };
		const char *what[2] = { "last fetch", "last registration" };
		for (int i = 0; i < 2; i++) {
			if (!ips[i][0])
				continue;
			int m = cidr_match(t->allow_cidrs, ips[i]);
			if (m == 1)
				ev(st, "%s from %s is inside the allowed %s", what[i], ips[i], t->allow_cidrs);
			else {
				st->findings |= DF_IP_POLICY;
				verdict(st, DIAG_FAIL);
				ev(st, "%s from %s is outside the tenant's allowed networks %s", what[i], ips[i],
				   t->allow_cidrs);
			}
		}
	}
	int fr = store_diag_last_fetch(s, d->id, &f);
	if (fr == 1 && f.status != 200 && f.status != 304) {
		char when[32];
		fmt_time(f.at, when, sizeof(when));
		verdict(st, DIAG_WARN);
		ev(st, "last fetch attempt at %s from %s was answered %ld", when, f.ip, f.status);
	}
}

static void step_identity(struct store *s, const struct effective *e, const struct account *a,
			  struct diag_report *rep)
{
	struct diag_step *st = &rep->steps[DS_IDENTITY];
	const struct tenant *t = &e->tenant;
	char err[SP_ERR_MAX];
	long n = 0;

	if (!a) {
		skip(st, "no account on this line");
		return;
	}
	verdict(st, DIAG_OK);
	ev(st, "username '%s', auth username '%s'", a->username, a->auth_username);
	if (validate_names_swapped(t, a)) {
		st->findings |= DF_SWAP;
		verdict(st, DIAG_FAIL);
		ev(st, "username '%s' matches the auth-username pattern %s and auth username '%s' matches "
		   "the username pattern %s: the two look swapped", a->username, t->auth_username_pattern,
		   a->auth_username, t->username_pattern);
	}
	if (validate_account(s, t, e->device.mac, a, err, sizeof(err)) < 0) {
		bool swap = strstr(err, "swap") != NULL;
		verdict(st, DIAG_FAIL);
		/* the pattern swap above already said it in fewer words */
		if (!(swap && (st->findings & DF_SWAP)))
			ev(st, "validation: %s", err);
		st->findings |= swap ? DF_SWAP : DF_IDENTITY_INVALID;
	}
	if (!(st->findings & (DF_SWAP | DF_IDENTITY_INVALID)) && validate_effective(e, err, sizeof(err)) < 0) {
		verdict(st, DIAG_WARN);
		ev(st, "effective config: %s", err);
	}
	if (store_diag_username_count(s, t->id, a->username, &n) == 0) {
		if (t->max_per_user > 0 && n > t->max_per_user) {
			st->findings |= DF_TOO_MANY;
			verdict(st, DIAG_FAIL);
			ev(st, "%ld accounts share username '%s'; tenant allows %ld", n, a->username, t->max_per_user);
		} else {
			if (t->max_per_user)
				ev(st, "%ld account(s) use username '%s' (tenant limit %ld)", n, a->username,
				   t->max_per_user);
			else
				ev(st, "%ld account(s) use username '%s' (no tenant limit)", n, a->username);
		}
	}
	/* the first failure is the headline */
	if (st->verdict == DIAG_FAIL) {
		const char *first = strchr(st->evidence, '\n');
		if (first)
			headline_at(st, (size_t)(first + 1 - st->evidence));
	}
}

static void step_fetch(struct store *s, const struct effective *e, const struct account *a,
		       struct diag_report *rep)
{
	struct diag_step *st = &rep->steps[DS_FETCH];
	const struct device *d = &e->device;
	char when[32];

	if (a && d->fetched_at) {
		/* The account is not versioned: its audit row says whether it
		 * changed after the phone took its copy. */
		char cm[18], object[64], detail[256] = "", w2[32];
		int64_t at = 0;
		validate_mac_colons(d->mac, cm);
		snprintf(object, sizeof(object), "account %ld on %s", a->line, cm);
		if (store_diag_account_changed(s, object, &at, detail, sizeof(detail)) == 1 && at > d->fetched_at) {
			st->findings |= DF_ACCOUNT_CHANGED;
			fmt_time(at, w2, sizeof(w2));
			fmt_time(d->fetched_at, when, sizeof(when));
			ev(st, "account line %ld changed at %s (%s), after the phone's last fetch at %s: the phone "
			   "still runs the account as it was", a->line, w2, detail, when);
		}
	}

	if (!d->fetched_at) {
		st->findings |= DF_NEVER_FETCHED;
		verdict(st, DIAG_WARN);
		ev(st, "the device never fetched its config; it would get %s (current v%ld)", e->version_label,
		   e->current_version);
		return;
	}
	fmt_time(d->fetched_at, when, sizeof(when));
	if (d->fetched_version < e->version) {
		st->findings |= DF_STALE;
		verdict(st, DIAG_WARN);
		ev(st, "stale: last fetched v%ld at %s from %s, would now get v%ld (%s)", d->fetched_version, when,
		   d->fetched_ip, e->version, e->version_label);
	} else {
		verdict(st, DIAG_OK);
		ev(st, "fetched v%ld at %s from %s; serving %s", d->fetched_version, when, d->fetched_ip,
		   e->version_label);
	}
	if (e->version != e->current_version)
		ev(st, "device is pinned to v%ld; the template's current version is v%ld", e->version,
		   e->current_version);
	if (st->findings & DF_ACCOUNT_CHANGED)
		verdict(st, DIAG_WARN);     /* its line came first: the headline */
}

/* A SIP ALG rewrites the phone's address in Contact (and Via) to the
 * router's public address, and broken ones keep the phone's private port
 * instead of the port the NAT mapped: over UDP the Contact then names the
 * very address the packet came from, with another port.  (Without an ALG
 * a NATed phone's Contact names its private address; TCP phones listen on
 * another port than they send from, so only UDP counts.) */
static void alg_check(const struct diag_reg *r, struct diag_step *st)
{
	char host[256];
	const char *c = strchr(r->contact, '<'), *at;
	long port = 0;

	if (strcasecmp(r->transport, "udp") || !r->src_port || !r->contact[0])
		return;
	c = c ? c + 1 : r->contact;
	at = strchr(c, '@');
	if (at && at < c + strcspn(c, ";>"))
		c = at + 1;
	host_port(c, host, sizeof(host), &port);
	if (!port)
		port = 5060;
	if (strcmp(host, r->src_ip) || port == r->src_port)
		return;
	st->findings |= DF_ALG_REWRITE;
	ev(st, "its Contact %s names the address the REGISTER came from (%s) but port %ld, while it came from "
	   "port %ld: something on the path rewrote the phone's address (a SIP ALG) and replies sent there go "
	   "astray", r->contact, r->src_ip, port, r->src_port);
}

static void step_regs(struct store *s, const struct effective *e, const struct account *a,
		      struct diag_report *rep)
{
	struct diag_step *st = &rep->steps[DS_REGS];
	struct diag_reg regs[5];
	struct diag_drift drift[8];
	size_t nr = 0, nd = 0;
	char when[32];
	struct diag_facts *f = &rep->facts;

	verdict(st, DIAG_OK);
	if (a && a->last_code) {
		fmt_time(a->last_code_at, when, sizeof(when));
		ev(st, "last final response for line %ld: %ld at %s", a->line, a->last_code, when);
		if (a->last_code == 408)
			st->findings |= DF_LAST_TIMEOUT;
		if (a->last_code >= 300)
			verdict(st, DIAG_FAIL);     /* a 401/407 recorded was never answered */
	}
	if (store_diag_registrations(s, a ? a->id : 0, e->device.id, a ? a->username : "", regs, 5, &nr) < 0) {
		verdict(st, DIAG_WARN);
		ev(st, "cannot read registrations: %s", store_errmsg(s));
	}
	for (size_t i = 0; i < nr; i++) {
		struct diag_reg *r = &regs[i];
		char net[64];
		fmt_time(r->at, when, sizeof(when));
		diag_network_type(r->src_ip, net, sizeof(net));
		ev(st, "%s %s from %s:%ld (%s) over %s to %s:%ld%s%s%s user '%s' auth '%s' -> %ld%s%s%s%s%s%s", when,
		   r->source, r->src_ip, r->src_port, net[0] ? net : "address unknown", r->transport, r->registrar,
		   r->port, r->dst_ip[0] ? " (at " : "", r->dst_ip, r->dst_ip[0] ? ")" : "", r->username, r->auth_username, r->code, r->reason[0] ? " '" : "", r->reason,
		   r->reason[0] ? "'" : "", r->code ? "" : " (no answer)", r->reason_detail[0] ? "; " : "",
		   r->reason_detail);
		/* Any observation came from the registrar (its HEP mirror or its
		 * webhook): the phone's REGISTER reached it. */
		if (r->at >= sp_now() - 3600)
			st->findings |= DF_HEP_RECEIVED;
		if (i == 0) {
			sp_strlcpy(f->last_reg_ip, r->src_ip, sizeof(f->last_reg_ip));
			sp_strlcpy(f->last_reg_transport, r->transport, sizeof(f->last_reg_transport));
			f->last_reg_port = r->port;
			sp_strlcpy(f->last_reg_registrar, r->registrar, sizeof(f->last_reg_registrar));
			sp_strlcpy(f->last_reg_dst, r->dst_ip, sizeof(f->last_reg_dst));
			sp_strlcpy(f->last_reason, r->reason, sizeof(f->last_reason));
			f->last_reg_at = r->at;
			sp_strlcpy(f->last_reason_detail, r->reason_detail, sizeof(f->last_reason_detail));
			if (!f->last_code && r->code) {
				f->last_code = r->code;
				f->last_code_at = r->at;
			}
			if (r->code == 408 || r->code == 0)
				st->findings |= DF_LAST_TIMEOUT;
			alg_check(r, st);
			if (r->code == 401 || r->code == 407) {
				st->findings |= DF_UNANSWERED_401;
				ev(st, "the registrar challenged the phone (%ld) and the phone never answered with "
				   "credentials: it has none it can use, or the challenge never reached it", r->code);
			}
			if (r->code >= 300) {
				verdict(st, DIAG_FAIL);
				st->findings |= diag_phrase_finding(r->reason) | diag_phrase_finding(r->reason_detail);
			}
		}
	}
	if (!nr && !(a && a->last_code))
		ev(st, "no registration seen for this line (is HEP/webhook intake configured?)");
	if (store_diag_drift_open(s, e->device.id, drift, 8, &nd) == 0) {
		for (size_t i = 0; i < nd; i++) {
			struct diag_drift *d = &drift[i];
			if (a && d->account_id && d->account_id != a->id)
				continue;
			if (!strcmp(d->kind, "registrar"))
				st->findings |= DF_DRIFT_REGISTRAR;
			else if (!strcmp(d->kind, "transport") || !strcmp(d->kind, "port"))
				st->findings |= DF_DRIFT_TRANSPORT;
			else if (!strcmp(d->kind, "username") || !strcmp(d->kind, "auth_username"))
				st->findings |= DF_DRIFT_IDENTITY;
			else if (!strcmp(d->kind, "unknown_user"))
				st->findings |= DF_DRIFT_UNKNOWN_USER;
			else if (!strcmp(d->kind, "stale"))
				st->findings |= DF_STALE;
			else if (!strcmp(d->kind, "never_fetched"))
				st->findings |= DF_NEVER_FETCHED;
			verdict(st, DIAG_WARN);
			fmt_time(d->last_seen, when, sizeof(when));
			ev(st, "open drift '%s': expected '%s', observed '%s' (%ld times, last %s)", d->kind, d->expected,
			   d->observed, d->count, when);
		}
	}
	if (st->verdict != DIAG_OK && f->last_code) {
		/* the phone's own last attempt, reason phrase included, leads;
		 * a rewritten Contact explains more than the code */
		char *p = st->findings & DF_ALG_REWRITE ? strstr(st->evidence, "its Contact ") : NULL;
		if (!p)
			p = strstr(st->evidence, "-> ");
		if (!p)
			p = strstr(st->evidence, "last final response");
		if (p) {
			while (p > st->evidence && p[-1] != '\n')
				p--;
			headline_at(st, (size_t)(p - st->evidence));
		}
	}
}

struct net_ctx {
	char host[256];            /* where the device sends: outbound proxy, server or registrar */
	long port;
	char transport[8];
	char domain[256];
	char direct_host[256];     /* with an outbound proxy: server or registrar, else "" */
	long direct_port;
	bool tls_verify;
	long timeout_ms;
	const char *ca_file;
};

static void target_fill(const struct net_ctx *n, struct probe_target *t, const char *transport, long port,
			long timeout_ms, const char *user)
{
	memset(t, 0, sizeof(*t));
	sp_strlcpy(t->host, n->host, sizeof(t->host));
	t->port = (int)port;
	sp_strlcpy(t->transport, transport, sizeof(t->transport));
	sp_strlcpy(t->domain, n->domain, sizeof(t->domain));
	sp_strlcpy(t->user, user ? user : "", sizeof(t->user));
	t->tls_verify = n->tls_verify;
	sp_strlcpy(t->ca_file, n->ca_file ? n->ca_file : "", sizeof(t->ca_file));
	t->timeout_ms = timeout_ms;
}

static bool addr_listed(const char *list, const char *ip)
{
	size_t l = strlen(ip);
	for (const char *p = list; ip[0] && (p = strstr(p, ip)); p += l)
		if ((p == list || p[-1] == ' ') && (p[l] == '\0' || p[l] == ','))
			return true;
	return false;
}

/* The name the device sends to, against the registrars' own reports of
 * where the domain registers (HEP destination addresses of accepted
 * REGISTERs) and of where this phone's last REGISTER went.  rc and addrs
 * are probe_dns()'s answer for that name. */
static void dns_vs_seen(struct store *s, const struct net_ctx *n, const struct net_ctx *runs, int rc,
			const char *addrs, struct diag_report *rep)
{
	struct diag_step *st = &rep->steps[DS_DNS];
	const struct diag_facts *f = &rep->facts;
	struct diag_served sv[4];
	size_t ns = 0, lead;
	unsigned char bin[16];
	char where[256] = "";
	bool phone_failed = f->last_code >= 300 || !f->last_code;

	if (!n->host[0] || inet_pton(AF_INET, n->host, bin) == 1 || inet_pton(AF_INET6, n->host, bin) == 1)
		return;         /* an address: no name to be wrong */
	if (store_diag_domain_served(s, n->domain, sp_now() - 86400, sv, 4, &ns) < 0)
		ns = 0;
	for (size_t i = 0, l = 0; i < ns && l + 1 < sizeof(where); i++) {
		int w = snprintf(where + l, sizeof(where) - l, "%s%s:%ld (%ld accepted)", i ? ", " : "", sv[i].dst_ip,
				 sv[i].port, sv[i].count);
		if (w < 0)
			break;
		l += (size_t)w < sizeof(where) - l ? (size_t)w : sizeof(where) - l - 1;
	}
	if (ns)
		ev(st, "domain '%s' registers at %s in the last day, as its registrars report it", n->domain, where);
	if (rc == 0) {
		st->findings |= DF_NAME_MISSING;
		lead = strlen(st->evidence);
		ev(st, "the resolver answers that '%s' does not exist (no such name): the device is given a "
		   "host name nobody published%s%s", n->host, ns ? "; the domain registers at " : "", ns ? where : "");
		headline_at(st, lead + 1);
		return;
	}
	if (rc < 0 || !phone_failed)
		return;
	if (f->last_reg_dst[0] && f->last_code && !strcasecmp(runs->host, n->host) &&
	    !addr_listed(addrs, f->last_reg_dst)) {
		st->findings |= DF_DNS_STALE;
		verdict(st, DIAG_WARN);
		lead = strlen(st->evidence);
		ev(st, "disagree: the phone's last REGISTER went to %s (as that registrar reported it) and got %ld; "
		   "'%s' resolves here to %s: the phone used a stale or wrong DNS answer for '%s'", f->last_reg_dst,
		   f->last_code, n->host, addrs, n->host);
		headline_at(st, lead + 1);
		return;
	}
	if (!ns)
		return;
	for (size_t i = 0; i < ns; i++)
		if (addr_listed(addrs, sv[i].dst_ip))
			return;         /* the name leads where the domain registers */
	verdict(st, DIAG_WARN);
	lead = strlen(st->evidence);
	if (!strcasecmp(n->host, n->domain)) {
		st->findings |= DF_DNS_WRONG;
		ev(st, "'%s', the SIP domain itself and where the device sends, resolves to %s, but the domain "
		   "registers at %s: its DNS record points at a registrar that does not serve it", n->host, addrs,
		   where);
	} else {
		st->findings |= DF_SERVER_ELSEWHERE;
		ev(st, "server '%s' resolves to %s, not where domain '%s' registers (%s): the server host name "
		   "points at another registrar", n->host, addrs, n->domain, where);
	}
	headline_at(st, lead + 1);
}

static void step_dns(struct store *s, const struct effective *e, struct net_ctx *n, const struct net_ctx *runs,
		     struct diag_report *rep)
{
	struct diag_step *st = &rep->steps[DS_DNS];
	const char *keys[3] = { "registrar", "server", "outbound_proxy" };
	char seen[3][256];
	int nseen = 0, target_rc = -1;
	char out[512], target_addrs[512] = "";

	verdict(st, DIAG_OK);
	for (int i = 0; i < 3; i++) {
		char h[256];
		long p;
		host_port(effective_get(e, keys[i]), h, sizeof(h), &p);
		if (!h[0])
			continue;
		bool dup = false;
		for (int j = 0; j < nseen; j++)
			dup |= !strcmp(seen[j], h);
		if (dup)
			continue;
		sp_strlcpy(seen[nseen++], h, sizeof(seen[0]));
		rep->network_bound_ms += n->timeout_ms;
		int rc = probe_dns(h, n->timeout_ms, out, sizeof(out));
		bool target = !strcmp(h, n->host);
		if (target) {
			target_rc = rc;
			sp_strlcpy(target_addrs, out, sizeof(target_addrs));
		}
		if (rc > 0) {
			ev(st, "%s '%s' -> %s", keys[i], h, out);
		} else if (target) {
			st->findings |= DF_DNS_FAIL;
			verdict(st, DIAG_FAIL);
			ev(st, "%s '%s' (where the device sends REGISTER): %s", keys[i], h, out);
		} else if (rc == 0 && !target) {
			verdict(st, DIAG_WARN);
			ev(st, "%s '%s': %s: no such name (only a domain name here: the device sends to '%s')", keys[i],
			   h, out, n->host);
		} else {
			verdict(st, DIAG_WARN);
			ev(st, "%s '%s': %s (only a domain name here: the device sends to '%s')", keys[i], h, out,
			   n->host);
		}
	}
	if (!nseen) {
		st->findings |= DF_DNS_FAIL;
		verdict(st, DIAG_FAIL);
		ev(st, "no registrar, server or outbound proxy configured");
	}
	if (!strcasecmp(effective_get(e, "dns_mode"), "srv") && n->domain[0]) {
		char name[300];
		snprintf(name, sizeof(name), "%s.%s", !strcasecmp(n->transport, "tls") ? "_sips._tcp" :
			 !strcasecmp(n->transport, "tcp") ? "_sip._tcp" : "_sip._udp", n->domain);
		rep->network_bound_ms += n->timeout_ms;
		int rc = probe_srv(name, n->timeout_ms, out, sizeof(out));
		if (rc > 0) {
			ev(st, "SRV %s -> %s", name, out);
		} else {
			st->findings |= DF_SRV_MISSING;
			verdict(st, DIAG_WARN);
			ev(st, "dns_mode is srv but %s (the device falls back to A records)", out);
		}
	}
	if (st->findings & DF_DNS_FAIL) {
		char *p = strstr(st->evidence, "where the device sends");
		if (!p)
			p = strstr(st->evidence, "no registrar");
		if (p) {
			while (p > st->evidence && p[-1] != '\n')
				p--;
			headline_at(st, (size_t)(p - st->evidence));
		}
	}
	/* what the registrars saw can say more than the resolver: it leads */
	if (nseen)
		dns_vs_seen(s, n, runs, target_rc, target_addrs, rep);
}

static void step_reach(struct net_ctx *n, struct diag_report *rep)
{
	struct diag_step *st = &rep->steps[DS_REACH];
	struct probe_target t;
	struct probe_result r;
	long alt_ms = n->timeout_ms < 1000 ? n->timeout_ms : 1000;

	target_fill(n, &t, n->transport, n->port, n->timeout_ms, NULL);
	rep->network_bound_ms += n->timeout_ms;
	if (probe_sip(&t, "OPTIONS", NULL, &r) == 0) {
		st->findings |= DF_REACH_OK;
		verdict(st, r.code >= 200 && r.code < 300 ? DIAG_OK : DIAG_WARN);
		ev(st, "%s", r.text);
		if (r.tls_done)
			ev(st, "certificate subject %s, issuer %s, expires %s: %s", r.tls_subject, r.tls_issuer,
			   r.tls_not_after, r.tls_verify_text);
		if (r.code >= 300)
			ev(st, "the registrar answers but refuses OPTIONS (%d); reachability is still proven", r.code);
		return;
	}
	verdict(st, DIAG_FAIL);
	ev(st, "OPTIONS over %s to %s port %ld: %s", n->transport, n->host, n->port, r.text);
	if (r.status == PROBE_DNS)
		st->findings |= DF_DNS_FAIL;
	else if (r.status == PROBE_REFUSED)
		st->findings |= DF_PORT_CLOSED;
	else if (r.status == PROBE_TIMEOUT)
		st->findings |= DF_NO_ANSWER;
	else if (r.status == PROBE_TLS) {
		st->findings |= DF_TLS_FAIL;
		if (r.tls_done)
			ev(st, "certificate subject %s, issuer %s, expires %s: %s", r.tls_subject, r.tls_issuer,
			   r.tls_not_after, r.tls_verify_text);
	}
	/* A completed handshake proves TLS is served here: the certificate is
	 * the problem, not the transport. */
	if (r.status == PROBE_DNS || (r.status == PROBE_TLS && r.tls_done))
		return;
	/* Does the registrar answer on another transport or port?  That turns
	 * "closed" into "mismatch".  The sweep: the configured port on the
	 * other transports, the standard port of every transport (5060
	 * udp/tcp, 5061 tls), then the sibling port (TLS one above UDP/TCP, as
	 * 5061 above 5060). */
	long std[3];
	diag_std_ports(&std[0], &std[1], &std[2]);
	struct { const char *tr; long port; } alts[9];
	int na = 0, refused = 0;
	const char *trs[3] = { "udp", "tcp", "tls" };
	bool cfg_tls = !strcasecmp(n->transport, "tls");
	for (int pass = 0; pass < 3; pass++) {
		for (int i = 0; i < 3; i++) {
			long port = pass == 0 ? n->port : pass == 1 ? std[i]
				  : (i == 2) != cfg_tls ? (cfg_tls ? n->port - 1 : n->port + 1) : 0;
			bool same = !strcasecmp(trs[i], n->transport) && port == n->port;
			bool dup = false;
			for (int k = 0; k < na; k++)
				dup |= !strcmp(alts[k].tr, trs[i]) && alts[k].port == port;
			if (port >= 1 && port <= 65535 && !same && !dup && na < 9) {
				alts[na].tr = trs[i];
				alts[na].port = port;
				na++;
			}
		}
	}
	refused = r.status == PROBE_REFUSED;
	for (int i = 0; i < na; i++) {
		struct probe_result ar;
		target_fill(n, &t, alts[i].tr, alts[i].port, alt_ms, NULL);
		t.tls_verify = false;
		rep->network_bound_ms += alt_ms;
		if (probe_sip(&t, "OPTIONS", NULL, &ar) == 0) {
			st->findings |= DF_OTHER_TRANSPORT_OK;
			ev(st, "but %s port %ld answers: %d %s (the registrar serves %s:%ld, the device is told "
			   "%s:%ld)", alts[i].tr, alts[i].port, ar.code, ar.reason, alts[i].tr, alts[i].port,
			   n->transport, n->port);
			return;
		}
		refused += ar.status == PROBE_REFUSED;
		ev(st, "also tried %s port %ld: %s", alts[i].tr, alts[i].port, probe_status_name(ar.status));
	}
	if (refused == na + 1) {
		st->findings |= DF_ALL_REFUSED;
		ev(st, "every port tried refused: nothing listens on %s", n->host);
	}
}

static void step_register(struct net_ctx *n, const struct account *a, const struct diag_opts *o,
			  struct diag_report *rep)
{
	struct diag_step *st = &rep->steps[DS_REGISTER];
	struct probe_target t;
	struct probe_result r;
	bool challenged = false, failed = false;
	int before = 0;                 /* a 403/404 answered before any challenge */

	target_fill(n, &t, n->transport, n->port, n->timeout_ms, a->username);
	rep->network_bound_ms += n->timeout_ms;
	if (probe_sip(&t, "REGISTER", NULL, &r) < 0) {
		verdict(st, DIAG_FAIL);
		ev(st, "REGISTER without credentials: %s", r.text);
		if (r.status == PROBE_TIMEOUT)
			st->findings |= DF_NO_ANSWER;
		return;
	}
	ev(st, "REGISTER for %s@%s without credentials: %d %s", a->username, n->domain, r.code, r.reason);
	uint64_t says = diag_phrase_finding(r.reason);
	if (r.code == 404) {
		before = 404;
		failed = true;
		st->findings |= says ? says : DF_PROBE_DOMAIN_404;
		verdict(st, DIAG_FAIL);
		if (says == DF_SAYS_USER_UNKNOWN)
			ev(st, "the registrar does not know user '%s' ('%s'), before asking for credentials",
			   a->username, r.reason);
		else
			ev(st, "the registrar rejects domain '%s' or user '%s' before asking for credentials", n->domain,
			   a->username);
	} else if (r.code == 403) {
		before = 403;
		failed = true;
		st->findings |= DF_PROBE_FORBIDDEN | says;
		verdict(st, DIAG_FAIL);
		ev(st, "the registrar forbids this user/domain before asking for credentials%s%s%s",
		   says ? " ('" : "", says ? r.reason : "", says ? "')" : "");
	} else if (r.code >= 500) {
		failed = true;
		st->findings |= DF_SAYS_UNAVAILABLE | says;
		verdict(st, DIAG_FAIL);
		ev(st, "the registrar is unavailable (%d %s)", r.code, r.reason);
	} else if (r.code != 401 && r.code != 407) {
		verdict(st, r.code < 300 ? DIAG_WARN : DIAG_FAIL);
		ev(st, "expected a 401/407 challenge%s", r.code < 300 ? ": the registrar asks no credentials" : "");
	} else {
		challenged = true;
		verdict(st, DIAG_OK);
		ev(st, "the registrar knows domain '%s' and user '%s' and asks for credentials", n->domain, a->username);
	}
	bool creds = o->key && a->password[0];
	if (challenged && !creds)
		ev(st, "credentials not tried: %s", o->key ? "no password stored" : "no key file to decrypt the password");
	if (challenged && creds) {
		/* Contact-less REGISTER: authenticates and lists bindings, changes nothing. */
		struct probe_auth auth = { a->auth_username, a->password };
		rep->network_bound_ms += n->timeout_ms;
		target_fill(n, &t, n->transport, n->port, n->timeout_ms, a->username);
		if (probe_sip(&t, "REGISTER", &auth, &r) < 0) {
			verdict(st, DIAG_WARN);
			ev(st, "with the stored credentials: %s", r.text);
			return;
		}
		ev(st, "with auth username '%s' and the stored password (binding query, no Contact): %d %s",
		   a->auth_username, r.code, r.reason);
		says = diag_phrase_finding(r.reason);
		if (r.code >= 200 && r.code < 300) {
			st->findings |= DF_AUTH_OK;
			ev(st, "the stored credentials are accepted");
		} else if (r.code == 403 || r.code == 401 || r.code == 407) {
			failed = true;
			st->findings |= DF_AUTH_403 | says;
			verdict(st, DIAG_FAIL);
			ev(st, "the registrar rejects the stored password for auth username '%s'%s%s%s", a->auth_username,
			   says ? " ('" : "", says ? r.reason : "", says ? "')" : "");
		} else if (r.code == 404) {
			failed = true;
			st->findings |= DF_AUTH_404 | DF_AUTH_ID_UNKNOWN;
			verdict(st, DIAG_FAIL);
			ev(st, "the registrar challenged user '%s' but does not know auth username '%s' (%d %s): the "
			   "auth username is wrong, or that digest user was removed", a->username, a->auth_username,
			   r.code, r.reason);
		} else if (r.code >= 500) {
			failed = true;
			st->findings |= DF_SAYS_UNAVAILABLE | says;
			verdict(st, DIAG_FAIL);
		} else {
			verdict(st, DIAG_WARN);
		}
	}
	size_t headline = strlen(st->evidence);
	/* Swapped fields: the same account with username and auth username
	 * exchanged is accepted. */
	if (failed && creds && strcmp(a->username, a->auth_username)) {
		struct probe_auth sw = { a->username, a->password };
		struct probe_result rs;
		rep->network_bound_ms += n->timeout_ms;
		target_fill(n, &t, n->transport, n->port, n->timeout_ms, a->auth_username);
		if (probe_sip(&t, "REGISTER", &sw, &rs) == 0 && rs.code >= 200 && rs.code < 300) {
			st->findings |= DF_SWAP_PROVEN;
			headline = strlen(st->evidence);
			ev(st, "swapped (user '%s', auth username '%s') the registrar accepts: %d %s: username and "
			   "auth username are swapped", a->auth_username, a->username, rs.code, rs.reason);
		} else {
			ev(st, "swapped (user '%s', auth username '%s'): %s", a->auth_username, a->username,
			   rs.code ? rs.reason : rs.text);
		}
	}
	/* Through an outbound proxy: does the registrar itself accept what
	 * the proxy refuses? */
	if (before && n->direct_host[0]) {
		struct net_ctx d = *n;
		struct probe_result rd;
		sp_strlcpy(d.host, n->direct_host, sizeof(d.host));
		d.port = n->direct_port;
		rep->network_bound_ms += n->timeout_ms;
		target_fill(&d, &t, d.transport, d.port, d.timeout_ms, a->username);
		if (probe_sip(&t, "REGISTER", NULL, &rd) == 0 && (rd.code == 401 || rd.code == 407 || rd.code < 300)) {
			st->findings |= DF_PROXY_WRONG;
			headline = strlen(st->evidence);
			ev(st, "directly to %s:%ld (bypassing outbound proxy %s:%ld) the registrar answers %d %s: the "
			   "outbound proxy is the problem", d.host, d.port, n->host, n->port, rd.code, rd.reason);
		} else {
			ev(st, "directly to %s:%ld (bypassing the outbound proxy): %s", d.host, d.port,
			   rd.code ? rd.reason : rd.text);
		}
	}
	if (st->findings & (DF_SWAP_PROVEN | DF_PROXY_WRONG)) {
		headline_at(st, headline + (headline > 0));
	} else if (st->verdict == DIAG_FAIL) {
		/* the line that says why, after the raw result */
		const char *p = strstr(st->evidence, "\nthe registrar");
		if (p)
			headline_at(st, (size_t)(p + 1 - st->evidence));
	}
}

/* Where a config sends REGISTER: outbound proxy, else server, else
 * registrar; the domain from the registrar. */
static void net_from(const struct effective *e, struct net_ctx *n)
{
	const char *proxy = effective_get(e, "outbound_proxy");
	const char *via[3] = { proxy, effective_get(e, "server"), effective_get(e, "registrar") };
	const char *tr = effective_get(e, "transport");
	long port, p = 0;
	bool first = true;

	sp_strlcpy(n->transport, tr[0] ? tr : "udp", sizeof(n->transport));
	if (sp_parse_int(effective_get(e, "port"), 1, 65535, &port) < 0)
		port = probe_default_port(n->transport);
	n->host[0] = n->direct_host[0] = '\0';
	for (int i = 0; i < 3; i++) {
		if (!via[i][0])
			continue;
		if (first) {
			host_port(via[i], n->host, sizeof(n->host), &p);
			n->port = proxy[0] && p ? p : port;
			first = false;
			if (!proxy[0])
				break;
		} else {
			host_port(via[i], n->direct_host, sizeof(n->direct_host), &p);
			n->direct_port = p ? p : port;
			break;
		}
	}
	if (first)
		n->port = port;
	char d[256];
	host_port(via[2][0] ? via[2] : n->host, d, sizeof(d), &p);
	sp_strlcpy(n->domain, d, sizeof(n->domain));
}

static void net_text(const struct net_ctx *n, char *out, size_t len)
{
	snprintf(out, len, "%s %s:%ld domain %s", n->transport, n->host[0] ? n->host : "-", n->port, n->domain);
}

static bool net_same(const struct net_ctx *a, const struct net_ctx *b)
{
	return !strcasecmp(a->host, b->host) && a->port == b->port && !strcasecmp(a->transport, b->transport) &&
	       !strcasecmp(a->domain, b->domain);
}

/* Step 8: the phone's experience, the config it runs and the probes side
 * by side; what only their disagreement shows becomes a finding. */
static void step_views(struct store *s, const struct effective *e, const struct account *a,
		       const struct diag_opts *o, struct net_ctx *runs, bool network, struct diag_report *rep)
{
	struct diag_step *st = &rep->steps[DS_VIEWS];
	struct diag_facts *f = &rep->facts;
	uint64_t all = 0;
	char when[32], net[64];
	size_t lead = 0;

	for (int i = 0; i < DS_COUNT; i++)
		all |= rep->steps[i].findings;
	verdict(st, DIAG_OK);
	bool phone_failed = f->last_code >= 300;     /* 401/407 recorded = never answered */
	if (f->last_code) {
		fmt_time(f->last_code_at, when, sizeof(when));
		diag_network_type(f->last_reg_ip, net, sizeof(net));
		ev(st, "phone: last %ld%s%s%s at %s from %s (%s) over %s", f->last_code, f->last_reason[0] ? " '" : "",
		   f->last_reason, f->last_reason[0] ? "'" : "", when, f->last_reg_ip[0] ? f->last_reg_ip : "-",
		   net[0] ? net : "network unknown", f->last_reg_transport[0] ? f->last_reg_transport : "-");
	} else {
		ev(st, "phone: no registration of this line seen");
	}
	fmt_time(f->fetched_at, when, sizeof(when));
	ev(st, "runs: v%ld (fetched %s) -> %s; current v%ld -> %s", f->version_served, when, f->runs_target,
	   f->version_current, f->cur_target);
	ev(st, "probes from this host: %s", !network ? "not run" : all & DF_AUTH_OK ? "accepted with the stored "
	   "credentials" : all & DF_REACH_OK ? "the registrar answers, the REGISTER does not succeed" :
	   "the registrar does not answer");

	if (phone_failed && (all & DF_RUNS_DIFFERS) && f->last_reg_at >= f->fetched_at && f->last_reg_port == runs->port &&
	    runs->port != f->port) {
		st->findings |= DF_FAILS_WHERE_RUNS;
		lead = strlen(st->evidence);
		ev(st, "disagree: the phone failed (%ld) at port %ld, where the version it runs sends it; the current "
		   "config sends to %s", f->last_code, runs->port, f->cur_target);
	}
	if (phone_failed && (all & DF_AUTH_OK)) {
		st->findings |= DF_PHONE_FAILS_PROBE_OK;
		lead = strlen(st->evidence);
		ev(st, "disagree: the phone got %ld%s%s%s from %s (%s) while the probe from this host with the same "
		   "account was accepted: IP policy, too many registrations or a stale profile on the phone",
		   f->last_code, f->last_reason[0] ? " '" : "", f->last_reason, f->last_reason[0] ? "'" : "",
		   f->last_reg_ip[0] ? f->last_reg_ip : "its network", net[0] ? net : "network unknown");
	}
	if ((all & DF_ACCOUNT_CHANGED) && phone_failed && (all & DF_AUTH_OK)) {
		st->findings |= DF_RUNS_OLD_FAILS;
		lead = strlen(st->evidence);
		ev(st, "disagree: the phone fails with the account as it was before its last change, the current "
		   "account is accepted: the phone runs an out-of-date profile");
	}
	if ((all & DF_RUNS_DIFFERS) && network && a) {
		/* Probe what the phone runs, not only the current template. */
		struct probe_target t;
		struct probe_result r;
		struct probe_auth auth = { a->auth_username, a->password };
		bool creds = o->key && a->password[0];
		target_fill(runs, &t, runs->transport, runs->port, runs->timeout_ms, a->username);
		rep->network_bound_ms += runs->timeout_ms;
		int rc = probe_sip(&t, "REGISTER", creds ? &auth : NULL, &r);
		bool runs_ok = rc == 0 && (r.code < 300 || (!creds && (r.code == 401 || r.code == 407)));
		bool cur_ok = creds ? (all & DF_AUTH_OK) != 0 : (all & DF_REACH_OK) && !(all & (DF_PROBE_DOMAIN_404 |
			      DF_PROBE_FORBIDDEN | DF_SAYS_USER_UNKNOWN));
		if (!runs_ok && cur_ok) {
			st->findings |= DF_RUNS_OLD_FAILS;
			lead = strlen(st->evidence);
			ev(st, "disagree: what the phone runs (%s) gets %s, the current config (%s) is accepted: the "
			   "phone registers with out-of-date settings", f->runs_target, rc == 0 ? r.reason : r.text,
			   f->cur_target);
			if (rc == 0)
				st->findings |= diag_phrase_finding(r.reason) & DF_SAYS_USER_UNKNOWN;
		} else {
			ev(st, "what the phone runs (%s): %s", f->runs_target, rc == 0 ? r.text : r.text);
		}
	}
	if ((all & DF_HEP_RECEIVED) && (all & (DF_NO_ANSWER | DF_PORT_CLOSED))) {
		lead = strlen(st->evidence);
		ev(st, "the registrar received this phone's REGISTERs (its own mirror, last from %s): packets from "
		   "the phone's network reach it, so no firewall in front of the registrar blocks the phone",
		   f->last_reg_ip[0] ? f->last_reg_ip : "-");
	}
	if (network && f->fetched_at >= sp_now() - 86400 && !f->last_code && !f->last_reg_ip[0] &&
	    (all & DF_REACH_OK)) {
		long seen = 0;
		if (store_diag_intake_seen(s, sp_now() - 86400, &seen) == 0 && seen > 0) {
			st->findings |= DF_PHONE_SILENT;
			lead = strlen(st->evidence);
			diag_network_type(f->fetched_ip, net, sizeof(net));
			ev(st, "disagree: the phone fetched its config at %s from %s (%s), the registrar answers probes "
			   "from this host and recorded %ld other registrations in a day, yet no REGISTER of this "
			   "phone ever reached it: its network blocks SIP", when, f->fetched_ip, net[0] ? net : "-",
			   seen);
		}
	}
	if (st->findings || lead)
		verdict(st, DIAG_WARN);
	if (lead)
		headline_at(st, lead + 1);
}

int diagnose_run(struct store *s, const char *mac, const struct diag_opts *o, struct diag_report *rep,
		 char *err, size_t errlen)
{
	struct effective *e = xcalloc(1, sizeof(*e));
	char norm[SP_MAC_LEN + 1];
	const struct account *a = NULL;
	struct diag_facts *f = &rep->facts;
	struct ua_info ui;
	struct net_ctx n;
	int rc;

	memset(rep, 0, sizeof(*rep));
	for (int i = 0; i < DS_COUNT; i++) {
		rep->steps[i].name = step_names[i];
		rep->steps[i].verdict = DIAG_SKIPPED;
	}
	if (mac_normalize(mac, norm) < 0) {
		free(e);
		return sp_err(err, errlen, "'%s' is not a MAC address", mac);
	}
	rc = effective_load(s, o->key, norm, e, err, errlen);
	if (rc <= 0) {
		if (rc == 0)
			sp_err(err, errlen, "unknown device %s (see 'sipprov device list')", norm);
		free(e);
		return -1;
	}
	for (size_t i = 0; i < e->naccounts; i++)
		if (o->line ? e->accounts[i].line == o->line : true) {
			a = &e->accounts[i];
			break;
		}

	sp_strlcpy(f->mac, norm, sizeof(f->mac));
	sp_strlcpy(f->tenant, e->tenant.slug, sizeof(f->tenant));
	f->line = a ? a->line : o->line ? o->line : 1;
	if (a) {
		sp_strlcpy(f->username, a->username, sizeof(f->username));
		sp_strlcpy(f->auth_username, a->auth_username, sizeof(f->auth_username));
		sp_strlcpy(f->display_name, a->display_name, sizeof(f->display_name));
		f->last_code = a->last_code;
		f->last_code_at = a->last_code_at;
	}
	sp_strlcpy(f->user_agent, e->device.fetched_ua, sizeof(f->user_agent));
	ua_parse(e->device.fetched_ua, &ui);
	sp_strlcpy(f->model, ui.model[0] ? ui.model : e->device.model, sizeof(f->model));
	sp_strlcpy(f->firmware, ui.firmware[0] ? ui.firmware : "unknown (no User-Agent seen)", sizeof(f->firmware));
	sp_strlcpy(f->registrar, effective_get(e, "registrar"), sizeof(f->registrar));
	sp_strlcpy(f->server, effective_get(e, "server"), sizeof(f->server));
	sp_strlcpy(f->outbound_proxy, effective_get(e, "outbound_proxy"), sizeof(f->outbound_proxy));
	sp_strlcpy(f->transport, effective_get(e, "transport"), sizeof(f->transport));
	if (!f->transport[0])
		sp_strlcpy(f->transport, "udp", sizeof(f->transport));
	if (sp_parse_int(effective_get(e, "port"), 1, 65535, &f->port) < 0)
		f->port = probe_default_port(f->transport);
	sp_strlcpy(f->dns_mode, effective_get(e, "dns_mode"), sizeof(f->dns_mode));
	sp_strlcpy(f->version_label, e->version_label, sizeof(f->version_label));
	f->version_served = e->device.fetched_version;
	f->version_current = e->version;
	f->fetched_at = e->device.fetched_at;
	sp_strlcpy(f->fetched_ip, e->device.fetched_ip, sizeof(f->fetched_ip));
	diag_network_type(f->fetched_ip, f->net_fetch, sizeof(f->net_fetch));

	/* step 4 first (quietly): step 1 checks the last registration's source */
	step_regs(s, e, a, rep);
	step_active(s, e, a, rep);
	step_identity(s, e, a, rep);
	step_fetch(s, e, a, rep);

	diag_network_type(f->last_reg_ip, f->net_reg, sizeof(f->net_reg));
	/* where the device sends now, and where what it runs sends: the
	 * version it last fetched, corrected by what it was seen using */
	struct net_ctx runs;
	memset(&n, 0, sizeof(n));
	net_from(e, &n);
	n.tls_verify = strcasecmp(effective_get(e, "tls_verify"), "off") != 0;
	n.timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 3000;
	n.ca_file = o->ca_file;
	runs = n;
	if (e->device.fetched_at && e->device.fetched_version > 0 && e->device.fetched_version != e->version) {
		struct effective *re = xcalloc(1, sizeof(*re));
		struct device dv = e->device;
		char rerr[SP_ERR_MAX];
		dv.pinned_version = e->device.fetched_version;
		if (effective_load_device(s, NULL, &dv, re, rerr, sizeof(rerr)) == 1) {
			net_from(re, &runs);
			effective_release(re);
		}
		free(re);
	}
	if (f->last_reg_at >= e->device.fetched_at && f->last_reg_port && !effective_get(e, "outbound_proxy")[0]) {
		runs.port = f->last_reg_port;
		if (f->last_reg_transport[0] && sip_transport_parse(f->last_reg_transport) >= 0)
			sp_strlcpy(runs.transport, f->last_reg_transport, sizeof(runs.transport));
		if (f->last_reg_registrar[0])
			sp_strlcpy(runs.domain, f->last_reg_registrar, sizeof(runs.domain));
	}
	net_text(&n, f->cur_target, sizeof(f->cur_target));
	net_text(&runs, f->runs_target, sizeof(f->runs_target));
	f->runs_version = e->device.fetched_version;
	if (!net_same(&n, &runs)) {
		rep->steps[DS_FETCH].findings |= DF_RUNS_DIFFERS;
		verdict(&rep->steps[DS_FETCH], DIAG_WARN);
		ev(&rep->steps[DS_FETCH], "the phone runs %s; the current config says %s", f->runs_target, f->cur_target);
	}

	const char *why = NULL;
	if (!o->network)
		why = "network steps not requested";
	else if (rep->steps[DS_IDENTITY].verdict == DIAG_FAIL)
		why = "step 2 failed: the registrar would reject this identity whatever the network does";
	else if (!a)
		why = "no account on this line";
	else if (rep->steps[DS_ACTIVE].findings & (DF_DEVICE_DISABLED | DF_TENANT_SUSPENDED))
		why = "step 1 failed: the device gets no config while disabled";
	int64_t t0 = sp_mono_ms();
	if (why) {
		for (int i = DS_DNS; i <= DS_REGISTER; i++)
			skip(&rep->steps[i], why);
	} else {
		step_dns(s, e, &n, &runs, rep);
		if (rep->steps[DS_DNS].findings & DF_DNS_FAIL) {
			skip(&rep->steps[DS_REACH], "DNS failed for the host the device sends to");
			skip(&rep->steps[DS_REGISTER], "DNS failed for the host the device sends to");
		} else {
			step_reach(&n, rep);
			if (rep->steps[DS_REACH].findings & DF_REACH_OK)
				step_register(&n, a, o, rep);
			else
				skip(&rep->steps[DS_REGISTER], "the registrar does not answer on the configured "
				     "transport and port");
		}
	}
	step_views(s, e, a, o, &runs, !why, rep);
	if (!why)
		rep->network_ms = (long)(sp_mono_ms() - t0);
	diag_decide(rep->steps, o->error_code, f->last_code, &rep->result);
	effective_release(e);
	free(e);
	return 0;
}

void diag_std_ports(long *udp, long *tcp, long *tls)
{
	const char *env = getenv("SIPPROV_DIAG_STD_PORTS");
	char tmp[128];
	*udp = *tcp = 5060;
	*tls = 5061;
	if (!env || !*env)
		return;
	sp_strlcpy(tmp, env, sizeof(tmp));
	for (char *save = NULL, *it = strtok_r(tmp, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
		char *c = strchr(it, ':');
		long v;
		if (!c || sp_parse_int(c + 1, 1, 65535, &v) < 0)
			continue;
		*c = '\0';
		if (!strcasecmp(it, "udp"))
			*udp = v;
		else if (!strcasecmp(it, "tcp"))
			*tcp = v;
		else if (!strcasecmp(it, "tls"))
			*tls = v;
	}
}

void diag_network_type(const char *ip, char *out, size_t n)
{
	unsigned char a[16];
	const char *kind;
	out[0] = '\0';
	if (!ip || !*ip)
		return;
	if (inet_pton(AF_INET, ip, a) == 1) {
		if (a[0] == 127)
			kind = "loopback";
		else if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168))
			kind = "private";
		else if (a[0] == 100 && (a[1] & 0xc0) == 64)
			kind = "CGNAT (100.64/10)";
		else if (a[0] == 169 && a[1] == 254)
			kind = "link-local";
		else
			kind = "public";
		snprintf(out, n, "%s IPv4", kind);
	} else if (inet_pton(AF_INET6, ip, a) == 1) {
		static const unsigned char lo[16] = { [15] = 1 };
		if (!memcmp(a, lo, 16))
			kind = "loopback";
		else if ((a[0] & 0xfe) == 0xfc)
			kind = "private (ULA)";
		else if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
			kind = "link-local";
		else
			kind = "public";
		snprintf(out, n, "%s IPv6", kind);
	}
}

int diag_exit_code(const struct diag_report *rep, int error_code)
{
	if (diag_failed(rep))
		return 1;
	return error_code && !rep->result.explained ? 1 : 0;
}

bool diag_failed(const struct diag_report *rep)
{
	for (int i = 0; i < DS_COUNT; i++)
		if (rep->steps[i].verdict == DIAG_FAIL)
			return true;
	return false;
}

/* Stable names of the findings, for --json (bit n = names[n]). */
static const char *const finding_names[] = {
	"device_disabled", "tenant_suspended", "no_account", "ip_policy", "swap", "identity_invalid",
	"too_many", "stale", "never_fetched", "drift_registrar", "drift_transport", "drift_identity",
	"drift_unknown_user", "dns_fail", "srv_missing", "port_closed", "no_answer", "tls_fail",
	"other_transport_ok", "reach_ok", "probe_domain_404", "probe_forbidden", "auth_403", "auth_404",
	"auth_ok", "last_timeout", "says_credentials", "says_auth_id", "says_disabled", "says_ip",
	"says_too_many", "says_domain", "says_user_unknown", "says_unavailable", "auth_id_unknown",
	"swap_proven", "account_changed", "phone_fails_probe_ok", "runs_old_fails", "hep_received",
	"unanswered_401", "phone_silent", "all_refused", "proxy_wrong", "runs_differs", "fails_where_runs",
	"name_missing", "dns_stale", "dns_wrong", "server_elsewhere", "alg_rewrite",
};
_Static_assert(sizeof(finding_names) / sizeof(finding_names[0]) == DF_NFINDINGS, "a name for every finding");

static json_t *findings_json(uint64_t f)
{
	json_t *a = json_array();
	for (size_t i = 0; i < sizeof(finding_names) / sizeof(finding_names[0]); i++)
		if (f & DF(i))
			json_array_append_new(a, json_string(finding_names[i]));
	return a;
}

json_t *diag_report_json(const struct diag_report *rep, bool ticket)
{
	const struct diag_facts *f = &rep->facts;
	json_t *doc = json_object(), *steps = json_array(), *causes = json_array();
	char t1[32], t2[32];

	fmt_time(f->last_code_at, t1, sizeof(t1));
	fmt_time(f->fetched_at, t2, sizeof(t2));
	json_object_set_new(doc, "mac", json_string(f->mac));
	json_object_set_new(doc, "tenant", json_string(f->tenant));
	json_object_set_new(doc, "line", json_integer(f->line));
	json_object_set_new(doc, "username", json_string(f->username));
	json_object_set_new(doc, "auth_username", json_string(f->auth_username));
	if (ticket) {
		json_object_set_new(doc, "last_code", json_integer(f->last_code));
		json_object_set_new(doc, "last_code_at", json_string(f->last_code ? t1 : ""));
		json_object_set_new(doc, "model", json_string(f->model));
		json_object_set_new(doc, "firmware", json_string(f->firmware));
		json_object_set_new(doc, "user_agent", json_string(f->user_agent));
		json_object_set_new(doc, "source_fetch_ip", json_string(f->fetched_ip));
		json_object_set_new(doc, "source_registration_ip", json_string(f->last_reg_ip));
		json_object_set_new(doc, "destination_registration_ip", json_string(f->last_reg_dst));
		json_object_set_new(doc, "network_fetch", json_string(f->net_fetch));
		json_object_set_new(doc, "network_registration", json_string(f->net_reg));
		json_object_set_new(doc, "transport_seen", json_string(f->last_reg_transport));
		json_object_set_new(doc, "last_reason", json_string(f->last_reason));
		json_object_set_new(doc, "last_reason_detail", json_string(f->last_reason_detail));
		json_object_set_new(doc, "last_fetch_at", json_string(t2));
	}
	json_object_set_new(doc, "registrar", json_string(f->registrar));
	json_object_set_new(doc, "server", json_string(f->server));
	json_object_set_new(doc, "outbound_proxy", json_string(f->outbound_proxy));
	json_object_set_new(doc, "transport", json_string(f->transport));
	json_object_set_new(doc, "port", json_integer(f->port));
	json_object_set_new(doc, "template_version", json_string(f->version_label));
	json_object_set_new(doc, "version_fetched", json_integer(f->version_served));
	json_object_set_new(doc, "version_current", json_integer(f->version_current));
	json_object_set_new(doc, "runs_target", json_string(f->runs_target));
	json_object_set_new(doc, "current_target", json_string(f->cur_target));
	for (int i = 0; i < DS_COUNT; i++) {
		const struct diag_step *s = &rep->steps[i];
		json_t *o = json_object();
		json_object_set_new(o, "step", json_integer(i + 1));
		json_object_set_new(o, "name", json_string(s->name));
		json_object_set_new(o, "verdict", json_string(diag_verdict_name(s->verdict)));
		json_object_set_new(o, "evidence", json_string(s->evidence));
		json_object_set_new(o, "findings", findings_json(s->findings));
		if (s->verdict == DIAG_SKIPPED)
			json_object_set_new(o, "reason", json_string(s->reason));
		json_array_append_new(steps, o);
	}
	json_object_set_new(doc, "steps", steps);
	for (size_t i = 0; i < rep->result.ncauses; i++) {
		const struct diag_cause *c = &rep->result.causes[i];
		json_t *o = json_object();
		json_object_set_new(o, "cause", json_string(c->id));
		json_object_set_new(o, "title", json_string(c->title));
		json_object_set_new(o, "indicated", json_boolean(c->score > 0));
		json_object_set_new(o, "ruled_out", json_boolean(c->score > 0 && c->score < 20));
		json_object_set_new(o, "score", json_integer(c->score));
		json_object_set_new(o, "evidence", json_string(c->evidence));
		json_object_set_new(o, "next_step", json_string(c->next));
		json_array_append_new(causes, o);
	}
	json_object_set_new(doc, "bucket", json_string(rep->result.bucket_name));
	json_object_set_new(doc, "bucket_from", json_string(rep->result.bucket_from ? rep->result.bucket_from : ""));
	json_object_set_new(doc, "causes", causes);
	json_object_set_new(doc, "explained", json_boolean(rep->result.explained));
	json_object_set_new(doc, "first_cause", json_string(rep->result.ncauses ? rep->result.causes[0].id : ""));
	json_object_set_new(doc, "next_step", json_string(rep->result.ncauses ? rep->result.causes[0].next : ""));
	json_object_set_new(doc, "failed", json_boolean(diag_failed(rep)));
	json_object_set_new(doc, "network_ms", json_integer(rep->network_ms));
	json_object_set_new(doc, "network_bound_ms", json_integer(rep->network_bound_ms));
	return doc;
}
