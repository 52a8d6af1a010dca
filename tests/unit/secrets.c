/*
 * secrets.c (unit): what the database holds without the key.  The strict
 * key file reader, the key check value, tokens and HA1 sealed at rest
 * (raw columns inspected), the one-time conversion of a database written
 * by the pre-005 code, token URLs redacted in fetch_log, private file
 * modes whatever the umask, and api_token_file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "core/sipprov.h"
#include "support/store_test.h"

#define TOKEN "00112233445566778899aabbccddeeff"
#define HA1_MD5 "0123456789abcdef0123456789abcdef"
#define HA1_SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void test_key_file(const char *dir)
{
	static const struct { const char *name, *text; int ok; } cases[] = {
		{ "canonical", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n", 1 },
		{ "upper case, no newline", "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF", 1 },
		{ "CRLF", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n", 1 },
		{ "9z (sscanf read 0x09)", "9z23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n", 0 },
		{ "+1 (sscanf read 0x01)", "+123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n", 0 },
		{ "leading space", " 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n", 0 },
		{ "truncated", "0123456789abcdef\n", 0 },
		{ "trailing garbage", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\nxx", 0 },
		{ "65 digits", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0\n", 0 },
		{ "empty", "", 0 },
	};
	char path[512], err[SP_ERR_MAX];
	unsigned char key[SP_KEY_LEN];
	snprintf(path, sizeof(path), "%s/hex.key", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unlink(path);
		write_file(path, cases[i].text, 0600);
		err[0] = '\0';
		int rc = secret_key_load(path, key, err, sizeof(err));
		if (cases[i].ok)
			ok(rc == 0 && key[0] == 0x01 && key[1] == 0x23 && key[31] == 0xef, "key file %s: loads", cases[i].name);
		else
			ok(rc < 0 && strstr(err, "malformed") && strstr(err, path), "key file %s: refused (%s)",
			   cases[i].name, err);
	}
}

/* A tenant, a template, a device with HA1 and an account with a token. */
static int64_t seed(struct store *s, const unsigned char key[SP_KEY_LEN], struct device *d, char *err, size_t errlen)
{
	struct tenant t = { 0 };
	struct account a = { 0 };
	sp_strlcpy(t.slug, "acme", sizeof(t.slug));
	if (store_tenant_add(s, &t, err, errlen) < 0 || store_tenant_get(s, "acme", &t) != 1 ||
	    store_tversion_add(s, t.id, "main", "{\"port\":\"5060\",\"registrar\":\"a.test\",\"transport\":\"udp\"}",
			       "me", "", NULL, err, errlen) < 0)
		return -1;
	memset(d, 0, sizeof(*d));
	sp_strlcpy(d->mac, "0015654aa937", sizeof(d->mac));
	d->tenant_id = t.id;
	sp_strlcpy(d->layout, "yealink", sizeof(d->layout));
	sp_strlcpy(d->template_name, "main", sizeof(d->template_name));
	sp_strlcpy(d->http_user, d->mac, sizeof(d->http_user));
	sp_strlcpy(d->ha1_md5, HA1_MD5, sizeof(d->ha1_md5));
	sp_strlcpy(d->ha1_sha256, HA1_SHA, sizeof(d->ha1_sha256));
	if (store_device_add(s, d, err, errlen) < 0)
		return -1;
	a.device_id = d->id;
	a.line = 1;
	sp_strlcpy(a.username, "1001", sizeof(a.username));
	sp_strlcpy(a.auth_username, "k8f2m1x9", sizeof(a.auth_username));
	char *enc = secret_encrypt(key, "sippw");
	sp_strlcpy(a.password_enc, enc, sizeof(a.password_enc));
	free(enc);
	sp_strlcpy(a.token, TOKEN, sizeof(a.token));
	if (store_account_add(s, &a, err, errlen) < 0)
		return -1;
	return a.id;
}

