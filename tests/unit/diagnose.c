/*
 * diagnose.c (unit): the verdict table (step findings + --error + last
 * code -> bucket and first cause, every bucket and cause), then the
 * offline steps of diagnose_run on a :memory: database built through the
 * store API (disabled device, swap, max per user, IP policy, stale, drift).
 */
#include <string.h>

#include "tap.h"
#include "ops/ops.h"
#include "core/sipprov.h"

struct row {
	const char *name;
	int error;
	long last;
	uint64_t active, identity, fetch, regs, dns, reach, reg;
	bool step2_fail;
	const char *bucket;
	const char *first;          /* NULL: no causes */
	bool indicated;             /* first cause backed by a step */
};

static const struct row rows[] = {
	/* 403 */
	{ "403 wrong password seen by the authenticated probe", 403, 0, 0, 0, 0, 0, 0, DF_REACH_OK, DF_AUTH_403,
	  false, "403", "credentials", true },
	{ "403 from last code, nothing else known", 0, 403, 0, 0, 0, 0, 0, 0, 0,
	  false, "403", "credentials", false },
	{ "swap at step 2 decides the bucket", 0, 0, 0, DF_SWAP, 0, 0, 0, 0, 0,
	  true, "403", "auth_username_mixup", true },
	{ "swap at step 2 leads even over a wrong password", 403, 0, 0, DF_SWAP, 0, 0, 0, 0, DF_AUTH_403,
	  true, "403", "auth_username_mixup", true },
	{ "observed auth username drift", 403, 0, 0, 0, 0, DF_DRIFT_IDENTITY, 0, 0, 0,
	  false, "403", "auth_username_mixup", true },
	{ "403 disabled device", 403, 0, DF_DEVICE_DISABLED, 0, 0, 0, 0, 0, 0,
	  false, "403", "disabled", true },
	{ "suspended tenant without a code", 0, 0, DF_TENANT_SUSPENDED, 0, 0, 0, 0, 0, 0,
	  false, "403", "disabled", true },
	{ "403 IP policy", 0, 403, DF_IP_POLICY, 0, 0, 0, 0, 0, 0,
	  false, "403", "ip_policy", true },
	{ "403 too many registrations", 403, 0, 0, DF_TOO_MANY, 0, 0, 0, 0, 0,
	  true, "403", "too_many_registrations", true },
	{ "403 from probe without credentials", 0, 0, 0, 0, 0, 0, 0, DF_REACH_OK, DF_PROBE_FORBIDDEN,
	  false, "403", "credentials", true },
	/* 404 */
	{ "404 domain not served (probe)", 0, 0, 0, 0, 0, 0, 0, DF_REACH_OK, DF_PROBE_DOMAIN_404,
	  false, "404", "registrar_domain", true },
	{ "404 tenant moved: registrar drift + stale", 404, 0, 0, 0, DF_STALE, DF_DRIFT_REGISTRAR, 0, 0, 0,
	  false, "404", "tenant_moved", true },
	{ "404 stale DNS: the phone failed where the name no longer points, 'User Not Found' there", 0, 404, 0, 0,
	  0, DF_SAYS_USER_UNKNOWN, DF_DNS_STALE, DF_REACH_OK, DF_AUTH_OK, false, "404", "dns_record", true },
	{ "404 wrong record: the domain's own name points away, probe 404 there", 0, 404, 0, 0, 0,
	  DF_SAYS_USER_UNKNOWN, DF_DNS_WRONG, DF_REACH_OK, DF_SAYS_USER_UNKNOWN, false, "404", "dns_record", true },
	{ "404 server name points at another registrar", 0, 404, 0, 0, 0, DF_SAYS_USER_UNKNOWN, DF_SERVER_ELSEWHERE,
	  DF_REACH_OK, DF_PROBE_DOMAIN_404, false, "404", "server_name", true },
	{ "404 deleted user: credentials answered 404", 0, 0, 0, 0, 0, 0, 0, DF_REACH_OK, DF_AUTH_404,
	  false, "404", "deleted_user", true },
	{ "404 deleted user: no account on the line", 0, 0, DF_NO_ACCOUNT, 0, 0, 0, 0, 0, 0,
	  false, "404", "deleted_user", true },
	{ "404 unknown_user drift", 0, 404, 0, 0, 0, DF_DRIFT_UNKNOWN_USER, 0, 0, 0,
	  false, "404", "deleted_user", true },
	{ "404 with nothing known: registrar first", 404, 0, 0, 0, 0, 0, 0, 0, 0,
	  false, "404", "registrar_domain", false },
	{ "404 where the swap is the cause (Kamailio: unknown digest user)", 0, 404, 0, DF_SWAP, 0, 0, 0, 0, 0,
	  true, "404", "auth_username_mixup", true },
	{ "--error beats the last code", 404, 403, 0, 0, 0, 0, 0, DF_REACH_OK, DF_PROBE_DOMAIN_404,
	  false, "404", "registrar_domain", true },
	/* 408 / timeout */
	{ "408 transport mismatch: tls refused, udp answers", 0, 0, 0, 0, 0, 0, 0,
	  DF_PORT_CLOSED | DF_OTHER_TRANSPORT_OK, 0, false, "408/timeout", "transport_port_mismatch", true },
	{ "408 observed transport drift", 0, 408, 0, 0, 0, DF_DRIFT_TRANSPORT | DF_LAST_TIMEOUT, 0, 0, 0,
	  false, "408/timeout", "transport_port_mismatch", true },
	{ "untrusted TLS certificate", 0, 0, 0, 0, 0, 0, 0, DF_TLS_FAIL, 0,
	  false, "408/timeout", "tls_certificate", true },
	{ "408 closed port", 0, 0, 0, 0, 0, 0, 0, DF_PORT_CLOSED, 0,
	  false, "408/timeout", "firewall", true },
	{ "timeout blackholed port", 408, 0, 0, 0, 0, 0, 0, DF_NO_ANSWER, 0,
	  false, "408/timeout", "firewall", true },
	{ "408 DNS failure", 0, 0, 0, 0, 0, 0, DF_DNS_FAIL, 0, 0,
	  false, "408/timeout", "dns", true },
	{ "timeout: the name does not exist (NXDOMAIN)", 408, 0, 0, 0, 0, 0, DF_DNS_FAIL | DF_NAME_MISSING, 0, 0,
	  false, "408/timeout", "server_name", true },
	{ "timeout with only a missing SRV", 408, 0, 0, 0, 0, 0, DF_SRV_MISSING, DF_REACH_OK, 0,
	  false, "408/timeout", "dns", true },
	{ "rewritten Contact seen over HEP beats a closed port: SIP ALG", 408, 0, 0, 0, 0, DF_ALG_REWRITE, 0,
	  DF_PORT_CLOSED, 0, false, "408/timeout", "sip_alg", true },
	{ "timeout although reachable from here: SIP ALG", 408, 0, 0, 0, 0, DF_LAST_TIMEOUT, 0, DF_REACH_OK,
	  DF_AUTH_OK, false, "408/timeout", "sip_alg", true },
	{ "timeout with nothing known: mismatch first", 408, 0, 0, 0, 0, 0, 0, 0, 0,
	  false, "408/timeout", "transport_port_mismatch", false },
	{ "last code 408 from registrations only", 0, 0, 0, 0, 0, DF_LAST_TIMEOUT, 0, 0, 0,
	  false, "408/timeout", "sip_alg", true },
	/* none */
	{ "all clean", 0, 0, 0, 0, 0, 0, 0, DF_REACH_OK, DF_AUTH_OK,
	  false, "none", NULL, false },
};

