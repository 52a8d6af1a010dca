/*
 * policy.c (unit): the tenant policy module and its callers agreeing.
 * Canonical form on write (through the store, as every writer goes); an
 * address x allowlist table run through the daemon's decision (auth_check)
 * and diagnose's step 1 (diagnose_run) on legacy rows written behind the
 * writers' back; migration 004 on a database left at 003; diagnose's
 * username swap check is validate's.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "core/sipprov.h"
/* auth.h alone: daemon.h and ops.h cannot both be included today (each
 * brings a struct sip_uri). */
#include "daemon/auth.h"
#include "ops/ops.h"
#include "support/store_test.h"

static struct store *db;
static int64_t tenant_id;

static int64_t add_tenant(const char *slug, const char *upat, const char *apat)
{
	struct tenant t = { 0 };
	char err[SP_ERR_MAX];
	sp_strlcpy(t.slug, slug, sizeof(t.slug));
	sp_strlcpy(t.username_pattern, upat, sizeof(t.username_pattern));
	sp_strlcpy(t.auth_username_pattern, apat, sizeof(t.auth_username_pattern));
	sp_strlcpy(t.default_template, "main", sizeof(t.default_template));
	if (store_tenant_add(db, &t, err, sizeof(err)) < 0 || store_tenant_get(db, slug, &t) != 1)
		return 0;
	store_tversion_add(db, t.id, "main", "{\"port\":\"5060\",\"registrar\":\"example.test\",\"transport\":\"udp\"}",
			   "test", "", NULL, err, sizeof(err));
	return t.id;
}

static int64_t add_device(int64_t tenant, const char *mac, const char *user, const char *auth)
{
	struct device d = { 0 };
	struct account a = { 0 };
	char err[SP_ERR_MAX];
	sp_strlcpy(d.mac, mac, sizeof(d.mac));
	d.tenant_id = tenant;
	sp_strlcpy(d.layout, "yealink", sizeof(d.layout));
	sp_strlcpy(d.status, "active", sizeof(d.status));
	if (store_device_add(db, &d, err, sizeof(err)) < 0)
		return 0;
	a.device_id = d.id;
	a.line = 1;
	sp_strlcpy(a.username, user, sizeof(a.username));
	sp_strlcpy(a.auth_username, auth, sizeof(a.auth_username));
	sp_strlcpy(a.password_enc, "x", sizeof(a.password_enc));
	return store_account_add(db, &a, err, sizeof(err)) == 0 ? d.id : 0;
}

/* ---- writes store the canonical form ---- */

