/*
 * unit/validate.c: table-driven bad inputs for accounts, settings and
 * tenant policy, each with its exact error, run through a write path on a
 * real store (":memory:", migrated from schema/) seeded with two tenants
 * and a few accounts; after each refused write the database digest must be
 * unchanged.  Good inputs must pass and really write.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "tap.h"
#include "core/sipprov.h"
#include "support/store_test.h"

#define A1 "0015654aa937"   /* acme: line 1 1001/k8f2m1x9, line 2 1002/p3q4r5s6 */
#define A2 "001565f429a4"   /* acme: line 1 1003/a1b2c3d4, line 2 1001/k8f2m1x9 (shared line) */
#define A3 "0c383e07e16c"   /* acme: no accounts */
#define B1 "000b828aa872"   /* beta: line 1 alice/a1ice-id, line 2 bob/bob */
#define B2 "0002fdff2103"   /* beta: line 1 carol/carol */
#define B3 "000413741767"   /* beta: no accounts */

#define LONG "\x01LONG"     /* marker: fill the whole field, unterminated */

static struct store *s;
static struct tenant acme, beta;
static int64_t dev_id[6];

static int64_t add_device(const char *mac, const struct tenant *t)
{
	struct device d;
	char err[SP_ERR_MAX];
	memset(&d, 0, sizeof(d));
	sp_strlcpy(d.mac, mac, sizeof(d.mac));
	d.tenant_id = t->id;
	sp_strlcpy(d.layout, "json", sizeof(d.layout));
	if (store_device_add(s, &d, err, sizeof(err)) < 0)
		printf("# device %s: %s\n", mac, err);
	return d.id;
}

static int64_t add_account(int64_t dev, long line, const char *user, const char *auth)
{
	struct account a;
	char err[SP_ERR_MAX];
	memset(&a, 0, sizeof(a));
	a.device_id = dev;
	a.line = line;
	sp_strlcpy(a.username, user, sizeof(a.username));
	sp_strlcpy(a.auth_username, auth, sizeof(a.auth_username));
	sp_strlcpy(a.password_enc, "ZW5jcnlwdGVk", sizeof(a.password_enc));
	if (store_account_add(s, &a, err, sizeof(err)) < 0)
		printf("# account %s: %s\n", user, err);
	return a.id;
}

static void seed(void)
{
	char err[SP_ERR_MAX];
	memset(&acme, 0, sizeof(acme));
	sp_strlcpy(acme.slug, "acme", sizeof(acme.slug));
	sp_strlcpy(acme.device_auth, "digest", sizeof(acme.device_auth));
	sp_strlcpy(acme.username_pattern, "^[0-9]{3,6}$", sizeof(acme.username_pattern));
	sp_strlcpy(acme.auth_username_pattern, "^[a-z0-9]{8}$", sizeof(acme.auth_username_pattern));
	acme.max_per_user = 2;
	memset(&beta, 0, sizeof(beta));
	sp_strlcpy(beta.slug, "beta", sizeof(beta.slug));
	sp_strlcpy(beta.device_auth, "token", sizeof(beta.device_auth));
	ok(store_tenant_add(s, &acme, err, sizeof(err)) == 0 && store_tenant_add(s, &beta, err, sizeof(err)) == 0,
	   "seed tenants");
	store_tenant_get(s, "acme", &acme);
	store_tenant_get(s, "beta", &beta);
	dev_id[0] = add_device(A1, &acme);
	dev_id[1] = add_device(A2, &acme);
	dev_id[2] = add_device(A3, &acme);
	dev_id[3] = add_device(B1, &beta);
	dev_id[4] = add_device(B2, &beta);
	dev_id[5] = add_device(B3, &beta);
	add_account(dev_id[0], 1, "1001", "k8f2m1x9");
	add_account(dev_id[0], 2, "1002", "p3q4r5s6");
	add_account(dev_id[1], 1, "1003", "a1b2c3d4");
	add_account(dev_id[1], 2, "1001", "k8f2m1x9");
	add_account(dev_id[3], 1, "alice", "a1ice-id");
	add_account(dev_id[3], 2, "bob", "bob");
	add_account(dev_id[4], 1, "carol", "carol");
}

static const char *digest(void)
{
	static char d[65];
	if (store_validate_digest(s, d) < 0)
		return "digest failed";
	return d;
}

/* ---- accounts ---- */

struct acase {
	const char *tenant;     /* "acme" or "beta" */
	const char *mac;
	long line;
	int update_of;          /* 0: new account; else the line on mac whose row (id) is updated */
	const char *display, *ext, *user, *auth, *pass;
	const char *want;       /* NULL: must pass */
};

/* Acme defaults for a new line on A3, beta defaults on B3. */
#define ACME(line, d, e, u, a, p, want) { "acme", A3, line, 0, d, e, u, a, p, want }
#define BETA(line, d, e, u, a, p, want) { "beta", B3, line, 0, d, e, u, a, p, want }
#define PA "account 1 on 0c:38:3e:07:e1:6c: "
#define PB "account 1 on 00:04:13:74:17:67: "