/* The three-view findings: one step each is enough for the verdict. */
struct row2 {
	const char *name;
	int error;
	long last;
	uint64_t regs, reg, views, fetch, reach;
	const char *bucket, *first;
};

static const struct row2 rows2[] = {
	{ "phone says Source Address Not Allowed, probe accepted", 0, 403, DF_SAYS_IP, DF_AUTH_OK,
	  DF_PHONE_FAILS_PROBE_OK, 0, DF_REACH_OK, "403", "ip_policy" },
	{ "phone 503 Too many registered contacts, probe accepted", 0, 503, DF_SAYS_TOO_MANY, DF_AUTH_OK,
	  DF_PHONE_FAILS_PROBE_OK, 0, DF_REACH_OK, "403", "too_many_registrations" },
	{ "phone 403 Wrong Password, account changed after fetch, probe accepted", 403, 403, DF_SAYS_CREDENTIALS,
	  DF_AUTH_OK, DF_PHONE_FAILS_PROBE_OK | DF_RUNS_OLD_FAILS, DF_ACCOUNT_CHANGED, DF_REACH_OK, "403",
	  "stale_profile" },
	{ "phone 404 from the old cluster, current config accepted", 0, 404, DF_SAYS_DOMAIN, DF_AUTH_OK,
	  DF_RUNS_OLD_FAILS, DF_RUNS_DIFFERS, DF_REACH_OK, "404", "tenant_moved" },
	{ "challenged, then the auth username unknown", 0, 0, 0, DF_AUTH_404 | DF_AUTH_ID_UNKNOWN, 0, 0, DF_REACH_OK,
	  "404", "auth_username_mixup" },
	{ "user unknown before any challenge", 0, 0, 0, DF_SAYS_USER_UNKNOWN, 0, 0, DF_REACH_OK, "404", "deleted_user" },
	{ "swapped identity accepted", 0, 404, 0, DF_SAYS_USER_UNKNOWN | DF_SWAP_PROVEN, 0, 0, DF_REACH_OK, "404",
	  "auth_username_mixup" },
	{ "proxy refuses, registrar accepts", 404, 0, 0, DF_PROBE_DOMAIN_404 | DF_PROXY_WRONG, 0, 0, DF_REACH_OK, "404",
	  "outbound_proxy" },
	{ "challenge never answered, probe accepted, HEP saw it: SIP ALG", 0, 401, DF_UNANSWERED_401 | DF_HEP_RECEIVED,
	  DF_AUTH_OK, DF_PHONE_FAILS_PROBE_OK, 0, DF_REACH_OK, "408/timeout", "sip_alg" },
	{ "challenge never answered, no probe: credentials", 0, 401, DF_UNANSWERED_401, 0, 0, 0, 0, "403",
	  "credentials" },
	{ "HEP saw REGISTERs: not a firewall even if the probe times out", 408, 0, DF_HEP_RECEIVED | DF_LAST_TIMEOUT, 0, 0,
	  0, DF_NO_ANSWER, "408/timeout", "sip_alg" },
	{ "everything refused: server down", 0, 0, 0, 0, 0, 0, DF_PORT_CLOSED | DF_ALL_REFUSED, "408/timeout",
	  "server_down" },
	{ "phone silent although the registrar answers", 408, 0, 0, DF_AUTH_OK, DF_PHONE_SILENT, 0, DF_REACH_OK,
	  "408/timeout", "phone_network" },
	{ "503 maintenance", 0, 503, DF_SAYS_UNAVAILABLE, DF_SAYS_UNAVAILABLE, 0, 0, DF_REACH_OK, "408/timeout",
	  "server_unavailable" },
	{ "Account Disabled phrase", 403, 0, DF_SAYS_DISABLED, DF_SAYS_DISABLED, 0, 0, DF_REACH_OK, "403", "disabled" },
};