static void test_sealed(const char *dir)
{
	char path[512], err[SP_ERR_MAX] = "", raw[512];
	unsigned char key[SP_KEY_LEN], other[SP_KEY_LEN];
	struct device d;
	struct account a;
	memset(key, 0x42, sizeof(key));
	memset(other, 0x43, sizeof(other));
	snprintf(path, sizeof(path), "%s/sealed.db", dir);

	struct store *s = store_open(path, err, sizeof(err));
	struct device nd = { 0 };
	sp_strlcpy(nd.mac, "001565000000", sizeof(nd.mac));
	sp_strlcpy(nd.ha1_md5, HA1_MD5, sizeof(nd.ha1_md5));
	sp_strlcpy(nd.ha1_sha256, HA1_SHA, sizeof(nd.ha1_sha256));
	ok(store_device_add(s, &nd, err, sizeof(err)) < 0 && strstr(err, "need the key file"),
	   "without the key, HA1 is not written: %s", err);
	ok(store_use_key(s, key, err, sizeof(err)) == 0, "first keyed open: %s", err);
	ok(store_test_text(s, "SELECT key_check FROM secret_state", raw, sizeof(raw)) == 1 && strlen(raw) == 64,
	   "a key check value is stored");
	ok(seed(s, key, &d, err, sizeof(err)) > 0, "device with HA1 and account with token written: %s", err);

	/* What the file holds. */
	store_test_text(s, "SELECT coalesce(token, 'NULL') FROM account", raw, sizeof(raw));
	is_str(raw, "NULL", "account.token (plaintext column) stays NULL");
	store_test_text(s, "SELECT token_hash || '|' || token_enc FROM account", raw, sizeof(raw));
	ok(!strstr(raw, TOKEN) && strlen(raw) > 64, "token_hash and token_enc do not contain the token");
	store_test_text(s, "SELECT ha1_md5 || ha1_sha256 || '|' || ha1_enc FROM device", raw, sizeof(raw));
	ok(raw[0] == '|' && !strstr(raw, HA1_MD5) && !strstr(raw, "0123456789abcdef"),
	   "HA1 columns empty, ha1_enc holds no HA1 hex");
	store_test_text(s, "SELECT group_concat(password_enc || token_hash || token_enc, '') FROM account", raw,
			sizeof(raw));
	ok(!strstr(raw, "sippw"), "no plaintext password");

	/* Read back with the key. */
	ok(store_device_get(s, "0015654aa937", &d) == 1 && !strcmp(d.ha1_md5, HA1_MD5) &&
	   !strcmp(d.ha1_sha256, HA1_SHA), "HA1 opened on read with the key");
	ok(store_account_get_token(s, TOKEN, &a) == 1 && a.line == 1 && !strcmp(a.token, TOKEN),
	   "token found by its keyed hash, and shown again");
	store_test_text(s, "SELECT token_hash FROM account", raw, sizeof(raw));
	ok(store_account_get_token(s, raw, &a) == 0, "the stored hash is not a token");
	char t2[SP_TOKEN_HEX + 1] = "ffeeddccbbaa99887766554433221100";
	ok(store_account_get_token(s, t2, &a) == 0, "an unknown token: none");
	/* Update keeps the token (re-sealed) and the lookup still works. */
	ok(store_account_get_line(s, d.id, 1, &a) == 1, "line read");
	sp_strlcpy(a.display_name, "Ann", sizeof(a.display_name));
	ok(store_account_update(s, &a, err, sizeof(err)) == 0 && store_account_get_token(s, TOKEN, &a) == 1 &&
	   !strcmp(a.display_name, "Ann"), "update re-seals; lookup still works");
	long g = store_config_gen(s);
	sp_strlcpy(a.token, t2, sizeof(a.token));
	ok(store_account_update(s, &a, err, sizeof(err)) == 0 && store_account_get_token(s, t2, &a) == 1 &&
	   store_account_get_token(s, TOKEN, &a) == 0, "a rotated token replaces the old one");
	ok(store_config_gen(s) > g, "a token change bumps the config generation");
	store_fetch_record(s, d.id, "127.0.0.1", "Linphone", "/s/" TOKEN, 200, 1, "d1");
	store_test_text(s, "SELECT path FROM fetch_log ORDER BY id DESC LIMIT 1", raw, sizeof(raw));
	is_str(raw, "/s/<redacted>", "fetch_log keeps the token URL redacted");
	store_close(s);

	/* Without the key: nothing secret comes out; with a wrong key: refused. */
	s = store_open(path, err, sizeof(err));
	ok(store_device_get(s, "0015654aa937", &d) == 1 && !d.ha1_md5[0] && d.ha1_enc[0],
	   "no key: HA1 not opened (credentials still known to exist)");
	ok(store_account_get_line(s, d.id, 1, &a) == 1 && !a.token[0] && a.token_hash[0], "no key: token not opened");
	ok(store_account_get_token(s, t2, &a) < 0, "no key: no token lookup");
	ok(store_use_key(s, other, err, sizeof(err)) < 0 && strstr(err, "key check failed"),
	   "a wrong key is refused: %s", err);
	ok(store_account_get_token(s, t2, &a) < 0, "and not kept");
	ok(store_use_key(s, key, err, sizeof(err)) == 0 && store_account_get_token(s, t2, &a) == 1,
	   "the right key still works");
	store_close(s);
}