static const struct acase acases[] = {
	/* line */
	{ "acme", A3, 0, 0, "Ann", "2001", "2001", "z9y8x7w6", "s3cret",
	  "account 0 on 0c:38:3e:07:e1:6c: line 0 is out of range: use 1 to 16" },
	{ "acme", A3, 17, 0, "Ann", "2001", "2001", "z9y8x7w6", "s3cret",
	  "account 17 on 0c:38:3e:07:e1:6c: line 17 is out of range: use 1 to 16" },
	{ "acme", A3, -1, 0, "Ann", "2001", "2001", "z9y8x7w6", "s3cret",
	  "account -1 on 0c:38:3e:07:e1:6c: line -1 is out of range: use 1 to 16" },
	/* empty required fields */
	ACME(1, "Ann", "2001", "", "z9y8x7w6", "s3cret",
	     PA "username is empty: give the SIP user part (often the extension number)"),
	ACME(1, "Ann", "2001", "2001", "", "s3cret",
	     PA "auth_username is empty: give the digest authentication id (often the same as the username)"),
	ACME(1, "Ann", "2001", "2001", "z9y8x7w6", "", PA "password is empty: every line needs its SIP password"),
	/* SIP URIs and domain parts */
	ACME(1, "Ann", "2001", "sip:2001@example.com", "z9y8x7w6", "s3cret",
	     PA "username \"sip:2001@example.com\" is a SIP URI: give only the user part, without \"sip:\" or \"@domain\""),
	ACME(1, "Ann", "2001", "SIP:2001", "z9y8x7w6", "s3cret",
	     PA "username \"SIP:2001\" is a SIP URI: give only the user part, without \"sip:\" or \"@domain\""),
	ACME(1, "Ann", "2001", "sips:2001@example.com", "z9y8x7w6", "s3cret",
	     PA "username \"sips:2001@example.com\" is a SIP URI: give only the user part, without \"sip:\" or \"@domain\""),
	ACME(1, "Ann", "2001", "2001", "sip:z9y8x7w6", "s3cret",
	     PA "auth_username \"sip:z9y8x7w6\" is a SIP URI: give only the user part, without \"sip:\" or \"@domain\""),
	ACME(1, "Ann", "2001", "2001@example.com", "z9y8x7w6", "s3cret",
	     PA "username \"2001@example.com\" has a domain part: give only the user part, without \"@example.com\"; "
		"the domain comes from the template's registrar"),
	ACME(1, "Ann", "2001", "2001", "z9y8x7w6@acme.example", "s3cret",
	     PA "auth_username \"z9y8x7w6@acme.example\" has a domain part: give only the user part, without "
		"\"@acme.example\"; the domain comes from the template's registrar"),
	ACME(1, "Ann", "2001", "@example.com", "z9y8x7w6", "s3cret",
	     PA "username \"@example.com\" has a domain part: give only the user part, without \"@example.com\"; "
		"the domain comes from the template's registrar"),
	ACME(1, "Ann", "2001", "2001@", "z9y8x7w6", "s3cret", PA "username \"2001@\" contains '@': remove it"),
	ACME(1, "Ann", "2001", "2001", "@", "s3cret", PA "auth_username \"@\" contains '@': remove it"),
	/* ':' whitespace and characters that break SIP headers */
	ACME(1, "Ann", "2001", "2001:5060", "z9y8x7w6", "s3cret",
	     PA "username \"2001:5060\" contains ':': give only the user part, no scheme or port"),
	ACME(1, "Ann", "2001", "2001", "z9y8:x7w6", "s3cret",
	     PA "auth_username \"z9y8:x7w6\" contains ':': give only the user part, no scheme or port"),
	ACME(1, "Ann", "2001", "20 01", "z9y8x7w6", "s3cret", PA "username \"20 01\" contains whitespace: remove it"),
	ACME(1, "Ann", "2001", " 2001", "z9y8x7w6", "s3cret", PA "username \" 2001\" contains whitespace: remove it"),
	ACME(1, "Ann", "2001", "2001", "z9y8x7w6 ", "s3cret",
	     PA "auth_username \"z9y8x7w6 \" contains whitespace: remove it"),
	ACME(1, "Ann", "2001", "20\t01", "z9y8x7w6", "s3cret", PA "username \"20\\t01\" contains whitespace: remove it"),
	ACME(1, "Ann", "2001", "20<01", "z9y8x7w6", "s3cret",
	     PA "username \"20<01\" contains '<': not allowed in a SIP user part"),
	ACME(1, "Ann", "2001", "2001\"", "z9y8x7w6", "s3cret",
	     PA "username \"2001\\\"\" contains '\"': not allowed in a SIP user part"),
	ACME(1, "Ann", "2001", "2001", "a\\b", "s3cret",
	     PA "auth_username \"a\\\\b\" contains '\\': not allowed in a SIP user part"),
	ACME(1, "Ann", "2001", "2001>", "z9y8x7w6", "s3cret",
	     PA "username \"2001>\" contains '>': not allowed in a SIP user part"),
	/* control characters, line breaks, UTF-8 */
	ACME(1, "Ann", "2001", "20\x01", "z9y8x7w6", "s3cret",
	     PA "username \"20\\x01\" contains a control character: remove it"),
	ACME(1, "Ann", "2001", "2001", "z9y8\x1bx7w6", "s3cret",
	     PA "auth_username \"z9y8\\x1bx7w6\" contains a control character: remove it"),
	ACME(1, "Ann\nBob", "2001", "2001", "z9y8x7w6", "s3cret",
	     PA "display_name \"Ann\\nBob\" contains a line break (CR/LF): use a single line"),
	ACME(1, "Ann\r", "2001", "2001", "z9y8x7w6", "s3cret",
	     PA "display_name \"Ann\\r\" contains a line break (CR/LF): use a single line"),
	ACME(1, "Ann", "2001\n", "2001", "z9y8x7w6", "s3cret",
	     PA "extension \"2001\\n\" contains a line break (CR/LF): use a single line"),
	ACME(1, "Ann", "2001", "2001\r\n", "z9y8x7w6", "s3cret",
	     PA "username \"2001\\r\\n\" contains a line break (CR/LF): use a single line"),
	ACME(1, "Ann", "2001", "2001", "z9y8x7w6", "pa\r\nss",
	     PA "password contains a line break (CR/LF): it would end the line in a config file; remove it"),
	ACME(1, "Ann", "2001", "2001", "z9y8x7w6", "pass\n",
	     PA "password contains a line break (CR/LF): it would end the line in a config file; remove it"),
	ACME(1, "Ann", "2001", "2001", "z9y8x7w6", "pa\x02ss", PA "password contains a control character: remove it"),
	ACME(1, "Ann", "2001", "2001", "z9y8x7w6", "\xff\xfe", PA "password is not valid UTF-8: re-enter it"),
	ACME(1, "\xc3\x28", "2001", "2001", "z9y8x7w6", "s3cret",
	     PA "display_name \"\\xc3(\" is not valid UTF-8: save the source as UTF-8"),
	ACME(1, "Ann", "2001", "\xe2\x82", "z9y8x7w6", "s3cret",
	     PA "username \"\\xe2\\x82\" is not valid UTF-8: save the source as UTF-8"),
	ACME(1, "Ann", "2001", "2001", "\xed\xa0\x80", "s3cret",
	     PA "auth_username \"\\xed\\xa0\\x80\" is not valid UTF-8: save the source as UTF-8"),
	ACME(1, "\xc0\xaf", "2001", "2001", "z9y8x7w6", "s3cret",
	     PA "display_name \"\\xc0\\xaf\" is not valid UTF-8: save the source as UTF-8"),
	ACME(1, "Ann", "20\x7f", "2001", "z9y8x7w6", "s3cret",
	     PA "extension \"20\\x7f\" contains a control character: remove it"),
	/* oversize */
	ACME(1, LONG, "2001", "2001", "z9y8x7w6", "s3cret", PA "display_name is longer than 127 bytes: shorten it"),
	ACME(1, "Ann", LONG, "2001", "z9y8x7w6", "s3cret", PA "extension is longer than 63 bytes: shorten it"),
	ACME(1, "Ann", "2001", LONG, "z9y8x7w6", "s3cret", PA "username is longer than 127 bytes: shorten it"),
	ACME(1, "Ann", "2001", "2001", LONG, "s3cret", PA "auth_username is longer than 127 bytes: shorten it"),
	ACME(1, "Ann", "2001", "2001", "z9y8x7w6", LONG, PA "password is longer than 127 bytes: shorten it"),
	/* tenant patterns: swapped fields (SPEC.md's example, replacing line 2 of A1) */
	{ "acme", A1, 2, 0, "", "", "k8f2m1x9", "1001", "s3cret",
	  "account 2 on 00:15:65:4a:a9:37: auth_username \"1001\" matches tenant acme's username pattern ^[0-9]{3,6}$ "
	  "and username \"k8f2m1x9\" matches its auth-username pattern: username and auth_username look swapped" },
	ACME(1, "Ann", "2001", "abcd1234", "123456", "s3cret",
	     PA "auth_username \"123456\" matches tenant acme's username pattern ^[0-9]{3,6}$ and username \"abcd1234\" "
		"matches its auth-username pattern: username and auth_username look swapped"),
	/* auth id equal to the display name or the extension */
	ACME(1, "qwertyui", "2001", "2001", "qwertyui", "s3cret",
	     PA "auth_username \"qwertyui\" equals the display_name: tenant acme's auth-username pattern ^[a-z0-9]{8}$ "
		"says the digest id differs from the name; use the auth id from the SIP provider"),
	ACME(1, "Reception", "2001", "2001", "Reception", "s3cret",
	     PA "auth_username \"Reception\" equals the display_name: tenant acme's auth-username pattern ^[a-z0-9]{8}$ "
		"says the digest id differs from the name; use the auth id from the SIP provider"),
	ACME(1, "Ann", "2001", "2001", "2001", "s3cret",
	     PA "auth_username \"2001\" equals the extension: tenant acme's auth-username pattern ^[a-z0-9]{8}$ "
		"says the digest id differs from the extension; use the auth id from the SIP provider"),
	ACME(1, "Ann", "ext00001", "2001", "ext00001", "s3cret",
	     PA "auth_username \"ext00001\" equals the extension: tenant acme's auth-username pattern ^[a-z0-9]{8}$ "
		"says the digest id differs from the extension; use the auth id from the SIP provider"),
	/* plain pattern mismatches */
	ACME(1, "Ann", "2001", "12", "z9y8x7w6", "s3cret",
	     PA "username \"12\" does not match tenant acme's username pattern ^[0-9]{3,6}$: check the value or the "
		"tenant's policy"),
	ACME(1, "Ann", "2001", "ann", "z9y8x7w6", "s3cret",
	     PA "username \"ann\" does not match tenant acme's username pattern ^[0-9]{3,6}$: check the value or the "
		"tenant's policy"),
	ACME(1, "Ann", "2001", "2001", "short", "s3cret",
	     PA "auth_username \"short\" does not match tenant acme's auth-username pattern ^[a-z0-9]{8}$: check the "
		"value or the tenant's policy"),
	ACME(1, "Ann", "2001", "2001", "UPPERCAS", "s3cret",
	     PA "auth_username \"UPPERCAS\" does not match tenant acme's auth-username pattern ^[a-z0-9]{8}$: check the "
		"value or the tenant's policy"),
	/* max devices per SIP user (1001 is on A1 and A2 already) */
	ACME(1, "Ann", "2001", "1001", "k8f2m1x9", "s3cret",
	     PA "username \"1001\" is already on 2 devices of tenant acme (max_per_user 2): remove it from another "
		"device or raise the limit"),
	/* swaps against other accounts in the database (beta has no patterns) */
	BETA(1, "Dave", "", "dave", "alice", "pw",
	     PB "auth_username \"alice\" is the username of account 1 on 00:0b:82:8a:a8:72: swap suspected; give this "
		"line's own digest id"),
	BETA(1, "Dave", "", "a1ice-id", "dave-id", "pw",
	     PB "username \"a1ice-id\" is the auth_username of account 1 on 00:0b:82:8a:a8:72: swap suspected; check "
		"which value is the SIP user and which the digest id"),
	BETA(1, "", "", "a1ice-id", "alice", "pw",
	     PB "auth_username \"alice\" is the username of account 1 on 00:0b:82:8a:a8:72: swap suspected; give this "
		"line's own digest id"),
	BETA(1, "", "", "bob", "bobby", "pw",
	     PB "username \"bob\" is the auth_username of account 2 on 00:0b:82:8a:a8:72: swap suspected; check which "
		"value is the SIP user and which the digest id"),
	BETA(1, "", "", "dave", "carol", "pw",
	     PB "auth_username \"carol\" is the username of account 1 on 00:02:fd:ff:21:03: swap suspected; give this "
		"line's own digest id"),
	/* an update of alice's own row into carol's username */
	{ "beta", B1, 1, 1, "", "", "alice", "carol", "pw",
	  "account 1 on 00:0b:82:8a:a8:72: auth_username \"carol\" is the username of account 1 on 00:02:fd:ff:21:03: "
	  "swap suspected; give this line's own digest id" },
	/* ---- good inputs ---- */
	ACME(1, "Ann", "2001", "2001", "z9y8x7w6", "s3cret", NULL),
	ACME(16, "Ann <\"O'Brien\"> & Co \xe2\x98\x8e", "2001", "2001", "z9y8x7w6", "<>&\"'", NULL),
	ACME(1, "Tab\there", "", "2002", "q1w2e3r4", "s3cret", NULL),
	/* replacing line 2 of A1 with its own values (same device+line is excluded) */
	{ "acme", A1, 2, 0, "", "", "1002", "p3q4r5s6", "s3cret", NULL },
	/* a shared line appearance: same username and auth id as carol's */
	BETA(1, "", "", "carol", "carol", "pw", NULL),
	BETA(2, "Dave", "", "dave", "dave", "pw", NULL),
	/* alice's row updated with its own values */
	{ "beta", B1, 1, 1, "Alice", "", "alice", "a1ice-id", "pw", NULL },
	/* beta has no auth pattern: auth id equal to the extension is allowed */
	BETA(1, "", "300", "300", "300", "pw", NULL),
};