static void test_canonical(void)
{
	static const struct {
		const char *auth, *allow, *upat;
		const char *want_auth, *want_allow, *want_upat;  /* NULL want_auth: refused */
		const char *err;                                  /* part of the refusal */
	} t[] = {
		{ "digest, token", "10.0.0.0/8, 127.0.0.0/8", "", "digest,token", "10.0.0.0/8,127.0.0.0/8", "", NULL },
		{ "token,digest,token", "", "", "digest,token", "", "", NULL },
		{ " MTLS ,none", "192.0.2.7", "", "none,mtls", "192.0.2.7/32", "", NULL },
		{ "", "10.1.2.3/8,10.0.0.0/8", "", "digest", "10.0.0.0/8", "", NULL },
		{ "digest", "::ffff:10.0.0.0/104, ::FFFF:10.1.0.0/112", "", "digest", "10.0.0.0/8,10.1.0.0/16", "", NULL },
		{ "digest", "2001:0DB8:0000::1/32,::1,0.0.0.0/0,::/0", "", "digest", "2001:db8::/32,::1/128,0.0.0.0/0,::/0",
		  "", NULL },
		{ "digest", "", "  ^[0-9]{3,6}$ ", "digest", "", "^[0-9]{3,6}$", NULL },
		{ "digest,,token", "", "", NULL, NULL, NULL, "device_auth \"digest,,token\" has an empty item" },
		{ "digest,password", "", "", NULL, NULL, NULL, "device_auth \"password\" is not one of none, digest" },
		{ "digest", "10.0.0.0/8,", "", NULL, NULL, NULL, "allowed sources \"10.0.0.0/8,\" have an empty item" },
		{ "digest", ",", "", NULL, NULL, NULL, "have an empty item" },
		{ "digest", "10.0.0.0/8, 10.0.0.0/33", "", NULL, NULL, NULL, "allowed source \"10.0.0.0/33\" is not" },
		{ "digest", "10.0.0.0/+8", "", NULL, NULL, NULL, "allowed source \"10.0.0.0/+8\" is not" },
		{ "digest", "10.0.0.0/8 127.0.0.0/8", "", NULL, NULL, NULL, "allowed source \"10.0.0.0/8 127.0.0.0/8\"" },
		{ "digest", "", "^[0-9", NULL, NULL, NULL, "username_pattern \"^[0-9\" is not a POSIX extended" },
	};
	char err[SP_ERR_MAX], slug[32];
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct tenant in = { 0 }, out;
		snprintf(slug, sizeof(slug), "canon%zu", i);
		sp_strlcpy(in.slug, slug, sizeof(in.slug));
		sp_strlcpy(in.device_auth, t[i].auth, sizeof(in.device_auth));
		sp_strlcpy(in.allow_cidrs, t[i].allow, sizeof(in.allow_cidrs));
		sp_strlcpy(in.username_pattern, t[i].upat, sizeof(in.username_pattern));
		err[0] = '\0';
		int rc = store_tenant_add(db, &in, err, sizeof(err));
		if (!t[i].want_auth) {
			ok(rc < 0 && strstr(err, t[i].err) && !strncmp(err, "tenant canon", 12),
			   "refused '%s' / '%s': %s", t[i].auth, t[i].allow, err);
			is_int(store_tenant_get(db, slug, &out), 0, "nothing written for '%s' / '%s'", t[i].auth,
			       t[i].allow);
			continue;
		}
		ok(rc == 0 && store_tenant_get(db, slug, &out) == 1, "stored '%s' / '%s' %s", t[i].auth, t[i].allow, err);
		is_str(out.device_auth, t[i].want_auth, "device_auth '%s' stored canonical", t[i].auth);
		is_str(out.allow_cidrs, t[i].want_allow, "allow '%s' stored canonical", t[i].allow);
		is_str(out.username_pattern, t[i].want_upat, "pattern '%s' stored trimmed", t[i].upat);
		/* canonical is a fixed point */
		struct tenant again = out;
		ok(policy_tenant_canon(&again, err, sizeof(err)) == 0 && !strcmp(again.device_auth, out.device_auth) &&
		   !strcmp(again.allow_cidrs, out.allow_cidrs), "canonical '%s' stays as it is", out.allow_cidrs);
	}
	/* More networks than fit: refused, named. */
	struct tenant big = { 0 };
	struct buf b;
	buf_init(&b, sizeof(big.allow_cidrs) - 1);
	for (int i = 0; i <= SP_POLICY_NETS_MAX; i++)
		buf_printf(&b, "%s10.%d.0.0/16", i ? "," : "", i);
	sp_strlcpy(big.slug, "big", sizeof(big.slug));
	sp_strlcpy(big.allow_cidrs, b.data, sizeof(big.allow_cidrs));
	ok(store_tenant_add(db, &big, err, sizeof(err)) < 0 && strstr(err, "more than 32 networks (at \"10.32.0.0/16\")"),
	   "33 networks refused: %s", err);
	buf_release(&b);
}

/* ---- one allowlist rule: the daemon's path and diagnose's path ---- */

static bool daemon_allows(const char *allow, const char *ip)
{
	struct sockaddr_storage ss;
	struct auth_subject s;
	struct auth_req r;
	char why[SP_ERR_MAX];
	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		inet_pton(AF_INET6, ip, &a->sin6_addr);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		inet_pton(AF_INET, ip, &a->sin_addr);
	}
	memset(&s, 0, sizeof(s));
	s.found = s.device_active = s.tenant_active = s.vendor_ok = true;
	sp_strlcpy(s.mac, "001565bbbb01", sizeof(s.mac));
	sp_strlcpy(s.tenant, "nets", sizeof(s.tenant));
	auth_subject_policy(&s, "none", allow);   /* "none", nothing secret: only the source decides */
	memset(&r, 0, sizeof(r));
	r.addr = (const struct sockaddr *)&ss;
	r.ip = ip;
	r.subj = &s;
	return auth_check(&r, NULL, why, sizeof(why)) == AUTH_OK;
}