static void test_table2(void)
{
	struct diag_step st[DS_COUNT];
	struct diag_result res;
	for (size_t i = 0; i < sizeof(rows2) / sizeof(rows2[0]); i++) {
		const struct row2 *r = &rows2[i];
		memset(st, 0, sizeof(st));
		for (int k = 0; k < DS_COUNT; k++)
			snprintf(st[k].evidence, sizeof(st[k].evidence), "evidence of step %d", k + 1);
		st[DS_REGS].findings = r->regs;
		st[DS_REGISTER].findings = r->reg;
		st[DS_VIEWS].findings = r->views;
		st[DS_FETCH].findings = r->fetch;
		st[DS_REACH].findings = r->reach;
		diag_decide(st, r->error, r->last, &res);
		is_str(res.bucket_name, r->bucket, "%s: bucket", r->name);
		is_str(res.ncauses ? res.causes[0].id : "", r->first, "%s: first cause", r->name);
		ok(res.explained, "%s: explained", r->name);
	}
	/* HEP vetoes the firewall: it stays listed, ruled out */
	memset(st, 0, sizeof(st));
	st[DS_REGS].findings = DF_HEP_RECEIVED;
	st[DS_REACH].findings = DF_NO_ANSWER;
	diag_decide(st, 408, 0, &res);
	bool listed = false;
	for (size_t j = 0; j < res.ncauses; j++)
		if (!strcmp(res.causes[j].id, "firewall"))
			listed = res.causes[j].score > 0 && res.causes[j].score < 20 &&
				 strstr(res.causes[j].evidence, "ruled out by") != NULL;
	ok(listed, "firewall listed but ruled out by the HEP evidence");
	ok(!res.explained || strcmp(res.causes[0].id, "firewall"), "firewall is not the first cause");
	/* --error with nothing that explains it */
	memset(st, 0, sizeof(st));
	diag_decide(st, 403, 0, &res);
	ok(!res.explained, "--error 403 with no evidence: not explained");
}

