/*
 * cmd_init.c: `sipprov init` (database, key file, default config) and
 * `sipprov demo` (an example tenant with a template and devices, or N
 * generated devices for benchmarks).  Init is safe to re-run: it creates
 * what is missing, never migrates (sipprov migrate does), and never
 * replaces an existing key.  Run by root into a folder another
 * user owns (the service's state folder), it gives that user what it made.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "core/sipprov.h"

static int write_default_conf(const char *path, const char *db, const char *templates)
{
	char abs_db[4096], abs_tpl[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return errno == EEXIST ? 0 : -1;
	FILE *f = fdopen(fd, "w");
	if (!realpath(db, abs_db))
		sp_strlcpy(abs_db, db, sizeof(abs_db));
	if (!realpath(templates, abs_tpl))
		sp_strlcpy(abs_tpl, templates, sizeof(abs_tpl));
	fprintf(f, "# sipprovd.conf written by 'sipprov init'; every key is documented in\n"
		   "# etc/sipprovd.conf of the source tree.\n"
		   "database = %s\ntemplates = %s\nhttp_listen = 127.0.0.1:8080\nhep_listen = 127.0.0.1:9060\n"
		   "log_level = info\naccess_log = -\n"
		   "# HTTPS: set https_listen, tls_cert and tls_key.  Prefer an ECDSA P-256\n"
		   "# certificate where the phones accept one (its signature, one per full\n"
		   "# handshake, costs ~1/11 of an RSA-2048 one here); keep RSA-2048 for\n"
		   "# phones whose firmware offers no ECDHE-ECDSA cipher suite.  See\n"
		   "# etc/sipprovd.conf for an openssl command.\n",
		abs_db, abs_tpl);
	return fclose(f);
}

/* root creating files in a folder owned by someone else (sipprov's
 * /var/lib/sipprov): hand PATH to the folder's owner and group, or sipprovd,
 * running as that user, could not read its own key. */
static int give_to_folder_owner(const char *path, mode_t mode)
{
	char dir[4096];
	struct stat st;
	if (geteuid() != 0)
		return 0;
	sp_strlcpy(dir, path, sizeof(dir));
	char *slash = strrchr(dir, '/');
	if (!slash)
		sp_strlcpy(dir, ".", sizeof(dir));
	else
		slash[slash == dir] = '\0';
	if (stat(dir, &st) < 0 || st.st_uid == 0)
		return 0;
	if (chown(path, st.st_uid, st.st_gid) < 0 || chmod(path, mode) < 0)
		return cli_fail("cannot give '%s' to the owner of '%s': %s", path, dir, strerror(errno));
	printf("gave %s to uid %u gid %u (the owner of %s), mode %04o\n", path, (unsigned)st.st_uid,
	       (unsigned)st.st_gid, dir, (unsigned)mode);
	return 0;
}

int cmd_init(struct cli *c, int argc, char **argv)
{
	char kp[SP_FIELD_MAX + 8], err[SP_ERR_MAX];
	bool pg = store_is_pg_url(c->db_path);
	bool fresh = !pg && access(c->db_path, F_OK) < 0;
	int rc;
	if (argc)
		return cli_usage("init");
	char shown[SP_FIELD_MAX];
	store_pg_url_redact(c->db_path, shown, sizeof(shown));
	cli_key_path(c, kp, sizeof(kp));
	if (!kp[0])
		return cli_fail("%s", SP_PG_KEY_NAMED);
	/* store_open creates the database 0600 (and so its -wal and -shm). */
	c->store = store_open(c->db_path, err, sizeof(err));
	if (!c->store)
		return cli_fail("%s", err);
	/* The service user reads and writes it; its group (admins) too. */
	if (fresh && strcmp(c->db_path, ":memory:") && (rc = give_to_folder_owner(c->db_path, 0660)))
		return rc;
	if (access(kp, F_OK) < 0) {
		long accounts = 0;
		if (!fresh && store_device_count(c->store, 0, &accounts) == 0 && accounts > 0)
			return cli_fail("database '%s' has devices but its key file '%s' is missing: restore the "
					"key file (passwords cannot be decrypted without it)", shown, kp);
		if (secret_keyfile_create(kp, err, sizeof(err)) < 0)
			return cli_fail("%s", err);
		if ((rc = give_to_folder_owner(kp, 0600)))
			return rc;
		printf("created key file %s (mode 0600; back it up: passwords cannot be decrypted without it)\n", kp);
	}
	/* Writes the key check value (or verifies it on a re-run), and seals
	 * what an older version left in plaintext. */
	if (secret_key_load(kp, c->key, err, sizeof(err)) < 0)
		return cli_fail("%s", err);
	if (store_use_key(c->store, c->key, err, sizeof(err)) < 0)
		return cli_fail("key file '%s' %s", kp, err);
	c->have_key = true;
	/* A database named by a configuration file already has its config; a
	 * PostgreSQL URL (its password) is not written into one unasked. */
	if (!c->conf_file && !pg && write_default_conf("sipprovd.conf", c->db_path, c->templates_dir) < 0)
		fprintf(stderr, "warning: cannot write sipprovd.conf here: %s\n", strerror(errno));
	if (pg)
		printf("initialised database %s (schema %03d)\n", shown,
		       schema_pg_migrations[schema_pg_migration_count - 1].number);
	else
		printf("%s database %s (schema %03d)\n", fresh ? "created" : "kept the", c->db_path,
		       schema_migrations[schema_migration_count - 1].number);
	return 0;
}