static void fill(char *dst, size_t size, const char *v)
{
	if (strcmp(v, LONG) == 0)
		memset(dst, 'a', size);             /* unterminated on purpose */
	else
		validate_copy(dst, size, v);
}

static int64_t device_of(const char *mac)
{
	struct device d;
	return store_device_get(s, mac, &d) == 1 ? d.id : 0;
}

/* The CLI's write path: begin, validate, write, commit; or roll back. */
static int try_account(const struct tenant *t, const char *mac, struct account *a, bool update, char *err,
		       size_t errlen)
{
	char e2[SP_ERR_MAX];
	if (store_begin(s) < 0)
		return sp_err(err, errlen, "begin failed");
	if (validate_account(s, t, mac, a, err, errlen) < 0) {
		store_rollback(s);
		return -1;
	}
	if (!update)
		store_account_delete(s, a->device_id, a->line);
	if ((update ? store_account_update(s, a, e2, sizeof(e2)) : store_account_add(s, a, e2, sizeof(e2))) < 0) {
		store_rollback(s);
		return sp_err(err, errlen, "write failed: %s", e2);
	}
	return 0;   /* caller commits or rolls back */
}

static void account_cases(void)
{
	for (size_t i = 0; i < sizeof(acases) / sizeof(acases[0]); i++) {
		const struct acase *c = &acases[i];
		const struct tenant *t = strcmp(c->tenant, "acme") ? &beta : &acme;
		struct account a;
		char err[SP_ERR_MAX] = "", before[65];
		int rc;

		memset(&a, 0, sizeof(a));
		a.device_id = device_of(c->mac);
		a.line = c->line;
		if (c->update_of) {
			struct account all[SP_MAX_LINES];
			size_t n;
			store_account_list(s, a.device_id, all, SP_MAX_LINES, &n);
			for (size_t k = 0; k < n; k++)
				if (all[k].line == c->update_of)
					a = all[k];
			a.password_enc[0] = '\0';
		}
		fill(a.display_name, sizeof(a.display_name), c->display);
		fill(a.extension, sizeof(a.extension), c->ext);
		fill(a.username, sizeof(a.username), c->user);
		fill(a.auth_username, sizeof(a.auth_username), c->auth);
		fill(a.password, sizeof(a.password), c->pass);
		if (strcmp(c->pass, LONG) && c->pass[0])
			sp_strlcpy(a.password_enc, "ZW5jcnlwdGVk", sizeof(a.password_enc));
		sp_strlcpy(before, digest(), sizeof(before));
		rc = try_account(t, c->mac, &a, c->update_of != 0, err, sizeof(err));
		if (c->want) {
			is_int(rc, -1, "account case %zu refused", i);
			is_str(err, c->want, "account case %zu error", i);
			is_str(digest(), before, "account case %zu: database unchanged", i);
		} else {
			is_int(rc, 0, "account case %zu accepted%s%s", i, err[0] ? ": " : "", err);
			if (rc == 0) {
				ok(strcmp(digest(), before) != 0,
				   "account case %zu: the write changed the database", i);
				store_rollback(s);
				is_str(digest(), before, "account case %zu: rolled back", i);
			}
		}
	}
}

