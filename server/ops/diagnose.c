/*
 * diagnose.c: the admin's 403 / 404 / 408 / timeout checklist for one
 * device line: seven evidence steps (store, validation, probes) and a pure
 * verdict, diag_decide(), that ranks the causes of the bucket by the
 * findings that point to them.  It reads only; the only packets it sends
 * are OPTIONS and contact-less REGISTER queries (probe.c).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "diagnose.h"
#include "probe.h"
#include "core/sipprov.h"

static const char *const step_names[DS_COUNT] = {
	"account active and allowed",
	"username / auth username",
	"template version served vs current",
	"registrations seen and drift",
	"DNS",
	"reachability",
	"REGISTER probe",
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

/* ---- the verdict (pure) ---- */

/* A cause of a bucket: strong findings point at it, weak ones make it
 * plausible.  only_if: listed only when indicated (it belongs to another
 * bucket but can produce this code too). */
struct cause_def {
	int bucket;
	const char *id;
	const char *title;
	unsigned strong, weak;
	bool only_if;
	const char *next;
};

#define STEP2_FINDINGS (DF_SWAP | DF_IDENTITY_INVALID | DF_TOO_MANY)

/* Table order is the order of likelihood when no step points anywhere. */
static const struct cause_def cause_defs[] = {
	{ 403, "credentials", "credentials: the registrar rejects the password",
	  DF_AUTH_403, DF_PROBE_FORBIDDEN | DF_STALE, false,
	  "set the same SIP password on the PBX and in sipprov ('sipprov account set MAC --line N "
	  "--password ...'), then reprovision the device" },
	{ 403, "auth_username_mixup", "auth-username mix-up: username and auth username swapped or wrong",
	  DF_SWAP | DF_IDENTITY_INVALID | DF_DRIFT_IDENTITY, 0, false,
	  "put the SIP user in --username and the digest id in --auth-username ('sipprov account set "
	  "MAC --line N --username U --auth-username A'), then reprovision" },
	{ 403, "disabled", "disabled: device, tenant or user switched off",
	  DF_DEVICE_DISABLED | DF_TENANT_SUSPENDED, 0, false,
	  "enable it ('sipprov device enable MAC' or resume the tenant) and check the user is enabled "
	  "on the PBX" },
	{ 403, "ip_policy", "IP policy: the source network is not allowed",
	  DF_IP_POLICY, 0, false,
	  "allow the device's network in the tenant ('sipprov tenant set T --allow CIDR') and in the "
	  "PBX's access list" },
	{ 403, "too_many_registrations", "too many registrations for this user",
	  DF_TOO_MANY, 0, false,
	  "remove the extra devices sharing this SIP user or raise the limit on the PBX and in the "
	  "tenant policy" },
	{ 404, "auth_username_mixup", "auth-username mix-up: the registrar does not know the digest id",
	  DF_SWAP | DF_IDENTITY_INVALID, 0, true,
	  "put the SIP user in --username and the digest id in --auth-username, then reprovision" },
	{ 404, "registrar_domain", "registrar/domain: the registrar does not serve this domain",
	  DF_PROBE_DOMAIN_404, 0, false,
	  "correct 'registrar' in the template ('sipprov template set T NAME registrar=DOMAIN') to a "
	  "domain the registrar serves" },
	{ 404, "tenant_moved", "tenant drift: the device registers with settings of another cluster",
	  DF_DRIFT_REGISTRAR, DF_STALE | DF_NEVER_FETCHED, false,
	  "reprovision the device ('sipprov reprovision --device MAC') and check it fetches the current "
	  "version" },
	{ 404, "deleted_user", "deleted user: the registrar does not know this user",
	  DF_AUTH_404 | DF_NO_ACCOUNT | DF_DRIFT_UNKNOWN_USER, 0, false,
	  "recreate the user on the PBX, or remove the line from the device" },
	{ 408, "tls_certificate", "TLS certificate: the device cannot verify the registrar's certificate",
	  DF_TLS_FAIL, 0, true,
	  "install a certificate for the registrar's host name from a CA the phones trust, or load the "
	  "CA on the phones (tls_verify=off only as a stopgap)" },
	{ 408, "transport_port_mismatch", "transport/port mismatch: the registrar listens on another "
	  "transport or port", DF_OTHER_TRANSPORT_OK | DF_DRIFT_TRANSPORT, DF_TLS_FAIL, false,
	  "set transport and port in the template to what the registrar serves ('sipprov template set "
	  "T NAME transport=... port=...'), then reprovision" },
	{ 408, "firewall", "firewall or closed port: nothing answers on the configured port",
	  DF_PORT_CLOSED | DF_NO_ANSWER, 0, false,
	  "open the port on the registrar's firewall (or start the listener), then retry" },
	{ 408, "sip_alg", "SIP ALG or NAT on the device's path: the registrar answers here but not to "
	  "the device", 0, DF_REACH_OK | DF_LAST_TIMEOUT, false,
	  "turn off SIP ALG on the customer's router, or switch the device to TCP/TLS; enable NAT "
	  "keepalive" },
	{ 408, "dns", "DNS: the registrar's name (or its SRV record) does not resolve",
	  DF_DNS_FAIL | DF_SRV_MISSING, 0, false,
	  "fix the DNS records or put a resolvable host in 'server'/'outbound_proxy' of the template" },
};