/* ---- demo ---- */

struct demo_dev {
	const char *mac, *layout, *model, *label;
	const char *display, *ext, *user, *auth, *pass;
};

static const struct demo_dev demo_devices[] = {
	{ "00:15:65:4a:a9:37", "yealink", "SIP-T46G", "Reception", "Reception", "1001", "1001", "k8f2m1x9", NULL },
	{ "00:04:f2:aa:bb:01", "polycom", "VVX400", "Sales desk", "Sales", "1002", "1002", "p4h7q2w8", NULL },
	{ "00:0b:82:8a:a8:72", "grandstream", "GXP2135", "Warehouse", "Warehouse", "1003", "1003", "g5t8r3e1", NULL },
	{ "02:00:00:00:10:04", "linphone", "Linphone", "Ann's laptop", "Ann <\"O'Brien\"> & Co ☎", "1004",
	  "1004", "l2n6b9v4", NULL },
};

static int demo_account(struct cli *c, const struct tenant *t, const struct device *d, long line,
			const char *display, const char *ext, const char *user, const char *auth, char *token_out)
{
	struct account a;
	char err[SP_ERR_MAX], pass[25];
	memset(&a, 0, sizeof(a));
	a.device_id = d->id;
	a.line = line;
	sp_strlcpy(a.display_name, display, sizeof(a.display_name));
	sp_strlcpy(a.extension, ext, sizeof(a.extension));
	sp_strlcpy(a.username, user, sizeof(a.username));
	sp_strlcpy(a.auth_username, auth, sizeof(a.auth_username));
	if (random_hex(pass, 12) < 0 || random_hex(a.token, SP_TOKEN_HEX / 2) < 0)
		return cli_fail("random number generator failed");
	char *enc = secret_encrypt(c->key, pass);
	secret_wipe(pass, sizeof(pass));
	if (!enc)
		return cli_fail("cannot encrypt password");
	sp_strlcpy(a.password_enc, enc, sizeof(a.password_enc));
	free(enc);
	if (validate_account(c->store, t, d->mac, &a, err, sizeof(err)) < 0 ||
	    store_account_add(c->store, &a, err, sizeof(err)) < 0)
		return cli_fail("%s", err);
	if (token_out)
		sp_strlcpy(token_out, a.token, SP_TOKEN_HEX + 1);
	return 0;
}

/* `demo --devices N`: N generated Yealink/JSON devices, for benchmarks;
 * with an HTTP password, each one's digest credentials are its MAC and
 * that password (the boot-storm benchmark computes the responses). */
static int demo_bulk(struct cli *c, const struct tenant *t, long n, const char *http_password)
{
	char err[SP_ERR_MAX];
	for (long i = 0; i < n; i++) {
		struct device d;
		char user[32], auth[32];
		memset(&d, 0, sizeof(d));
		snprintf(d.mac, sizeof(d.mac), "0015%08x", (unsigned)(0x10000000L + i) & 0xffffffffu);
		d.tenant_id = t->id;
		sp_strlcpy(d.layout, i % 2 ? "json" : "yealink", sizeof(d.layout));
		sp_strlcpy(d.status, "active", sizeof(d.status));
		sp_strlcpy(d.overrides, "{}", sizeof(d.overrides));
		snprintf(d.label, sizeof(d.label), "bench %ld", i);
		if (http_password) {
			char a1[SP_SLUG_MAX + SP_NAME_MAX + 16];
			sp_strlcpy(d.http_user, d.mac, sizeof(d.http_user));
			snprintf(a1, sizeof(a1), "%s:%s:%s", d.http_user, SP_REALM, http_password);
			md5_hex(a1, strlen(a1), d.ha1_md5);
			sha256_hex(a1, strlen(a1), d.ha1_sha256);
		}
		if (store_device_add(c->store, &d, err, sizeof(err)) < 0)
			return cli_fail("%s", err);
		snprintf(user, sizeof(user), "%ld", 200000 + i);
		snprintf(auth, sizeof(auth), "a%lx", 0x5000000L + i);
		int rc = demo_account(c, t, &d, 1, "Bench", user, user, auth, NULL);
		if (rc)
			return rc;
	}
	return 0;
}