/* ---- settings ---- */

struct scase {
	const char *key, *val;          /* set on the base; val NULL deletes; "#int" stores a JSON integer */
	const char *key2, *val2;
	bool force;
	const char *want;
};

static const char *host_hint = " is not a host name or IP address (e.g. sip.example.com, 192.0.2.10, "
			       "[2001:db8::1]:5061)";

static const struct scase scases[] = {
	{ "port", "0", NULL, NULL, false, "setting port \"0\" is out of range: use 1 to 65535" },
	{ "port", "70000", NULL, NULL, false, "setting port \"70000\" is out of range: use 1 to 65535" },
	{ "port", "-1", NULL, NULL, false, "setting port \"-1\" is out of range: use 1 to 65535" },
	{ "port", "abc", NULL, NULL, false, "setting port \"abc\" is not a number: use 1 to 65535" },
	{ "port", "5060 ", NULL, NULL, false, "setting port \"5060 \" is not a number: use 1 to 65535" },
	{ "port", "", NULL, NULL, false, "setting port \"\" is not a number: use 1 to 65535" },
	{ "expires", "-5", NULL, NULL, false, "setting expires \"-5\" is out of range: use 30 to 86400" },
	{ "expires", "10", NULL, NULL, false, "setting expires \"10\" is out of range: use 30 to 86400" },
	{ "expires", "90000", NULL, NULL, false, "setting expires \"90000\" is out of range: use 30 to 86400" },
	{ "keepalive", "4000", NULL, NULL, false, "setting keepalive \"4000\" is out of range: use 0 to 3600" },
	{ "transport", "sctp", NULL, NULL, false, "setting transport \"sctp\" is not one of udp, tcp, tls" },
	{ "transport", "TLS", NULL, NULL, false, "setting transport \"TLS\" is not one of udp, tcp, tls" },
	{ "srtp", "maybe", NULL, NULL, false, "setting srtp \"maybe\" is not one of off, optional, required" },
	{ "dns_mode", "aaaa", NULL, NULL, false, "setting dns_mode \"aaaa\" is not one of a, srv" },
	{ "tls_verify", "yes", NULL, NULL, false, "setting tls_verify \"yes\" is not one of off, on" },
	{ "transport", "tls", NULL, NULL, false,
	  "transport \"tls\" and port 5060 contradict each other: 5060 is plain SIP (udp/tcp); use port=5061 for "
	  "tls, or pass --force" },
	{ "port", "5061", NULL, NULL, false,
	  "transport \"udp\" and port 5061 contradict each other: 5061 is SIP over TLS; use transport=tls or "
	  "port=5060, or pass --force" },
	{ "port", "5061", "transport", "tcp", false,
	  "transport \"tcp\" and port 5061 contradict each other: 5061 is SIP over TLS; use transport=tls or "
	  "port=5060, or pass --force" },
	{ "port", NULL, "transport", "tls", false,   /* base server is sip.example.com:5060 */
	  "transport \"tls\" and port 5060 contradict each other: 5060 is plain SIP (udp/tcp); use port=5061 for "
	  "tls, or pass --force" },
	{ "server", "bad host!", NULL, NULL, false, "setting server \"bad host!\"%s" },
	{ "server", "sip..example.com", NULL, NULL, false, "setting server \"sip..example.com\"%s" },
	{ "server", "-sip.example.com", NULL, NULL, false, "setting server \"-sip.example.com\"%s" },
	{ "server", "sip-.example.com", NULL, NULL, false, "setting server \"sip-.example.com\"%s" },
	{ "server", "sip.example.com:0", NULL, NULL, false, "setting server \"sip.example.com:0\"%s" },
	{ "server", "sip.example.com:70000", NULL, NULL, false, "setting server \"sip.example.com:70000\"%s" },
	{ "server", "sip.example.com:", NULL, NULL, false, "setting server \"sip.example.com:\"%s" },
	{ "server", "", NULL, NULL, false, "setting server \"\"%s" },
	{ "registrar", "999.1.1.1", NULL, NULL, false, "setting registrar \"999.1.1.1\"%s" },
	{ "registrar", "sip:acme.example.com", NULL, NULL, false, "setting registrar \"sip:acme.example.com\"%s" },
	{ "registrar", "user@acme.example.com", NULL, NULL, false, "setting registrar \"user@acme.example.com\"%s" },
	{ "outbound_proxy", "[2001:db8::1", NULL, NULL, false, "setting outbound_proxy \"[2001:db8::1\"%s" },
	{ "outbound_proxy", "[2001:db8::zz]:5060", NULL, NULL, false,
	  "setting outbound_proxy \"[2001:db8::zz]:5060\"%s" },
	{ "backup_server", "sip_backup.example.com", NULL, NULL, false,
	  "setting backup_server \"sip_backup.example.com\"%s" },
	{ "ntp_server", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example.com", NULL, NULL, false,
	  "setting ntp_server \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"%s" },
	{ "server", "sip.example.com\n", NULL, NULL, false,
	  "setting server \"sip.example.com\\n\" contains a control character or invalid UTF-8" },
	{ "vendor.yealink.x", "\xff", NULL, NULL, false,
	  "setting vendor.yealink.x \"\\xff\" contains a control character or invalid UTF-8" },
	{ "timezone", "Europe/Berlin City", NULL, NULL, false,
	  "setting timezone \"Europe/Berlin City\" contains a space" },
	{ "foo", "bar", NULL, NULL, false,
	  "unknown setting 'foo' (known: backup_server, dns_mode, expires, keepalive, ntp_server, outbound_proxy, "
	  "port, registrar, server, srtp, timezone, tls_verify, transport, vendor.*, x.*)" },
	{ "port", "#int", NULL, NULL, false, "setting port must be a string" },
	{ "server", LONG, NULL, NULL, false, "setting server is longer than 255 bytes" },
	/* ---- good ---- */
	{ "registrar", "acme.example.com", NULL, NULL, false, NULL },
	{ "transport", "tls", "port", "5061", false, NULL },
	{ "transport", "tls", NULL, NULL, true, NULL },          /* forced contradiction */
	{ "server", "[2001:db8::1]:5061", "transport", "tcp", false, NULL },
	{ "outbound_proxy", "2001:db8::1", NULL, NULL, false, NULL },
	{ "outbound_proxy", "192.0.2.10:5060", NULL, NULL, false, NULL },
	{ "server", "sip.example.com.", NULL, NULL, false, NULL },
	{ "vendor.yealink.account.x", "\xe2\x98\x8e ok", NULL, NULL, false, NULL },
	{ "port", NULL, "server", "sip.example.com", false, NULL },
};

static void set_kv(json_t *o, const char *k, const char *v)
{
	if (!k)
		return;
	if (!v)
		json_object_del(o, k);
	else if (!strcmp(v, "#int"))
		json_object_set_new(o, k, json_integer(5060));
	else if (!strcmp(v, LONG)) {
		char big[300];
		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		json_object_set_new(o, k, json_string(big));
	} else
		json_object_set_new(o, k, json_string_nocheck(v));
}

static void settings_cases(void)
{
	for (size_t i = 0; i < sizeof(scases) / sizeof(scases[0]); i++) {
		const struct scase *c = &scases[i];
		json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "registrar", "acme.example.com", "server",
				      "sip.example.com:5060", "port", "5060", "transport", "udp", "expires", "3600");
		char err[SP_ERR_MAX] = "", want[SP_ERR_MAX], before[65], *canon = NULL;
		int rc = -1;

		set_kv(o, c->key, c->val);
		set_kv(o, c->key2, c->val2);
		if (c->want) {
			/* "%s" in a wanted error stands for the host hint. */
			const char *pct = strstr(c->want, "%s");
			if (pct)
				snprintf(want, sizeof(want), "%.*s%s%s", (int)(pct - c->want), c->want, host_hint, pct + 2);
			else
				sp_strlcpy(want, c->want, sizeof(want));
		}
		sp_strlcpy(before, digest(), sizeof(before));
		store_begin(s);
		if (validate_settings(o, c->force, err, sizeof(err)) == 0 &&
		    (canon = settings_canonical(o, err, sizeof(err))) != NULL)
			rc = store_tversion_add(s, acme.id, "main", canon, "test", "", NULL, err, sizeof(err));
		if (c->want) {
			store_rollback(s);
			is_int(rc, -1, "settings case %zu refused", i);
			is_str(err, want, "settings case %zu error", i);
			is_str(digest(), before, "settings case %zu: database unchanged", i);
		} else {
			is_int(rc, 0, "settings case %zu accepted%s%s", i, err[0] ? ": " : "", err);
			ok(strcmp(digest(), before) != 0, "settings case %zu: a version was written", i);
			store_rollback(s);
		}
		free(canon);
		json_decref(o);
	}
	/* The forced case is still a contradiction: what callers audit-log. */
	json_t *o = json_pack("{s:s,s:s}", "transport", "tls", "port", "5060");
	char why[SP_ERR_MAX];
	ok(validate_settings_contradiction(o, why, sizeof(why)), "forced contradiction is reported for the audit");
	json_decref(o);
}