/* -1: diagnose did not run */
static int diagnose_allows(int64_t dev, const char *allow, const char *ip, struct diag_report *rep)
{
	char sql[1024], err[SP_ERR_MAX];
	struct diag_opts o = { 0 };
	snprintf(sql, sizeof(sql), "UPDATE tenant SET allow_cidrs = '%s' WHERE id = %lld", allow, (long long)tenant_id);
	if (store_test_exec(db, sql, err, sizeof(err)) < 0 ||
	    store_fetch_record(db, dev, ip, "Yealink SIP-T46G 28.72.0.1", "/001565bbbb01.cfg", 200, 1, "") < 0 ||
	    diagnose_run(db, "001565bbbb01", &o, rep, err, sizeof(err)) < 0)
		return -1;
	return !(rep->steps[DS_ACTIVE].findings & DF_IP_POLICY);
}

static void test_paths(void)
{
	static const char *const ips[] = {
		"10.1.2.3", "::ffff:10.1.2.3", "127.0.0.1", "::ffff:127.0.0.1", "192.0.2.7",
		"192.0.2.8", "2001:db8::1", "2001:db9::1", "::1", "8.8.8.8",
	};
	/* want: one y/n per address above.  Rows in quotes are as an older
	 * version stored them (spaces, host bits, bad items). */
	static const struct { const char *allow, *want; } t[] = {
		{ "", "yyyyyyyyyy" },
		{ "10.0.0.0/8", "yynnnnnnnn" },
		{ "10.0.0.0/8, 127.0.0.0/8", "yyyynnnnnn" },
		{ "10.0.0.0/8 , 127.0.0.0/8,", "yyyynnnnnn" },
		{ "10.1.2.3/8", "yynnnnnnnn" },
		{ "0.0.0.0/0", "yyyyyynnny" },
		{ "128.0.0.0/1", "nnnnyynnnn" },
		{ "192.0.2.7/32", "nnnnynnnnn" },
		{ "192.0.2.7", "nnnnynnnnn" },
		{ " 192.0.2.6/31 ", "nnnnynnnnn" },
		{ "::ffff:10.0.0.0/104", "yynnnnnnnn" },
		{ "::ffff:0:0/96", "yyyyyynnny" },
		{ "2001:db8::/32", "nnnnnnynnn" },
		{ "2001:db8::1/128", "nnnnnnynnn" },
		{ "::1/128", "nnnnnnnnyn" },
		{ "::/0", "yyyyyyyyyy" },
		{ "10.0.0.0/33", "nnnnnnnnnn" },
		{ "2001:db8::/129", "nnnnnnnnnn" },
		{ "10.0.0.0/8x", "nnnnnnnnnn" },
		{ "garbage", "nnnnnnnnnn" },
		{ ",", "nnnnnnnnnn" },
		{ "garbage, 127.0.0.0/8", "nnyynnnnnn" },
	};
	struct diag_report *rep = xcalloc(1, sizeof(*rep));
	tenant_id = add_tenant("nets", "", "");
	int64_t dev = add_device(tenant_id, "001565bbbb01", "1001", "1001");
	ok(tenant_id && dev, "tenant and device for the allowlist table");
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		for (size_t k = 0; k < sizeof(ips) / sizeof(ips[0]); k++) {
			int d = daemon_allows(t[i].allow, ips[k]);
			int g = diagnose_allows(dev, t[i].allow, ips[k], rep);
			int want = t[i].want[k] == 'y';
			ok(d == want && g == want, "'%s' vs %s: daemon %s, diagnose %s, want %s", t[i].allow, ips[k],
			   d ? "allows" : "refuses", g < 0 ? "failed" : g ? "allows" : "refuses", want ? "allows" : "refuses");
		}
	free(rep);
}

/* ---- migration 004 ---- */