static void test_phrases(void)
{
	static const struct { const char *text; uint64_t want; } t[] = {
		{ "Forbidden Wrong Password", DF_SAYS_CREDENTIALS },
		{ "Forbidden Auth User Mismatch", DF_SAYS_AUTH_ID },
		{ "Forbidden auth ID", DF_SAYS_AUTH_ID },
		{ "Account Disabled", DF_SAYS_DISABLED },
		{ "Source Address Not Allowed", DF_SAYS_IP },
		{ "P-Registrar-Error: Too many registered contacts", DF_SAYS_TOO_MANY },
		{ "Domain Not Served", DF_SAYS_DOMAIN },
		{ "User Not Found", DF_SAYS_USER_UNKNOWN },
		{ "Service Unavailable", DF_SAYS_UNAVAILABLE },
		{ "Forbidden", 0 },
		{ "Not Found", 0 },
		{ "", 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ok(diag_phrase_finding(t[i].text) == t[i].want, "phrase '%s'", t[i].text);
	static const struct { const char *ip, *want; } n[] = {
		{ "10.1.2.3", "private IPv4" }, { "192.168.1.9", "private IPv4" }, { "172.20.0.1", "private IPv4" },
		{ "172.32.0.1", "public IPv4" }, { "100.64.0.1", "CGNAT (100.64/10) IPv4" },
		{ "100.127.255.1", "CGNAT (100.64/10) IPv4" }, { "100.128.0.1", "public IPv4" },
		{ "127.0.0.2", "loopback IPv4" }, { "203.0.113.5", "public IPv4" }, { "2001:db8::1", "public IPv6" },
		{ "fd00::1", "private (ULA) IPv6" }, { "::1", "loopback IPv6" }, { "", "" }, { "nonsense", "" },
	};
	for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
		char out[64];
		diag_network_type(n[i].ip, out, sizeof(out));
		is_str(out, n[i].want, "network type of '%s'", n[i].ip);
	}
	long u, tc, tl;
	setenv("SIPPROV_DIAG_STD_PORTS", "udp:27001,tls:27003,tcp:27002", 1);
	diag_std_ports(&u, &tc, &tl);
	ok(u == 27001 && tc == 27002 && tl == 27003, "standard ports overridden (%ld %ld %ld)", u, tc, tl);
	unsetenv("SIPPROV_DIAG_STD_PORTS");
	diag_std_ports(&u, &tc, &tl);
	ok(u == 5060 && tc == 5060 && tl == 5061, "standard ports by default");
}

static void fill(const struct row *r, struct diag_step st[DS_COUNT])
{
	uint64_t f[DS_COUNT] = { r->active, r->identity, r->fetch, r->regs, r->dns, r->reach, r->reg };
	memset(st, 0, sizeof(struct diag_step) * DS_COUNT);
	for (int i = 0; i < DS_COUNT; i++) {
		st[i].findings = f[i];
		st[i].verdict = f[i] && f[i] != DF_REACH_OK && f[i] != DF_AUTH_OK ? DIAG_FAIL : DIAG_OK;
		snprintf(st[i].evidence, sizeof(st[i].evidence), "evidence of step %d", i + 1);
	}
	st[DS_IDENTITY].verdict = r->step2_fail ? DIAG_FAIL : st[DS_IDENTITY].findings ? DIAG_WARN : DIAG_OK;
}

static void test_table(void)
{
	struct diag_step st[DS_COUNT];
	struct diag_result res;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		fill(r, st);
		diag_decide(st, r->error, r->last, &res);
		is_str(res.bucket_name, r->bucket, "%s: bucket", r->name);
		if (!r->first) {
			is_int(res.ncauses, 0, "%s: no causes", r->name);
			continue;
		}
		ok(res.ncauses > 0, "%s: has causes", r->name);
		is_str(res.ncauses ? res.causes[0].id : "", r->first, "%s: first cause", r->name);
		ok(res.ncauses && (res.causes[0].score > 0) == r->indicated, "%s: first cause %s", r->name,
		   r->indicated ? "indicated" : "only a usual suspect");
		if (r->indicated)
			ok(strstr(res.causes[0].evidence, "evidence of step") != NULL, "%s: evidence quoted", r->name);
		ok(res.causes[0].next && strlen(res.causes[0].next) > 20, "%s: a next step", r->name);
		for (size_t j = 1; j < res.ncauses; j++)
			if (res.causes[j].score > res.causes[j - 1].score)
				ok(0, "%s: causes not ordered", r->name);
	}
}