/* ---- tenant policy ---- */

struct tcase {
	const char *slug, *upat, *apat, *auth, *cidrs;
	long max;
	const char *want;
};

static const struct tcase tcases[] = {
	{ "Acme", "", "", "digest", "", 0, "tenant slug \"Acme\" is not valid: use 1 to 63 of a-z, 0-9 and '-'" },
	{ "", "", "", "digest", "", 0, "tenant slug \"\" is not valid: use 1 to 63 of a-z, 0-9 and '-'" },
	{ "a_b", "", "", "digest", "", 0, "tenant slug \"a_b\" is not valid: use 1 to 63 of a-z, 0-9 and '-'" },
	{ "gamma", "[0-9", "", "digest", "", 0,
	  "tenant gamma: username_pattern \"[0-9\" is not a POSIX extended regular expression: "
	  "Unmatched [, [^, [:, [., or [=" },
	{ "gamma", "", "(a", "digest", "", 0,
	  "tenant gamma: auth_username_pattern \"(a\" is not a POSIX extended regular expression: "
	  "Unmatched ( or \\(" },
	{ "gamma", "", "", "digest,password", "", 0,
	  "tenant gamma: device_auth \"password\" is not one of none, digest, mtls, token" },
	{ "gamma", "", "", "", "", 0, "tenant gamma: device_auth is empty: use a comma list of none, digest, mtls, token" },
	{ "gamma", "", "", "digest", "10.0.0.0/33", 0,
	  "tenant gamma: allowed source \"10.0.0.0/33\" is not an address or CIDR (e.g. 192.0.2.0/24, 2001:db8::/32)" },
	{ "gamma", "", "", "digest", "192.0.2.0/24, 300.1.1.1", 0,
	  "tenant gamma: allowed source \"300.1.1.1\" is not an address or CIDR (e.g. 192.0.2.0/24, 2001:db8::/32)" },
	{ "gamma", "", "", "digest", "2001:db8::/129", 0,
	  "tenant gamma: allowed source \"2001:db8::/129\" is not an address or CIDR (e.g. 192.0.2.0/24, "
	  "2001:db8::/32)" },
	{ "gamma", "", "", "digest", "", -1, "tenant gamma: max_per_user -1 must be 0 (unlimited) or more" },
	/* good */
	{ "gamma", "^[0-9]{3,6}$", "^[a-z0-9]{8}$", "digest, mtls", "192.0.2.0/24, 2001:db8::/32, 127.0.0.1", 3, NULL },
};

