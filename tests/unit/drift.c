/*
 * tests/unit/drift.c: drift rules on a :memory: store seeded through the
 * public store API: a template moving from UDP to TLS, a phone that keeps
 * registering over UDP, then fetches and registers right; dedupe counts;
 * last codes; matching by auth username and by MAC; unknown users; the
 * webhook's validation.  The scenario runs through a drift cache, as the
 * HEP listener does; a last part proves the cache is invalidated by a
 * template, account, device or tenant change and never hides a fetch.
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "core/sipprov.h"

static struct store *s;
static struct drift_cache *dc;          /* the cache rec() goes through */
static unsigned char key[SP_KEY_LEN];

struct tally { int open, all; long transport_count; char kinds[256]; };

static int tally_fn(const struct drift_event *ev, void *arg)
{
	struct tally *t = arg;
	if (getenv("DRIFT_DEBUG"))
		printf("# ev %s %s exp=%s obs=%s count=%ld resolved=%lld\n", ev->mac, ev->kind, ev->expected, ev->observed, ev->count, (long long)ev->resolved);
	t->all++;
	if (!ev->resolved) {
		t->open++;
		size_t l = strlen(t->kinds);
		snprintf(t->kinds + l, sizeof(t->kinds) - l, "%s%s", l ? "," : "", ev->kind);
	}
	if (!strcmp(ev->kind, "transport") && !ev->resolved)
		t->transport_count = ev->count;
	return 0;
}

static struct tally tally(int64_t tenant_id)
{
	struct tally t = { 0 };
	store_drift_each(s, tenant_id, 0, tally_fn, &t);
	return t;
}

/* Open events of one kind, all tenants. */
static int open_of(const char *kind)
{
	struct tally t = tally(0);
	int n = 0;
	char *save = NULL;
	for (char *k = strtok_r(t.kinds, ",", &save); k; k = strtok_r(NULL, ",", &save))
		n += !strcmp(k, kind);
	return n;
}

static void obs(struct observation *o, const char *user, const char *auth, const char *transport, long port, int code)
{
	memset(o, 0, sizeof(*o));
	o->at = sp_now();
	sp_strlcpy(o->source, "hep", sizeof(o->source));
	sp_strlcpy(o->src_ip, "192.0.2.10", sizeof(o->src_ip));
	o->src_port = 5070;
	sp_strlcpy(o->transport, transport, sizeof(o->transport));
	sp_strlcpy(o->registrar, "example.test", sizeof(o->registrar));
	o->port = port;
	sp_strlcpy(o->username, user, sizeof(o->username));
	sp_strlcpy(o->auth_username, auth, sizeof(o->auth_username));
	sp_strlcpy(o->user_agent, "Yealink SIP-T46G 28.72.0.1 00:15:65:aa:bb:cc", sizeof(o->user_agent));
	o->expires = 300;
	o->code = code;
}

static int rec(const struct observation *o)
{
	char err[SP_ERR_MAX] = "";
	int rc = drift_record_cached(s, dc, o, err, sizeof(err));
	if (rc < 0)
		printf("# drift_record: %s\n", err);
	return rc;
}