static void test_buckets_complete(void)
{
	struct diag_step st[DS_COUNT];
	struct diag_result res;
	struct row none = { 0 };
	const char *want403[] = { "credentials", "auth_username_mixup", "disabled", "ip_policy", "too_many_registrations",
				  "stale_profile" };
	const char *want404[] = { "registrar_domain", "tenant_moved", "dns_record", "server_name", "deleted_user" };
	const char *want408[] = { "dns", "transport_port_mismatch", "firewall", "sip_alg", "server_unavailable",
				  "phone_network", "server_down" };
	struct { int code; const char **ids; size_t n; } b[] = { { 403, want403, 6 }, { 404, want404, 5 }, { 408, want408, 7 } };

	fill(&none, st);
	for (size_t i = 0; i < 3; i++) {
		diag_decide(st, b[i].code, 0, &res);
		is_int(res.ncauses, b[i].n, "bucket %d lists all its causes", b[i].code);
		for (size_t k = 0; k < b[i].n; k++) {
			bool found = false;
			for (size_t j = 0; j < res.ncauses; j++)
				found |= !strcmp(res.causes[j].id, b[i].ids[k]);
			ok(found, "bucket %d has cause %s", b[i].code, b[i].ids[k]);
		}
	}
	is_int(diag_parse_error("403"), 403, "parse 403");
	is_int(diag_parse_error("timeout"), 408, "parse timeout");
	is_int(diag_parse_error("500"), -1, "500 refused");
}

/* ---- offline diagnose_run on a real schema ---- */

static struct store *st_db;

static int64_t add_tenant(const char *slug, const char *upat, const char *apat, long maxu, const char *allow)
{
	struct tenant t = { 0 };
	char err[SP_ERR_MAX];
	sp_strlcpy(t.slug, slug, sizeof(t.slug));
	sp_strlcpy(t.username_pattern, upat, sizeof(t.username_pattern));
	sp_strlcpy(t.auth_username_pattern, apat, sizeof(t.auth_username_pattern));
	sp_strlcpy(t.allow_cidrs, allow, sizeof(t.allow_cidrs));
	sp_strlcpy(t.default_template, "main", sizeof(t.default_template));
	t.max_per_user = maxu;
	if (store_tenant_add(st_db, &t, err, sizeof(err)) < 0 || store_tenant_get(st_db, slug, &t) != 1)
		return 0;
	store_tversion_add(st_db, t.id, "main", "{\"port\":\"5060\",\"registrar\":\"example.test\",\"transport\":\"udp\"}",
			   "test", "", NULL, err, sizeof(err));
	return t.id;
}