/* A database as the pre-005 code wrote it: schema 001..004, token and HA1
 * in plaintext, the token URL in fetch_log. */
static void test_legacy(const char *dir)
{
	char path[512], err[SP_ERR_MAX] = "", raw[512], sql[4096];
	unsigned char key[SP_KEY_LEN], other[SP_KEY_LEN];
	struct device d;
	struct account a;
	memset(key, 0x42, sizeof(key));
	memset(other, 0x43, sizeof(other));
	snprintf(path, sizeof(path), "%s/legacy.db", dir);
	char *enc = secret_encrypt(key, "sippw");
	snprintf(sql, sizeof(sql),
		 "INSERT INTO tenant (id, slug, created) VALUES (1, 'acme', 0);"
		 "INSERT INTO template (id, tenant_id, name, current, created) VALUES (1, 1, 'main', 1, 0);"
		 "INSERT INTO template_version (template_id, number, settings, sha256, author, created) VALUES "
		 "(1, 1, '{\"port\":\"5060\",\"registrar\":\"a.test\",\"transport\":\"udp\"}', '', 'me', 0);"
		 "INSERT INTO device (id, mac, tenant_id, layout, template, http_user, ha1_md5, ha1_sha256, "
		 "fetched_digest, created) VALUES (1, '0015654aa937', 1, 'linphone', 'main', '0015654aa937', '%s', "
		 "'%s', 'abc', 0);"
		 "INSERT INTO device (id, mac, tenant_id, layout, created) VALUES (2, '001565000002', 1, 'yealink', 0);"
		 "INSERT INTO account (device_id, line, username, auth_username, password_enc, token) VALUES "
		 "(1, 1, '1001', 'k8f2m1x9', '%s', '" TOKEN "');"
		 "INSERT INTO fetch_log (device_id, at, ip, path, status, digest) VALUES "
		 "(1, 0, '127.0.0.1', '/s/" TOKEN "', 200, 'unkeyed'), (2, 0, '127.0.0.1', '/001565000002.cfg', 200, 'x');",
		 HA1_MD5, HA1_SHA, enc);
	free(enc);
	ok(store_test_create_at(path, 4, sql, err, sizeof(err)) == 0, "legacy database built: %s", err);

	struct store_migrated m;
	ok(store_migrate(path, &m, err, sizeof(err)) == 0 && m.from == 4, "migrates: %s", err);
	struct store *s = store_open(path, err, sizeof(err));
	ok(s != NULL, "opens: %s", s ? "" : err);
	if (!s)
		return;
	store_test_text(s, "SELECT token FROM account", raw, sizeof(raw));
	is_str(raw, TOKEN, "before the keyed open the legacy token is still there (SQL has no key)");
	store_test_text(s, "SELECT digest FROM fetch_log WHERE device_id = 1", raw, sizeof(raw));
	is_str(raw, "", "the migration drops unkeyed body digests");
	ok(store_use_key(s, other, err, sizeof(err)) < 0 && strstr(err, "does not decrypt the stored passwords"),
	   "legacy database, wrong key: refused by its passwords (%s)", err);
	store_test_text(s, "SELECT token || key_check FROM account, secret_state", raw, sizeof(raw));
	is_str(raw, TOKEN, "a refused key converts and records nothing");
	ok(store_use_key(s, key, err, sizeof(err)) == 0, "the right key: converted (%s)", err);

	store_test_text(s, "SELECT coalesce(token, 'NULL') || '|' || token_enc FROM account", raw, sizeof(raw));
	ok(!strncmp(raw, "NULL|", 5) && !strstr(raw, TOKEN), "legacy token sealed, plaintext gone");
	store_test_text(s, "SELECT ha1_md5 || ha1_sha256 || '|' || ha1_enc FROM device WHERE id = 1", raw, sizeof(raw));
	ok(raw[0] == '|' && strlen(raw) > 100 && !strstr(raw, "0123456789abcdef"), "legacy HA1 sealed, plaintext gone");
	store_test_text(s, "SELECT group_concat(path, ' ') FROM fetch_log", raw, sizeof(raw));
	is_str(raw, "/s/<redacted> /001565000002.cfg", "legacy fetch_log token URL redacted, MAC paths kept");
	store_test_text(s, "SELECT fetched_digest FROM device WHERE id = 1", raw, sizeof(raw));
	is_str(raw, "", "unkeyed device.fetched_digest dropped");
	ok(store_account_get_token(s, TOKEN, &a) == 1 && !strcmp(a.token, TOKEN), "the old token URL still works");
	ok(store_device_get(s, "0015654aa937", &d) == 1 && !strcmp(d.ha1_md5, HA1_MD5) && !strcmp(d.ha1_sha256, HA1_SHA),
	   "the old HTTP credentials still work");
	store_test_text(s, "SELECT key_check || ':' || converted FROM secret_state", raw, sizeof(raw));
	ok(strlen(raw) == 66 && !strcmp(raw + 64, ":1"), "key check recorded, conversion marked done");
	store_close(s);
	s = store_open(path, err, sizeof(err));
	ok(store_use_key(s, other, err, sizeof(err)) < 0 && strstr(err, "key check failed"),
	   "afterwards a wrong key fails the key check");
	store_close(s);

	/* A legacy database with no account yet: any key is taken and recorded. */
	snprintf(path, sizeof(path), "%s/legacy-empty.db", dir);
	ok(store_test_create_at(path, 4, "SELECT 1", err, sizeof(err)) == 0, "empty legacy database");
	ok(store_migrate(path, &m, err, sizeof(err)) == 0, "migrated: %s", err);
	s = store_open(path, err, sizeof(err));
	ok(store_use_key(s, other, err, sizeof(err)) == 0, "no password to check against: key recorded");
	store_close(s);
}