static void tenant_cases(void)
{
	for (size_t i = 0; i < sizeof(tcases) / sizeof(tcases[0]); i++) {
		const struct tcase *c = &tcases[i];
		struct tenant t;
		char err[SP_ERR_MAX] = "", before[65];
		int rc;
		memset(&t, 0, sizeof(t));
		sp_strlcpy(t.slug, c->slug, sizeof(t.slug));
		sp_strlcpy(t.username_pattern, c->upat, sizeof(t.username_pattern));
		sp_strlcpy(t.auth_username_pattern, c->apat, sizeof(t.auth_username_pattern));
		sp_strlcpy(t.device_auth, c->auth, sizeof(t.device_auth));
		sp_strlcpy(t.allow_cidrs, c->cidrs, sizeof(t.allow_cidrs));
		t.max_per_user = c->max;
		sp_strlcpy(before, digest(), sizeof(before));
		store_begin(s);
		rc = validate_tenant(&t, err, sizeof(err));
		if (rc == 0)
			rc = store_tenant_add(s, &t, err, sizeof(err));
		if (c->want) {
			store_rollback(s);
			is_int(rc, -1, "tenant case %zu refused", i);
			is_str(err, c->want, "tenant case %zu error", i);
			is_str(digest(), before, "tenant case %zu: database unchanged", i);
		} else {
			is_int(rc, 0, "tenant case %zu accepted%s%s", i, err[0] ? ": " : "", err);
			store_rollback(s);
		}
	}
}