static int64_t add_device(int64_t tenant, const char *mac, const char *status)
{
	struct device d = { 0 };
	char err[SP_ERR_MAX];
	sp_strlcpy(d.mac, mac, sizeof(d.mac));
	d.tenant_id = tenant;
	sp_strlcpy(d.layout, "yealink", sizeof(d.layout));
	sp_strlcpy(d.status, status, sizeof(d.status));
	sp_strlcpy(d.model, "T46G", sizeof(d.model));
	return store_device_add(st_db, &d, err, sizeof(err)) == 0 ? d.id : 0;
}

static int64_t add_account(int64_t dev, long line, const char *user, const char *auth)
{
	struct account a = { 0 };
	char err[SP_ERR_MAX];
	a.device_id = dev;
	a.line = line;
	sp_strlcpy(a.username, user, sizeof(a.username));
	sp_strlcpy(a.auth_username, auth, sizeof(a.auth_username));
	sp_strlcpy(a.password_enc, "x", sizeof(a.password_enc));
	return store_account_add(st_db, &a, err, sizeof(err)) == 0 ? a.id : 0;
}

static void run(const char *mac, int error, struct diag_report *rep)
{
	struct diag_opts o = { .error_code = error };
	char err[SP_ERR_MAX] = "";
	ok(diagnose_run(st_db, mac, &o, rep, err, sizeof(err)) == 0, "diagnose %s runs%s%s", mac, err[0] ? ": " : "", err);
}