static void test_migration(void)
{
	char dir[] = "/tmp/sipprov-policy.XXXXXX", path[64], err[SP_ERR_MAX] = "";
	struct tenant t;
	ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof(path), "%s/old.db", dir);
	const char *legacy =
		"INSERT INTO tenant (slug, device_auth, allow_cidrs, username_pattern, auth_username_pattern, created) "
		"VALUES ('old', 'token , digest,token,', ' 10.0.0.0/8, 127.0.0.0/8,, ', ' ^[0-9]{3,6}$ ', '^[a-z]+$ ', 0),"
		" ('odd', 'digest,bogus', ',', '', '', 0), ('hosts', 'digest', '10.1.2.3/8, ::1', '', '', 0)";
	ok(store_test_create_at(path, 3, legacy, err, sizeof(err)) == 0, "a database at migration 003 with legacy rows %s",
	   err);
	struct store_migrated m;
	ok(store_open(path, err, sizeof(err)) == NULL && strstr(err, "run 'sipprov migrate'"),
	   "store_open refuses it until it is migrated: %s", err);
	ok(store_migrate(path, &m, err, sizeof(err)) == 0 && m.from == 3 && m.applied > 0, "store_migrate brings it up %s",
	   err);
	struct store *s = store_open(path, err, sizeof(err));
	ok(s != NULL, "then store_open opens it %s", err);
	if (!s)
		return;
	ok(store_tenant_get(s, "old", &t) == 1, "legacy tenant read back");
	is_str(t.device_auth, "digest,token", "device_auth: spaces, duplicate and empty item gone, canonical order");
	is_str(t.allow_cidrs, "10.0.0.0/8,127.0.0.0/8", "allow_cidrs: spaces and empty items gone");
	is_str(t.username_pattern, "^[0-9]{3,6}$", "username_pattern trimmed");
	is_str(t.auth_username_pattern, "^[a-z]+$", "auth_username_pattern trimmed");
	ok(store_tenant_get(s, "odd", &t) == 1, "unreadable row read back");
	is_str(t.device_auth, "digest,bogus", "an unknown mode is left for the runtime parser (which ignores it)");
	is_str(t.allow_cidrs, ",", "an allowlist of nothing is not turned into 'any source'");
	ok(store_tenant_get(s, "hosts", &t) == 1, "host-bits row read back");
	is_str(t.allow_cidrs, "10.1.2.3/8,::1", "host bits stay (SQL cannot mask them) ...");
	struct tenant c = t;
	ok(policy_tenant_canon(&c, err, sizeof(err)) == 0 && !strcmp(c.allow_cidrs, "10.0.0.0/8,::1/128"),
	   "... and read with the same meaning: %s", c.allow_cidrs);
	store_close(s);
	/* The migration kept the old file beside it: the test's to remove,
	 * or every run leaves a directory in /tmp. */
	ok(m.backup[0] && access(m.backup, F_OK) == 0, "the migration kept a backup: %s", m.backup);
	unlink(m.backup);
	unlink(path);
	ok(rmdir(dir) == 0, "nothing else left in %s", dir);
}

/* ---- diagnose's swap check is validate's ---- */

static void test_swap_rule(void)
{
	static const struct { const char *user, *auth; } t[] = {
		{ "1001", "k8f2m1x9" },         /* right way round */
		{ "k8f2m1x9", "1001" },         /* swapped */
		{ "abc1", "1234" },             /* auth id fits both patterns, username only the auth one */
		{ "1234", "5678" },             /* both fit both */
		{ "12", "ab" },                 /* neither fits anything */
	};
	struct diag_report *rep = xcalloc(1, sizeof(*rep));
	int64_t tid = add_tenant("names", "^[0-9]{3,6}$", "^[a-z0-9]{4,}$");
	struct tenant ten;
	ok(tid && store_tenant_get(db, "names", &ten) == 1, "tenant with both patterns");
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char mac[13], err[SP_ERR_MAX] = "";
		struct diag_opts o = { 0 };
		struct account a = { 0 };
		snprintf(mac, sizeof(mac), "001565cccc%02zx", i);
		ok(add_device(tid, mac, t[i].user, t[i].auth), "account %s / %s", t[i].user, t[i].auth);
		a.line = 1;
		sp_strlcpy(a.username, t[i].user, sizeof(a.username));
		sp_strlcpy(a.auth_username, t[i].auth, sizeof(a.auth_username));
		sp_strlcpy(a.password, "x", sizeof(a.password));
		bool v = validate_account(NULL, &ten, mac, &a, err, sizeof(err)) < 0 && strstr(err, "look swapped");
		ok(diagnose_run(db, mac, &o, rep, err, sizeof(err)) == 0, "diagnose %s", mac);
		bool d = strstr(rep->steps[DS_IDENTITY].evidence, "the two look swapped") != NULL;
		is_int(d, v, "%s / %s: diagnose's swap line %s, validate %s", t[i].user, t[i].auth, d ? "shown" : "absent",
		       v ? "says swapped" : "does not");
	}
	free(rep);
}

int main(void)
{
	char err[SP_ERR_MAX] = "";
	db = store_open(":memory:", err, sizeof(err));
	ok(db != NULL, "store opens %s", err);
	if (!db)
		return tap_done();
	test_canonical();
	test_paths();
	test_swap_rule();
	test_migration();
	store_close(db);
	policy_cleanup();
	return tap_done();
}