static long last_code(const char *mac, long line)
{
	struct device d;
	struct account a[SP_MAX_LINES];
	size_t n = 0;
	if (store_device_get(s, mac, &d) != 1 || store_account_list(s, d.id, a, SP_MAX_LINES, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (a[i].line == line)
			return a[i].last_code;
	return -1;
}

static int64_t add_device(int64_t tenant_id, const char *mac, const char *user, const char *auth, long line)
{
	char err[SP_ERR_MAX] = "";
	struct device d;
	struct account *a = xcalloc(1, sizeof(*a));
	memset(&d, 0, sizeof(d));
	if (store_device_get(s, mac, &d) != 1) {
		memset(&d, 0, sizeof(d));
		sp_strlcpy(d.mac, mac, sizeof(d.mac));
		d.tenant_id = tenant_id;
		sp_strlcpy(d.layout, "yealink", sizeof(d.layout));
		sp_strlcpy(d.template_name, "main", sizeof(d.template_name));
		if (store_device_add(s, &d, err, sizeof(err)) < 0)
			printf("# device add: %s\n", err);
	}
	a->device_id = d.id;
	a->line = line;
	sp_strlcpy(a->username, user, sizeof(a->username));
	sp_strlcpy(a->auth_username, auth, sizeof(a->auth_username));
	char *enc = secret_encrypt(key, "pw-1234");
	sp_strlcpy(a->password_enc, enc, sizeof(a->password_enc));
	free(enc);
	if (store_account_add(s, a, err, sizeof(err)) < 0)
		printf("# account add: %s\n", err);
	free(a);
	return d.id;
}

int main(void)
{
	char err[SP_ERR_MAX] = "";
	struct tenant t;
	struct tversion v;
	struct observation o;
	struct tally ty;

	log_init(LOG_LVL_WARN, false);
	memset(key, 7, sizeof(key));
	s = store_open(":memory:", err, sizeof(err));
	dc = drift_cache_new(0);
	ok(s != NULL, "store opens (%s)", err);
	memset(&t, 0, sizeof(t));
	sp_strlcpy(t.slug, "acme", sizeof(t.slug));
	sp_strlcpy(t.default_template, "main", sizeof(t.default_template));
	is_int(store_tenant_add(s, &t, err, sizeof(err)), 0, "tenant added");
	store_tenant_get(s, "acme", &t);
	is_int(store_tversion_add(s, t.id, "main", "{\"port\":\"5060\",\"registrar\":\"example.test\",\"transport\":\"udp\"}",
				  "test", "v1", &v, err, sizeof(err)), 0, "template v1 (udp)");
	int64_t dev = add_device(t.id, "001565aabbcc", "alice", "a1xyzauth", 1);
	add_device(t.id, "001565aabbcc", "alice2", "a2xyzauth", 2);
	ok(dev > 0, "device added");
	is_int(store_fetch_record(s, dev, "192.0.2.10", "Yealink", "/001565aabbcc.cfg", 200, 1, "d1"), 0, "fetched v1");

	/* 1. In sync: no events. */
	obs(&o, "alice", "a1xyzauth", "udp", 5060, 200);
	is_int(rec(&o), 0, "registration in sync recorded");
	ty = tally(t.id);
	is_int(ty.all, 0, "no drift when in sync");
	is_int(last_code("001565aabbcc", 1), 200, "last code 200");

	/* 2. Template moves to TLS; phone still on UDP with v1. */
	is_int(store_tversion_add(s, t.id, "main", "{\"port\":\"5060\",\"registrar\":\"example.test\",\"transport\":\"tls\"}",
				  "test", "v2 tls", &v, err, sizeof(err)), 0, "template v2 (tls)");
	is_int(rec(&o), 0, "stale registration recorded");
	ty = tally(t.id);
	is_int(ty.open, 2, "two open events");
	is_str(ty.kinds, "stale,transport", "transport and stale open");
	is_int(rec(&o), 0, "again");
	is_int(rec(&o), 0, "and again");
	ty = tally(t.id);
	is_int(ty.open, 2, "still exactly two open events (deduped)");
	is_int(ty.transport_count, 3, "transport event counted 3 times");

	/* 3. Registers over TLS without fetching: transport resolves, stale stays. */
	obs(&o, "alice", "a1xyzauth", "tls", 5060, 200);
	is_int(rec(&o), 0, "tls registration recorded");
	ty = tally(t.id);
	is_str(ty.kinds, "stale", "only stale open while fetched version is old");

	/* 4. Fetch v2, register right: all resolved. */
	is_int(store_fetch_record(s, dev, "192.0.2.10", "Yealink", "/001565aabbcc.cfg", 200, 2, "d2"), 0, "fetched v2");
	is_int(rec(&o), 0, "correct registration recorded");
	ty = tally(t.id);
	is_int(ty.open, 0, "no open events after fetch + correct registration");
	is_int(ty.all, 2, "both events kept as resolved history");

	/* 5. Back to UDP after resolution: a NEW transport event, not a reopen. */
	obs(&o, "alice", "a1xyzauth", "udp", 5060, 200);
	rec(&o);
	ty = tally(t.id);
	is_str(ty.kinds, "transport", "regression opens a new transport event");
	is_int(ty.all, 3, "new row for the new episode");
	is_int(ty.transport_count, 1, "new event count 1");
	obs(&o, "alice", "a1xyzauth", "tls", 5060, 200);
	rec(&o);

	/* 6. Failure codes. */
	obs(&o, "alice", "a1xyzauth", "tls", 5060, 403);
	rec(&o);
	is_int(last_code("001565aabbcc", 1), 403, "wrong password: last code 403");
	obs(&o, "alice2", "a2xyzauth", "tls", 5060, 404);
	rec(&o);
	is_int(last_code("001565aabbcc", 2), 404, "user unknown at registrar: last code 404 on line 2");
	is_int(last_code("001565aabbcc", 1), 403, "line 1 untouched");
	obs(&o, "alice", "a1xyzauth", "tls", 5060, 408);
	rec(&o);
	is_int(last_code("001565aabbcc", 1), 408, "no response: last code 408");

	/* 7. Port and registrar drift; auth username differs. */
	obs(&o, "alice", "alice", "tls", 5061, 403);
	sp_strlcpy(o.registrar, "old.example.test", sizeof(o.registrar));
	rec(&o);
	ty = tally(t.id);
	is_str(ty.kinds, "auth_username,port,registrar", "registrar, port and auth_username drift");

	/* 8. Matching by auth username (username wrong) and by MAC. */
	obs(&o, "1001", "a1xyzauth", "tls", 5060, 403);
	rec(&o);
	ty = tally(t.id);
	ok(strstr(ty.kinds, "username") != NULL, "matched by auth username: username drift (%s)", ty.kinds);
	ok(strstr(ty.kinds, "auth_username") == NULL && strstr(ty.kinds, "registrar") == NULL,
	   "auth username and registrar resolved by the same registration (%s)", ty.kinds);
	obs(&o, "nobody", "nobodyauth", "tls", 5060, 200);
	rec(&o);
	ty = tally(t.id);
	ok(strstr(ty.kinds, "unknown_user") == NULL, "matched by the MAC in the User-Agent (%s)", ty.kinds);
	obs(&o, "alice", "a1xyzauth", "tls", 5060, 200);
	rec(&o);
	ty = tally(t.id);
	is_int(ty.open, 0, "everything resolved again (%s)", ty.kinds);

	/* 9. Unknown user: NULL device; deduped by observed value. */
	obs(&o, "ghost", "ghostauth", "udp", 5060, 404);
	sp_strlcpy(o.user_agent, "sipp", sizeof(o.user_agent));
	rec(&o);
	rec(&o);
	obs(&o, "ghost2", "", "udp", 5060, 404);
	sp_strlcpy(o.user_agent, "sipp", sizeof(o.user_agent));
	rec(&o);
	ty = tally(0);
	is_str(ty.kinds, "unknown_user,unknown_user", "two unknown users, deduped");

	/* 10. Never fetched; match via +sip.instance. */
	int64_t dev2 = add_device(t.id, "0004f2000001", "bob", "bobauth", 1);
	obs(&o, "zzz", "", "tls", 5060, 200);
	sp_strlcpy(o.user_agent, "PolycomVVX-VVX_400-UA/4.1.4.7430", sizeof(o.user_agent));
	sp_strlcpy(o.instance, "urn:uuid:00000000-0000-1000-8000-0004F2000001", sizeof(o.instance));
	rec(&o);
	long nopen = 0;
	store_drift_open_count_device(s, dev2, &nopen);
	ty = tally(t.id);
	ok(strstr(ty.kinds, "never_fetched") != NULL, "never fetched event (%s)", ty.kinds);
	is_int(nopen, 2, "device 2: never_fetched + username (matched by instance MAC)");
	struct observation last;
	is_int(store_registration_last(s, dev2, &last), 1, "last registration of device 2");
	is_str(last.username, "zzz", "stored observation");

	/* 11. Webhook. */
	const char *good = "[{\"username\":\"bob\",\"auth_username\":\"bobauth\",\"registrar\":\"Example.TEST\","
			   "\"transport\":\"TLS\",\"port\":5060,\"code\":200,\"src_ip\":\"192.0.2.9\"}]";
	is_int(drift_webhook(s, good, strlen(good), err, sizeof(err)), DRIFT_OK, "webhook accepted (%s)", err);
	store_drift_open_count_device(s, dev2, &nopen);
	is_int(nopen, 1, "webhook registration resolved the username drift");
	is_int(store_registration_last(s, dev2, &last), 1, "webhook observation stored");
	is_str(last.source, "webhook", "source webhook");
	is_str(last.registrar, "example.test", "registrar lowercased");
	const char *bad[] = {
		"", "{", "[]", "42", "{\"code\":200}", "{\"username\":\"x\"}",
		"{\"username\":\"x\",\"code\":1000}", "{\"username\":\"x\",\"code\":\"200\"}",
		"{\"username\":\"x\",\"code\":200,\"bogus\":1}", "{\"username\":\"x\",\"code\":200,\"port\":70000}",
		"{\"username\":\"x\",\"code\":200,\"transport\":\"carrier-pigeon\"}",
		"{\"username\":\"a\\u0000b\",\"code\":200}", "{\"username\":\"x\",\"username\":\"y\",\"code\":200}",
		"[{\"username\":\"bob\",\"code\":200},{\"username\":7,\"code\":200}]",
	};
	long before = 0;
	store_drift_open_count_device(s, dev2, &before);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ok(drift_webhook(s, bad[i], strlen(bad[i]), err, sizeof(err)) == DRIFT_ERR_INPUT && err[0],
		   "webhook refuses %s (%s)", bad[i], err);
	}
	/* 12. Metrics gauge. */
	struct buf b;
	buf_init(&b, 4096);
	drift_metrics(s, &b);
	buf_add(&b, "", 1);
	ok(strstr(b.data, "sipprov_drift_open{kind=\"unknown_user\"} 2") != NULL, "metrics: open unknown users");
	ok(strstr(b.data, "sipprov_drift_open{kind=\"never_fetched\"} 1") != NULL, "metrics: never fetched");
	buf_release(&b);
	ok(strstr(drift_code_meaning(403), "credentials") != NULL, "403 meaning mentions credentials");
	ok(strstr(drift_code_meaning(404), "registrar") != NULL, "404 meaning mentions the registrar");
	ok(strstr(drift_code_meaning(408), "firewall") != NULL, "408 meaning mentions the firewall");

	/* 13. The cache: every config change between two observations is seen
	 * by the second; fetch state is never served from it. */
	drift_cache_free(dc);
	dc = drift_cache_new(8);
	struct tenant t2;
	memset(&t2, 0, sizeof(t2));
	sp_strlcpy(t2.slug, "beta", sizeof(t2.slug));
	sp_strlcpy(t2.default_template, "main", sizeof(t2.default_template));
	is_int(store_tenant_add(s, &t2, err, sizeof(err)), 0, "cache: tenant beta");
	store_tenant_get(s, "beta", &t2);
	is_int(store_tversion_add(s, t2.id, "main", "{\"port\":\"5060\",\"registrar\":\"example.test\",\"transport\":\"udp\"}",
				  "test", "v1", &v, err, sizeof(err)), 0, "cache: beta v1 (udp)");
	int64_t cd = add_device(t2.id, "001565000101", "carol", "carolauth", 1);
	is_int(store_fetch_record(s, cd, "192.0.2.11", "Yealink", "/001565000101.cfg", 200, 1, "c1"), 0,
	       "cache: carol fetched v1");
	long h0, m0, h1, m1;
	obs(&o, "carol", "carolauth", "udp", 5060, 200);
	is_int(rec(&o), 0, "cache: first observation");
	drift_cache_stats(dc, &h0, &m0);
	is_int(rec(&o), 0, "cache: second observation");
	drift_cache_stats(dc, &h1, &m1);
	ok(h1 == h0 + 1 && m1 == m0, "cache: the second observation is a cache hit (hits %ld->%ld)", h0, h1);
	is_int(tally(t2.id).all, 0, "cache: in sync, no events");

	/* A new template version: the cached UDP expectation must not hide it. */
	is_int(store_tversion_add(s, t2.id, "main", "{\"port\":\"5060\",\"registrar\":\"example.test\",\"transport\":\"tls\"}",
				  "test", "v2 tls", &v, err, sizeof(err)), 0, "cache: beta v2 (tls)");
	drift_cache_stats(dc, &h0, &m0);
	is_int(rec(&o), 0, "cache: udp registration after the template change");
	drift_cache_stats(dc, &h1, &m1);
	ok(m1 == m0 + 1, "cache: the template change made it a miss (misses %ld->%ld)", m0, m1);
	is_str(tally(t2.id).kinds, "stale,transport", "cache: transport and stale drift appear after the template change");

	/* Registers over TLS (a hit): transport resolves, stale stays. */
	obs(&o, "carol", "carolauth", "tls", 5060, 200);
	is_int(rec(&o), 0, "cache: tls registration");
	is_str(tally(t2.id).kinds, "stale", "cache: transport resolved from the cached expectation");

	/* A fetch does not bump the config generation: stale must still resolve. */
	is_int(store_fetch_record(s, cd, "192.0.2.11", "Yealink", "/001565000101.cfg", 200, 2, "c2"), 0,
	       "cache: carol fetched v2");
	drift_cache_stats(dc, &h0, &m0);
	is_int(rec(&o), 0, "cache: registration after the fetch");
	drift_cache_stats(dc, &h1, &m1);
	ok(h1 == h0 + 1, "cache: it was a cache hit (hits %ld->%ld)", h0, h1);
	is_int(tally(t2.id).open, 0, "cache: stale resolved by a fetch between two cached observations");

	/* An account change: the new auth username is expected at once. */
	struct account acc;
	is_int(store_account_get_line(s, cd, 1, &acc), 1, "cache: carol's line 1");
	sp_strlcpy(acc.auth_username, "carolnew", sizeof(acc.auth_username));
	is_int(store_account_update(s, &acc, err, sizeof(err)), 0, "cache: auth username changed (%s)", err);
	is_int(rec(&o), 0, "cache: registration with the old auth username");
	struct tally t13 = tally(t2.id);
	is_str(t13.kinds, "auth_username", "cache: auth_username drift after the account change");
	obs(&o, "carol", "carolnew", "tls", 5060, 200);
	is_int(rec(&o), 0, "cache: registration with the new auth username");
	is_int(tally(t2.id).open, 0, "cache: auth_username drift resolved");

	/* A device override (port 5070) between two observations. */
	struct device dv;
	is_int(store_device_get(s, "001565000101", &dv), 1, "cache: carol's device");
	sp_strlcpy(dv.overrides, "{\"port\":\"5070\"}", sizeof(dv.overrides));
	is_int(store_device_update(s, &dv, err, sizeof(err)), 0, "cache: device override port 5070 (%s)", err);
	is_int(rec(&o), 0, "cache: registration on 5060");
	is_str(tally(t2.id).kinds, "port", "cache: port drift after the device override");
	o.port = 5070;
	is_int(rec(&o), 0, "cache: registration on 5070");
	is_int(tally(t2.id).open, 0, "cache: port drift resolved");

	/* Tenant defaults win over the template: a tenant change is seen too. */
	is_int(store_tenant_get(s, "beta", &t2), 1, "cache: tenant beta again");
	sp_strlcpy(t2.defaults, "{\"registrar\":\"new.example.test\"}", sizeof(t2.defaults));
	is_int(store_tenant_update(s, &t2, err, sizeof(err)), 0, "cache: tenant default registrar (%s)", err);
	is_int(rec(&o), 0, "cache: registration to the old registrar");
	is_str(tally(t2.id).kinds, "registrar", "cache: registrar drift after the tenant change");

	/* Two devices sharing one slot, and a device seen for the first time
	 * through the shared template profile: each gets its own expectation. */
	drift_cache_free(dc);
	dc = drift_cache_new(1);
	int64_t dd = add_device(t2.id, "001565000102", "dave", "daveauth", 1);
	is_int(store_fetch_record(s, dd, "192.0.2.12", "Yealink", "/001565000102.cfg", 200, 2, "d2"), 0,
	       "cache: dave fetched v2");
	obs(&o, "dave", "daveauth", "tls", 5060, 200);
	sp_strlcpy(o.registrar, "new.example.test", sizeof(o.registrar));
	sp_strlcpy(o.user_agent, "Yealink SIP-T46G 28.72.0.1", sizeof(o.user_agent));
	is_int(rec(&o), 0, "cache: dave in sync (profile built)");
	int64_t ed = add_device(t2.id, "001565000103", "erin", "erinauth", 1);
	obs(&o, "erin", "erinauth", "udp", 5060, 200);
	sp_strlcpy(o.registrar, "new.example.test", sizeof(o.registrar));
	sp_strlcpy(o.user_agent, "Yealink SIP-T46G 28.72.0.1", sizeof(o.user_agent));
	is_int(rec(&o), 0, "cache: erin on udp, never fetched");
	long nd = -1, ne = -1;
	store_drift_open_count_device(s, dd, &nd);
	store_drift_open_count_device(s, ed, &ne);
	is_int(nd, 0, "cache: dave has no drift");
	is_int(ne, 2, "cache: erin: transport (expected tls) and never_fetched");
	obs(&o, "dave", "daveauth", "tls", 5060, 200);
	sp_strlcpy(o.registrar, "new.example.test", sizeof(o.registrar));
	sp_strlcpy(o.user_agent, "Yealink SIP-T46G 28.72.0.1", sizeof(o.user_agent));
	is_int(rec(&o), 0, "cache: dave again after erin took the slot");
	store_drift_open_count_device(s, dd, &nd);
	is_int(nd, 0, "cache: dave still without drift (not erin's expectation)");
	obs(&o, "carol", "carolnew", "tls", 5070, 200);
	sp_strlcpy(o.registrar, "new.example.test", sizeof(o.registrar));
	is_int(rec(&o), 0, "cache: carol (overrides) after the others");
	long nc = -1;
	store_drift_open_count_device(s, cd, &nc);
	is_int(nc, 0, "cache: carol's override still honoured, registrar resolved");

	/* 14. An unknown user that becomes known: only its own unknown_user
	 * event resolves (looked up by user@registrar, schema 003's index). */
	obs(&o, "frank", "frankauth", "udp", 5060, 404);
	sp_strlcpy(o.user_agent, "sipp", sizeof(o.user_agent));
	is_int(rec(&o), 0, "unknown frank registers");
	is_int(rec(&o), 0, "and again");
	is_int(open_of("unknown_user"), 3, "frank's unknown_user event joins the two ghosts' (deduped)");
	add_device(t2.id, "001565000104", "frank", "frankauth", 1);
	obs(&o, "frank", "frankauth", "tls", 5060, 200);
	sp_strlcpy(o.registrar, "new.example.test", sizeof(o.registrar));
	sp_strlcpy(o.user_agent, "sipp", sizeof(o.user_agent));
	is_int(rec(&o), 0, "frank registers to a different registrar: his unknown event stays");
	is_int(open_of("unknown_user"), 3, "three unknown_user events still open");
	sp_strlcpy(o.registrar, "example.test", sizeof(o.registrar));
	is_int(rec(&o), 0, "frank registers as frank@example.test");
	is_int(open_of("unknown_user"), 2, "frank's unknown_user event resolved, the ghosts' stay");
	drift_cache_free(dc);
	dc = NULL;
	store_close(s);
	return tap_done();
}