static void test_offline(void)
{
	char err[SP_ERR_MAX] = "";
	struct diag_report *rep = xcalloc(1, sizeof(*rep));
	st_db = store_open(":memory:", err, sizeof(err));
	ok(st_db != NULL, "store opens: %s", err);
	if (!st_db)
		return;
	int64_t t1 = add_tenant("acme", "^[0-9]{3,6}$", "^[a-z0-9]{8}$", 1, "10.0.0.0/8");
	int64_t d1 = add_device(t1, "001565aaaa01", "active");
	int64_t a1 = add_account(d1, 1, "1001", "k8f2m1x9");
	ok(t1 && d1 && a1, "tenant, device, account");

	run("00:15:65:aa:aa:01", 0, rep);
	is_str(diag_verdict_name(rep->steps[DS_ACTIVE].verdict), "ok", "step 1 ok");
	is_str(diag_verdict_name(rep->steps[DS_IDENTITY].verdict), "ok", "step 2 ok");
	is_str(diag_verdict_name(rep->steps[DS_FETCH].verdict), "warn", "never fetched is a warning");
	ok(rep->steps[DS_FETCH].findings & DF_NEVER_FETCHED, "never fetched finding");
	is_str(diag_verdict_name(rep->steps[DS_DNS].verdict), "skipped", "network not requested: skipped");
	ok(!diag_failed(rep), "nothing failed");
	is_str(rep->result.bucket_name, "none", "no bucket");
	is_str(rep->facts.registrar, "example.test", "registrar in the facts");
	is_int(rep->facts.port, 5060, "port in the facts");

	/* a swapped account (written behind validation's back, as legacy data would be) */
	int64_t d2 = add_device(t1, "001565aaaa02", "active");
	add_account(d2, 1, "z9y8x7w6", "1002");
	struct diag_opts net = { .network = true, .timeout_ms = 500 };
	ok(diagnose_run(st_db, "001565aaaa02", &net, rep, err, sizeof(err)) == 0, "diagnose swapped account");
	is_str(diag_verdict_name(rep->steps[DS_IDENTITY].verdict), "fail", "step 2 fails");
	ok(rep->steps[DS_IDENTITY].findings & DF_SWAP, "swap found");
	ok(strstr(rep->steps[DS_IDENTITY].evidence, "swapped") != NULL, "evidence says swapped");
	for (int i = DS_DNS; i <= DS_REGISTER; i++)
		ok(rep->steps[i].verdict == DIAG_SKIPPED && strstr(rep->steps[i].reason, "step 2"),
		   "network step %d skipped because of step 2", i + 1);
	is_str(rep->result.bucket_name, "403", "bucket 403");
	is_str(rep->result.causes[0].id, "auth_username_mixup", "mix-up first");
	ok(diag_failed(rep), "failed");

	/* too many devices share one user */
	int64_t d3 = add_device(t1, "001565aaaa03", "active");
	add_account(d3, 1, "1001", "k8f2m1x9");
	run("001565aaaa03", 403, rep);
	ok(rep->steps[DS_IDENTITY].findings & DF_TOO_MANY, "max_per_user exceeded");

	/* disabled device, fetched from outside the allowed network, stale */
	int64_t d4 = add_device(t1, "001565aaaa04", "disabled");
	int64_t a4 = add_account(d4, 1, "1004", "q1w2e3r4");
	store_fetch_record(st_db, d4, "192.0.2.7", "Yealink SIP-T46G 28.72.0.1 00:15:65:aa:aa:04", "/001565aaaa04.cfg",
			   200, 0, "");
	run("001565aaaa04", 0, rep);
	ok(rep->steps[DS_ACTIVE].findings & DF_DEVICE_DISABLED, "disabled found");
	ok(rep->steps[DS_ACTIVE].findings & DF_IP_POLICY, "source outside 10.0.0.0/8");
	ok(rep->steps[DS_FETCH].findings & DF_STALE, "fetched v0 < v1 is stale");
	is_str(rep->result.bucket_name, "403", "bucket 403 from steps");
	is_str(rep->result.causes[0].id, "disabled", "disabled first");

	/* registrations and drift recorded by the drift store */
	struct observation ob = { .at = 1700000000, .src_port = 5062, .port = 5060, .code = 403 };
	sp_strlcpy(ob.source, "hep", sizeof(ob.source));
	sp_strlcpy(ob.src_ip, "10.1.2.3", sizeof(ob.src_ip));
	sp_strlcpy(ob.transport, "udp", sizeof(ob.transport));
	sp_strlcpy(ob.registrar, "old.example.test", sizeof(ob.registrar));
	sp_strlcpy(ob.username, "1004", sizeof(ob.username));
	sp_strlcpy(ob.auth_username, "q1w2e3r4", sizeof(ob.auth_username));
	ok(store_registration_add(st_db, &ob, d4, a4) == 0, "registration stored");
	int isnew = 0;
	ok(store_drift_open(st_db, d4, a4, "registrar", "example.test", "old.example.test", 1700000000, &isnew) == 0,
	   "drift event opened");
	store_account_set_code(st_db, a4, 404, 1700000001);
	run("001565aaaa04", 0, rep);
	ok(strstr(rep->steps[DS_REGS].evidence, "old.example.test") != NULL, "registration in the evidence");
	ok(rep->steps[DS_REGS].findings & DF_DRIFT_REGISTRAR, "registrar drift found");
	is_int(rep->facts.last_code, 404, "last code from the account");
	is_str(rep->facts.last_reg_ip, "10.1.2.3", "source of the last registration");
	is_str(rep->facts.firmware, "28.72.0.1", "firmware from the fetched User-Agent");
	is_str(rep->result.bucket_name, "404", "bucket from the last code");
	is_str(rep->result.causes[0].id, "tenant_moved", "tenant moved first (registrar drift)");

	json_t *j = diag_report_json(rep, true);
	char *s = json_dumps(j, 0);
	ok(s && strstr(s, "\"last_code\": 404") && strstr(s, "\"firmware\": \"28.72.0.1\""), "ticket JSON has code and firmware");
	ok(s && !strstr(s, "password"), "no password field in the JSON");
	ok(s && strstr(s, "\"findings\": [\"drift_registrar\"") != NULL, "step findings by name in the JSON");
	ok(s && strstr(s, "\"explained\": true") && strstr(s, "\"first_cause\": \"tenant_moved\""),
	   "explained and first cause in the JSON");
	free(s);
	json_decref(j);

	ok(diagnose_run(st_db, "001565ffffff", &(struct diag_opts){ 0 }, rep, err, sizeof(err)) < 0 &&
	   strstr(err, "unknown device"), "unknown device: %s", err);
	free(rep);
	store_close(st_db);
}

int main(void)
{
	test_table();
	test_table2();
	test_phrases();
	test_buckets_complete();
	test_offline();
	return tap_done();
}