static int bucket_from_findings(const struct diag_step *st, unsigned all, const char **from)
{
	if (st[DS_IDENTITY].verdict == DIAG_FAIL) {
		*from = "step 2";
		return 403;
	}
	*from = "probes";
	if (all & (DF_AUTH_403 | DF_PROBE_FORBIDDEN))
		return 403;
	if (all & (DF_PROBE_DOMAIN_404 | DF_AUTH_404))
		return 404;
	if (all & (DF_DNS_FAIL | DF_PORT_CLOSED | DF_NO_ANSWER | DF_TLS_FAIL))
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

static void cause_evidence(const struct diag_step *st, unsigned mask, char *out, size_t n)
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

void diag_decide(const struct diag_step steps[DS_COUNT], int error_code, long last_code,
		 struct diag_result *out)
{
	unsigned all = 0;
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < DS_COUNT; i++)
		all |= steps[i].findings;

	if (error_code == 403 || error_code == 404 || error_code == 408) {
		out->bucket = error_code;
		out->bucket_from = "--error";
	} else if (last_code == 403 || last_code == 404 || last_code == 408) {
		out->bucket = (int)last_code;
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
		int score = 0;
		if (d->bucket != out->bucket)
			continue;
		if (all & d->strong)
			score = 100;
		else if (all & d->weak)
			score = 40;
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
			cause_evidence(steps, score >= 100 ? d->strong : d->weak, c->evidence, sizeof(c->evidence));
		else
			sp_strlcpy(c->evidence, "not indicated by any step; usual suspect for this code",
				   sizeof(c->evidence));
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

static void step_fetch(const struct effective *e, struct diag_report *rep)
{
	struct diag_step *st = &rep->steps[DS_FETCH];
	const struct device *d = &e->device;
	char when[32];

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
		if (a->last_code >= 300 && a->last_code != 401 && a->last_code != 407)
			verdict(st, DIAG_FAIL);
	}
	if (store_diag_registrations(s, a ? a->id : 0, e->device.id, a ? a->username : "", regs, 5, &nr) < 0) {
		verdict(st, DIAG_WARN);
		ev(st, "cannot read registrations: %s", store_errmsg(s));
	}
	for (size_t i = 0; i < nr; i++) {
		struct diag_reg *r = &regs[i];
		fmt_time(r->at, when, sizeof(when));
		ev(st, "%s %s from %s:%ld over %s to %s:%ld user '%s' auth '%s' -> %ld%s", when, r->source,
		   r->src_ip, r->src_port, r->transport, r->registrar, r->port, r->username, r->auth_username,
		   r->code, r->code ? "" : " (no answer)");
		if (i == 0) {
			sp_strlcpy(f->last_reg_ip, r->src_ip, sizeof(f->last_reg_ip));
			sp_strlcpy(f->last_reg_transport, r->transport, sizeof(f->last_reg_transport));
			f->last_reg_port = r->port;
			sp_strlcpy(f->last_reg_registrar, r->registrar, sizeof(f->last_reg_registrar));
			if (!f->last_code && r->code) {
				f->last_code = r->code;
				f->last_code_at = r->at;
			}
			if (r->code == 408 || r->code == 0)
				st->findings |= DF_LAST_TIMEOUT;
			if (r->code >= 300 && r->code != 401 && r->code != 407)
				verdict(st, DIAG_FAIL);
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
		char *p = strstr(st->evidence, "last final response");
		if (!p)
			p = strstr(st->evidence, "-> ");
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

static void step_dns(const struct effective *e, struct net_ctx *n, struct diag_report *rep)
{
	struct diag_step *st = &rep->steps[DS_DNS];
	const char *keys[3] = { "registrar", "server", "outbound_proxy" };
	char seen[3][256];
	int nseen = 0;
	char out[512];

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
		if (rc > 0) {
			ev(st, "%s '%s' -> %s", keys[i], h, out);
		} else if (target) {
			st->findings |= DF_DNS_FAIL;
			verdict(st, DIAG_FAIL);
			ev(st, "%s '%s' (where the device sends REGISTER): %s", keys[i], h, out);
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
	 * "closed" into "mismatch".  Sibling port first (TLS sits one above
	 * UDP/TCP, as 5061 above 5060), then the same port, then the defaults. */
	struct { const char *tr; long port; } alts[12];
	int na = 0;
	bool cfg_tls = !strcasecmp(n->transport, "tls");
	const char *trs[3] = { "udp", "tcp", "tls" };
	long sib = cfg_tls ? n->port - 1 : n->port + 1;
	for (int pass = 0; pass < 3; pass++) {
		for (int i = 0; i < 3; i++) {
			bool tls_i = i == 2;
			long port = pass == 0 ? (tls_i != cfg_tls ? sib : 0) : pass == 1 ? n->port
				  : probe_default_port(trs[i]);
			if (port < 1 || port > 65535)
				continue;
			bool same = !strcasecmp(trs[i], n->transport) && port == n->port;
			bool dup = false;
			for (int k = 0; k < na; k++)
				dup |= !strcmp(alts[k].tr, trs[i]) && alts[k].port == port;
			if (!same && !dup && na < 12) {
				alts[na].tr = trs[i];
				alts[na].port = port;
				na++;
			}
		}
	}
	int tried = 0;
	for (int i = 0; i < na && tried < 3; i++) {
		/* standard ports first; a configured non-standard port on another transport after */
		struct probe_result ar;
		target_fill(n, &t, alts[i].tr, alts[i].port, alt_ms, NULL);
		t.tls_verify = false;
		tried++;
		rep->network_bound_ms += alt_ms;
		if (probe_sip(&t, "OPTIONS", NULL, &ar) == 0) {
			st->findings |= DF_OTHER_TRANSPORT_OK;
			ev(st, "but %s port %ld answers: %d %s (the registrar serves %s:%ld, the device is told "
			   "%s:%ld)", alts[i].tr, alts[i].port, ar.code, ar.reason, alts[i].tr, alts[i].port,
			   n->transport, n->port);
			break;
		}
		ev(st, "also tried %s port %ld: %s", alts[i].tr, alts[i].port, probe_status_name(ar.status));
	}
}

static void step_register(struct net_ctx *n, const struct account *a, const struct diag_opts *o,
			  struct diag_report *rep)
{
	struct diag_step *st = &rep->steps[DS_REGISTER];
	struct probe_target t;
	struct probe_result r;

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
	if (r.code == 404) {
		st->findings |= DF_PROBE_DOMAIN_404;
		verdict(st, DIAG_FAIL);
		ev(st, "the registrar rejects domain '%s' or user '%s' before asking for credentials", n->domain,
		   a->username);
		return;
	}
	if (r.code == 403) {
		st->findings |= DF_PROBE_FORBIDDEN;
		verdict(st, DIAG_FAIL);
		ev(st, "the registrar forbids this user/domain before asking for credentials");
		return;
	}
	if (r.code != 401 && r.code != 407) {
		verdict(st, r.code < 300 ? DIAG_WARN : DIAG_FAIL);
		ev(st, "expected a 401/407 challenge%s", r.code < 300 ? ": the registrar asks no credentials" : "");
		return;
	}
	verdict(st, DIAG_OK);
	ev(st, "the registrar knows domain '%s' and asks for credentials", n->domain);
	if (!o->key || !a->password[0]) {
		ev(st, "credentials not tried: %s", o->key ? "no password stored" : "no key file to decrypt the password");
		return;
	}
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
	if (r.code >= 200 && r.code < 300) {
		st->findings |= DF_AUTH_OK;
		ev(st, "the stored credentials are accepted");
	} else if (r.code == 403 || r.code == 401 || r.code == 407) {
		st->findings |= DF_AUTH_403;
		verdict(st, DIAG_FAIL);
		ev(st, "the registrar rejects the stored password for auth username '%s'", a->auth_username);
	} else if (r.code == 404) {
		st->findings |= DF_AUTH_404;
		verdict(st, DIAG_FAIL);
		ev(st, "the registrar does not know auth username '%s'", a->auth_username);
	} else {
		verdict(st, DIAG_WARN);
	}
	if (st->verdict == DIAG_FAIL) {
		const char *last = strrchr(st->evidence, '\n');
		if (last)
			headline_at(st, (size_t)(last + 1 - st->evidence));
	}
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

	/* step 4 first (quietly): step 1 checks the last registration's source */
	step_regs(s, e, a, rep);
	step_active(s, e, a, rep);
	step_identity(s, e, a, rep);
	step_fetch(e, rep);

	/* where the device sends: outbound proxy, else server, else registrar */
	memset(&n, 0, sizeof(n));
	{
		const char *via[3] = { f->outbound_proxy, f->server, f->registrar };
		for (int i = 0; i < 3; i++) {
			long p = 0;
			if (!via[i][0])
				continue;
			host_port(via[i], n.host, sizeof(n.host), &p);
			n.port = p ? p : f->port;
			break;
		}
		if (f->port && !f->outbound_proxy[0])
			n.port = f->port;
		char d[256];
		long dp;
		host_port(f->registrar[0] ? f->registrar : n.host, d, sizeof(d), &dp);
		sp_strlcpy(n.domain, d, sizeof(n.domain));
	}
	sp_strlcpy(n.transport, f->transport, sizeof(n.transport));
	n.tls_verify = strcasecmp(effective_get(e, "tls_verify"), "off") != 0;
	n.timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 3000;
	n.ca_file = o->ca_file;

	const char *why = NULL;
	if (!o->network)
		why = "network steps not requested";
	else if (rep->steps[DS_IDENTITY].verdict == DIAG_FAIL)
		why = "step 2 failed: the registrar would reject this identity whatever the network does";
	else if (!a)
		why = "no account on this line";
	else if (rep->steps[DS_ACTIVE].findings & (DF_DEVICE_DISABLED | DF_TENANT_SUSPENDED))
		why = "step 1 failed: the device gets no config while disabled";
	if (why) {
		for (int i = DS_DNS; i <= DS_REGISTER; i++)
			skip(&rep->steps[i], why);
	} else {
		int64_t t0 = mono_ms();
		step_dns(e, &n, rep);
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
		rep->network_ms = (long)(mono_ms() - t0);
	}
	diag_decide(rep->steps, o->error_code, f->last_code, &rep->result);
	effective_release(e);
	free(e);
	return 0;
}

bool diag_failed(const struct diag_report *rep)
{
	for (int i = 0; i < DS_COUNT; i++)
		if (rep->steps[i].verdict == DIAG_FAIL)
			return true;
	return false;
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
	for (int i = 0; i < DS_COUNT; i++) {
		const struct diag_step *s = &rep->steps[i];
		json_t *o = json_object();
		json_object_set_new(o, "step", json_integer(i + 1));
		json_object_set_new(o, "name", json_string(s->name));
		json_object_set_new(o, "verdict", json_string(diag_verdict_name(s->verdict)));
		json_object_set_new(o, "evidence", json_string(s->evidence));
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
		json_object_set_new(o, "evidence", json_string(c->evidence));
		json_object_set_new(o, "next_step", json_string(c->next));
		json_array_append_new(causes, o);
	}
	json_object_set_new(doc, "bucket", json_string(rep->result.bucket_name));
	json_object_set_new(doc, "bucket_from", json_string(rep->result.bucket_from ? rep->result.bucket_from : ""));
	json_object_set_new(doc, "causes", causes);
	json_object_set_new(doc, "next_step", json_string(rep->result.ncauses ? rep->result.causes[0].next : ""));
	json_object_set_new(doc, "failed", json_boolean(diag_failed(rep)));
	json_object_set_new(doc, "network_ms", json_integer(rep->network_ms));
	json_object_set_new(doc, "network_bound_ms", json_integer(rep->network_bound_ms));
	return doc;
}