static void test_redact(void)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "/s/" TOKEN, "/s/<redacted>" },
		{ "/0015654aa937.cfg", "/0015654aa937.cfg" },
		{ "/cfg000b828aa872.xml", "/cfg000b828aa872.xml" },
		{ "/s/" TOKEN "x/../" TOKEN, "/s/<redacted>x/../<redacted>" },
		{ "/s/0011223344556677", "/s/<redacted>" },
		{ "/s/001122334455667", "/s/001122334455667" },
		{ "/S/00112233445566778899AABBCCDDEEFF", "/S/<redacted>" },
		{ "", "" },
	};
	char out[64];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sp_redact_path(cases[i].in, out, sizeof(out));
		is_str(out, cases[i].out, "redact '%s'", cases[i].in);
	}
	char small[8];
	sp_redact_path("/s/" TOKEN, small, sizeof(small));
	is_str(small, "/s/<red", "truncates to the buffer, never writes the token");
}

static void test_modes(const char *dir)
{
	char path[512], p[600], err[SP_ERR_MAX];
	struct stat st;
	mode_t old = umask(022);
	snprintf(path, sizeof(path), "%s/modes.db", dir);
	struct store *s = store_open(path, err, sizeof(err));
	struct tenant t = { 0 };
	sp_strlcpy(t.slug, "m", sizeof(t.slug));
	store_tenant_add(s, &t, err, sizeof(err));
	const char *sfx[] = { "", "-wal", "-shm" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		ok(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600, "umask 022: database%s created 0600 (%o)", sfx[i],
		   (unsigned)(st.st_mode & 0777));
	}
	unsigned mode = 0;
	ok(!private_readable(path, &mode) && mode == 0600, "private_readable: 0600 is private");
	chmod(path, 0660);
	ok(!private_readable(path, &mode) && mode == 0660, "private_readable: 0660 is the service group's, not others'");
	chmod(path, 0644);
	ok(private_readable(path, &mode) && mode == 0644, "private_readable: 0644 is readable");
	store_close(s);
	snprintf(p, sizeof(p), "%s/access.log", dir);
	FILE *f = private_append_open(p);
	ok(f && stat(p, &st) == 0, "log file opened");
	is_int(st.st_mode & 0777, 0600, "umask 022: a log file is created 0600");
	if (f)
		fclose(f);
	umask(old);
}