int cmd_demo(struct cli *c, int argc, char **argv)
{
	static const char usage[] = "demo [--tenant SLUG] [--devices N [--http-password P]]";
	const char *http_password = NULL;
	const char *slug = "demo";
	long ndev = 0;
	char *pos[1], err[SP_ERR_MAX], tokens[4][SP_TOKEN_HEX + 1];
	int npos, rc;
	struct tenant t;
	struct cli_opt opts[] = {
		{ "--tenant", OPT_STR, &slug, 0, 0 },
		{ "--devices", OPT_LONG, &ndev, 1, 2000000 },
		{ "--http-password", OPT_STR, &http_password, 0, 0 },
		{ NULL, 0, NULL, 0, 0 },
	};
	if ((rc = cli_parse(argc, argv, opts, pos, 0, &npos, usage)))
		return rc;
	if (http_password && (!ndev || !*http_password))
		return cli_fail("--http-password goes with --devices N, and is not empty");
	if ((rc = cli_open_key(c)))
		return rc;
	if (store_tenant_get(c->store, slug, &t) == 1)
		return cli_fail("tenant '%s' already exists (pick another with --tenant)", slug);
	memset(&t, 0, sizeof(t));
	sp_strlcpy(t.slug, slug, sizeof(t.slug));
	sp_strlcpy(t.name, "Demo Co", sizeof(t.name));
	sp_strlcpy(t.status, "active", sizeof(t.status));
	/* Bench tenants serve over loopback without credentials, like nginx's static files. */
	sp_strlcpy(t.device_auth, ndev && !http_password ? "none,token" : "digest,token", sizeof(t.device_auth));
	sp_strlcpy(t.username_pattern, "^[0-9]{3,6}$", sizeof(t.username_pattern));
	sp_strlcpy(t.auth_username_pattern, "^[a-z0-9]{8}$", sizeof(t.auth_username_pattern));
	if (ndev) {   /* generated users run to 7 digits at a million devices */
		t.auth_username_pattern[0] = '\0';
		sp_strlcpy(t.username_pattern, "^[0-9]{3,8}$", sizeof(t.username_pattern));
	}
	sp_strlcpy(t.default_template, "main", sizeof(t.default_template));
	sp_strlcpy(t.defaults, "{}", sizeof(t.defaults));
	if (store_begin(c->store) < 0)
		return cli_fail("%s", store_errmsg(c->store));
	json_t *settings = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "registrar", "sip.demo.test",
				     "server", "sip.demo.test", "port", "5060", "transport", "udp", "expires", "600",
				     "srtp", "optional", "ntp_server", "pool.ntp.org", "timezone", "Europe/Berlin",
				     "dns_mode", "a");
	char *canon = settings_canonical(settings, err, sizeof(err));
	json_decref(settings);
	if (!canon || store_tenant_add(c->store, &t, err, sizeof(err)) < 0 ||
	    store_tenant_get(c->store, slug, &t) != 1 ||
	    store_tversion_add(c->store, t.id, "main", canon, c->actor, "demo template", NULL, err, sizeof(err)) < 0) {
		free(canon);
		store_rollback(c->store);
		return cli_fail("%s", err);
	}
	free(canon);
	if (ndev) {
		rc = demo_bulk(c, &t, ndev, http_password);
	} else {
		for (size_t i = 0; i < sizeof(demo_devices) / sizeof(demo_devices[0]) && !rc; i++) {
			const struct demo_dev *dd = &demo_devices[i];
			struct device d;
			memset(&d, 0, sizeof(d));
			mac_normalize(dd->mac, d.mac);
			d.tenant_id = t.id;
			sp_strlcpy(d.layout, dd->layout, sizeof(d.layout));
			sp_strlcpy(d.model, dd->model, sizeof(d.model));
			sp_strlcpy(d.label, dd->label, sizeof(d.label));
			sp_strlcpy(d.status, "active", sizeof(d.status));
			sp_strlcpy(d.overrides, "{}", sizeof(d.overrides));
			if (store_device_add(c->store, &d, err, sizeof(err)) < 0)
				rc = cli_fail("%s", err);
			else
				rc = demo_account(c, &t, &d, 1, dd->display, dd->ext, dd->user, dd->auth, tokens[i]);
		}
	}
	if (rc == 0 && store_audit(c->store, c->actor, "demo", slug, "", "", ndev ? "bulk" : "example") < 0)
		rc = cli_fail("%s", store_errmsg(c->store));
	if (rc) {
		store_rollback(c->store);
		return rc;
	}
	if (store_commit(c->store) < 0)
		return cli_fail("%s", store_errmsg(c->store));
	if (ndev) {
		printf("tenant %s: %ld devices (MACs 0015%08lx...), template main v1\n", slug, ndev, 0x10000000L);
		return 0;
	}
	const char *base = getenv("SIPPROV_URL");
	if (!base || !*base)
		base = "http://127.0.0.1:8080";
	printf("tenant %s (\"Demo Co\") with template main v1 and %zu devices:\n", slug,
	       sizeof(demo_devices) / sizeof(demo_devices[0]));
	for (size_t i = 0; i < sizeof(demo_devices) / sizeof(demo_devices[0]); i++)
		printf("  %-17s %-11s %s\n", demo_devices[i].mac, demo_devices[i].layout, demo_devices[i].label);
	printf("\nfetch the softphone's config (token URL):\n  curl %s/s/%s\n", base, tokens[3]);
	printf("desk phones use HTTP digest: 'sipprov device credentials 00:15:65:4a:a9:37', then\n"
	       "  curl --digest -u 0015654aa937:PASSWORD %s/0015654aa937.cfg\n", base);
	return 0;
}