/* ---- hosts, effective config, speed ---- */

static void host_cases(void)
{
	static const char *good[] = { "sip.example.com", "a", "192.0.2.1", "192.0.2.1:5060", "[::1]", "[::1]:5061",
				      "::1", "xn--bcher-kva.example", "sip.example.com.", "10-0-0-1.example.net" };
	static const char *bad[] = { "", ".", "a..b", "-a", "a-", "a b", "a_b", "1.2.3", "1.2.3.4.5", "256.1.1.1",
				     "[::1", "[::1]x", "[::1]:", "::g", "host:port", "host:99999", "host:-1",
				     "a.-b.c", "sip:host", "host/path" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(validate_host(good[i]), "host '%s' is valid", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(!validate_host(bad[i]), "host '%s' is refused", bad[i]);
	char label[80];
	memset(label, 'a', 64);
	sp_strlcpy(label + 64, ".com", sizeof(label) - 64);
	ok(!validate_host(label), "a 64-byte label is refused");
	memmove(label, label + 1, strlen(label + 1) + 1);
	ok(validate_host(label), "a 63-byte label is fine");
	ok(!validate_host(NULL), "NULL host is refused");
}

static void effective_cases(void)
{
	struct effective e;
	char err[SP_ERR_MAX];
	memset(&e, 0, sizeof(e));
	e.tenant = acme;
	sp_strlcpy(e.device.mac, A3, sizeof(e.device.mac));
	sp_strlcpy(e.version_label, "acme-main@v3", sizeof(e.version_label));
	e.settings = json_pack("{s:s,s:s}", "transport", "tls", "port", "5060");
	e.naccounts = 1;
	e.accounts[0].line = 1;
	sp_strlcpy(e.accounts[0].username, "2001", sizeof(e.accounts[0].username));
	sp_strlcpy(e.accounts[0].auth_username, "z9y8x7w6", sizeof(e.accounts[0].auth_username));
	sp_strlcpy(e.accounts[0].password, "pw", sizeof(e.accounts[0].password));
	is_int(validate_effective(&e, err, sizeof(err)), 0, "effective: a forced contradiction is served");
	json_object_set_new(e.settings, "port", json_string("0"));
	is_int(validate_effective(&e, err, sizeof(err)), -1, "effective: port 0 is not served");
	is_str(err, "device 0c:38:3e:07:e1:6c (acme-main@v3): setting port \"0\" is out of range: use 1 to 65535",
	       "effective: error names device and version");
	json_object_set_new(e.settings, "port", json_string("5061"));
	sp_strlcpy(e.accounts[0].username, "k8f2m1x9", sizeof(e.accounts[0].username));
	sp_strlcpy(e.accounts[0].auth_username, "1001", sizeof(e.accounts[0].auth_username));
	is_int(validate_effective(&e, err, sizeof(err)), -1, "effective: swapped account is not served");
	is_str(err, PA "auth_username \"1001\" matches tenant acme's username pattern ^[0-9]{3,6}$ and username "
	       "\"k8f2m1x9\" matches its auth-username pattern: username and auth_username look swapped",
	       "effective: swap error");
	sp_strlcpy(e.accounts[0].username, "2001", sizeof(e.accounts[0].username));
	sp_strlcpy(e.accounts[0].auth_username, "z9y8x7w6", sizeof(e.accounts[0].auth_username));
	sp_strlcpy(e.accounts[0].display_name, "A\r\nB", sizeof(e.accounts[0].display_name));
	is_int(validate_effective(&e, err, sizeof(err)), -1, "effective: CR/LF display name is not served");
	json_decref(e.settings);
}

/* Import validates one row per account inside one transaction: the
 * database rules must be indexed lookups, not scans of the tenant. */
static void speed(void)
{
	char err[SP_ERR_MAX], mac[13];
	struct timespec t0, t1;
	int fails = 0;
	const int n = 20000;
	store_begin(s);
	for (int i = 0; i < n; i++) {
		snprintf(mac, sizeof(mac), "0200%08x", i);
		int64_t d = add_device(mac, &beta);
		char u[32], a[32];
		snprintf(u, sizeof(u), "u%d", i);
		snprintf(a, sizeof(a), "a%d", i);
		add_account(d, 1, u, a);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		struct account acc;
		memset(&acc, 0, sizeof(acc));
		acc.line = 2;
		snprintf(acc.username, sizeof(acc.username), "n%d", i);
		snprintf(acc.auth_username, sizeof(acc.auth_username), "m%d", i);
		sp_strlcpy(acc.password, "pw", sizeof(acc.password));
		snprintf(mac, sizeof(mac), "0200%08x", i);
		if (validate_account(s, &beta, mac, &acc, err, sizeof(err)) < 0)
			fails++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	store_rollback(s);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	is_int(fails, 0, "%d validations against %d accounts pass", n, n);
	ok(secs < 2.0 * TAP_SLOWDOWN, "%d validations took %.3f s (indexed lookups, < %d s)", n, secs,
	   2 * TAP_SLOWDOWN);
}

int main(void)
{
	char err[SP_ERR_MAX];
	s = store_open(":memory:", err, sizeof(err));
	if (!ok(s != NULL, "store opens: %s", s ? "" : err))
		return tap_done();
	seed();
	account_cases();
	settings_cases();
	tenant_cases();
	host_cases();
	effective_cases();
	speed();
	store_close(s);
	validate_cleanup();
	return tap_done();
}