static void test_api_token_file(const char *dir)
{
	struct conf c;
	char path[512], kv[600], err[SP_ERR_MAX];
	snprintf(path, sizeof(path), "%s/api.token", dir);
	write_file(path, "s3cr3t-Token_1\n", 0600);
	conf_init(&c);
	snprintf(kv, sizeof(kv), "api_token_file=%s", path);
	ok(conf_set(&c, kv, err, sizeof(err)) == 0 && conf_finish(&c, err, sizeof(err)) == 0 &&
	   !strcmp(c.api_token, "s3cr3t-Token_1"), "api_token read from api_token_file");
	conf_init(&c);
	conf_set(&c, kv, err, sizeof(err));
	conf_set(&c, "api_token=other", err, sizeof(err));
	ok(conf_finish(&c, err, sizeof(err)) < 0 && strstr(err, "not both"), "both set: refused (%s)", err);
	chmod(path, 0604);
	conf_init(&c);
	conf_set(&c, kv, err, sizeof(err));
	ok(conf_finish(&c, err, sizeof(err)) < 0 && strstr(err, "readable by others"), "world-readable: refused");
	write_file(path, "\n", 0640);
	conf_init(&c);
	conf_set(&c, kv, err, sizeof(err));
	ok(conf_finish(&c, err, sizeof(err)) < 0 && strstr(err, "empty"), "empty: refused (0640 is fine)");
	write_file(path, "a b\n", 0600);
	conf_init(&c);
	conf_set(&c, kv, err, sizeof(err));
	ok(conf_finish(&c, err, sizeof(err)) < 0 && strstr(err, "space"), "a space in the token: refused");
	write_file(path, "one\ntwo\n", 0600);
	conf_init(&c);
	conf_set(&c, kv, err, sizeof(err));
	ok(conf_finish(&c, err, sizeof(err)) < 0 && strstr(err, "one line"), "two lines: refused");
	conf_init(&c);
	ok(conf_finish(&c, err, sizeof(err)) == 0 && !c.api_token[0], "neither set: no token");
}

int main(void)
{
	char dir[] = "/tmp/sipprov-secrets.XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	log_init(LOG_LVL_ERR, false);
	test_key_file(dir);
	test_sealed(dir);
	test_legacy(dir);
	test_redact();
	test_modes(dir);
	test_api_token_file(dir);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return tap_done();
}
