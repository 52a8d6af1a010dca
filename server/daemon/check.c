/*
 * check.c: `sipprovd -n`, everything a start would meet, tried without
 * creating or changing anything: the database (opened read-only: present,
 * a sipprov database, schema not newer, the key file its key; the same of
 * database_replica, whose absence is only a warning; database_copy's
 * folder writable and nothing but an earlier copy at its path), each listen
 * address (bound and closed at once), the TLS certificate and key (loaded
 * and matched by GnuTLS, as libmicrohttpd does at start), the firmware
 * folder (a folder this user can write), render_cache_dir (a warning).  It starts no
 * thread and keeps no socket; the configuration and layouts were loaded by
 * main.c already.
 */
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gnutls/gnutls.h>

#include "check.h"
#include "hep.h"
#include "http.h"
#include "tls_certs.h"
#include "core/sipprov.h"

struct tally { int errors; };

static void problem(struct tally *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct tally *t, const char *fmt, ...)
{
	va_list ap;
	fputs("error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	t->errors++;
}

/* Bind key's address and close it.  "In use" is only a warning: the usual
 * holder is the running sipprovd this check precedes a restart of. */
static void check_bind(struct tally *t, const char *key, const char *listen)
{
	struct sockaddr_storage ss;
	char why[SP_ERR_MAX];
	int one = 1, fd;
	if (!listen[0])
		return;
	if (http_listen_parse(listen, &ss, why, sizeof(why)) < 0) {
		problem(t, "%s: %s", key, why);
		return;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		problem(t, "%s '%s': cannot open a socket", key, listen);
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	socklen_t len = ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		if (errno == EADDRINUSE)
			fprintf(stderr, "warning: %s '%s': address in use (a running sipprovd?); it must be free "
				"when sipprovd starts\n", key, listen);
		else
			problem(t, "%s: cannot bind '%s': %s", key, listen, strerror(errno));
	}
	close(fd);
}

static bool readable(struct tally *t, const char *key, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		problem(t, "%s: cannot read '%s': %s", key, path, strerror(errno));
		return false;
	}
	fclose(f);
	return true;
}

/* The admin listener's pair (admin_tls_cert / admin_tls_key), when set:
 * the checks sipprovd makes when it loads it (tls_certs.c). */
static void check_admin_tls(struct tally *t, const struct conf *c)
{
	char err[SP_ERR_MAX];
	if (!c->admin_listen[0] || (!c->admin_tls_cert[0] && !c->admin_tls_key[0]))
		return;
	bool ok = readable(t, "admin_tls_cert", c->admin_tls_cert);
	if ((readable(t, "admin_tls_key", c->admin_tls_key) && ok) &&
	    tls_certs_check(TLS_ADMIN, c->admin_tls_cert, c->admin_tls_key, err, sizeof(err)) < 0)
		problem(t, "%s", err);
}

static void check_tls(struct tally *t, const struct conf *c)
{
	gnutls_certificate_credentials_t cred;
	char err[SP_ERR_MAX];
	if (!c->https_listen[0])
		return;
	if (!c->tls_cert[0] || !c->tls_key[0]) {
		problem(t, "https_listen needs tls_cert and tls_key");
		return;
	}
	bool ok = readable(t, "tls_cert", c->tls_cert);
	ok = readable(t, "tls_key", c->tls_key) && ok;
	if (c->tls_client_ca[0])
		ok = readable(t, "tls_client_ca", c->tls_client_ca) && ok;
	if (ok && tls_certs_check(TLS_PHONE, c->tls_cert, c->tls_key, err, sizeof(err)) < 0)
		problem(t, "%s", err);
	if (!ok || gnutls_certificate_allocate_credentials(&cred) < 0)
		return;
	if (c->tls_client_ca[0] && gnutls_certificate_set_x509_trust_file(cred, c->tls_client_ca,
									GNUTLS_X509_FMT_PEM) <= 0)
		problem(t, "tls_client_ca '%s': no PEM certificate in it", c->tls_client_ca);
	gnutls_certificate_free_credentials(cred);
}

/* firmware_dir: `sipprov firmware add` writes images there and sipprovd
 * serves them from there, so a named folder must be one this user can
 * write; a missing one is an unmounted share or a typo.  The default
 * firmware/ beside a SQLite file is made by the first add: only a
 * non-folder or an unwritable folder under that name is wrong.  On
 * PostgreSQL without it there is no folder (firmware add says so). */
static void check_firmware_dir(struct tally *t, const struct conf *c)
{
	char dir[4096];
	struct stat st;
	if (firmware_dir(c->database, c->firmware_dir, dir, sizeof(dir)) < 0) {
		if (c->firmware_dir[0])
			problem(t, "firmware_dir '%s': path too long", c->firmware_dir);
		return;
	}
	const char *what = c->firmware_dir[0] ? "firmware_dir" : "firmware folder (firmware_dir unset)";
	if (stat(dir, &st) < 0) {
		if (errno != ENOENT || c->firmware_dir[0])
			problem(t, "%s '%s': %s", what, dir, strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode))
		problem(t, "%s '%s': not a directory", what, dir);
	else if (access(dir, R_OK | X_OK) < 0)   /* sipprovd reads; the CLI writes (as its own user) */
		problem(t, "%s '%s': not readable by this user (%s)", what, dir, strerror(errno));
}

/* render_cache_dir: a folder sipprovd cannot make its file in costs the
 * second cache tier, not the start (logged then), so a warning. */
static void check_render_cache_dir(const struct conf *c)
{
	struct stat st;
	const char *d = c->render_cache_dir;
	if (c->render_cache <= 0 || c->render_cache_disk <= 0)
		return;
	if (stat(d, &st) < 0)
		fprintf(stderr, "warning: render_cache_dir '%s': %s; rendered configs would be kept in memory only\n", d,
			strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		fprintf(stderr, "warning: render_cache_dir '%s': not a directory; rendered configs would be kept in "
			"memory only\n", d);
	else if (access(d, W_OK | X_OK) < 0)
		fprintf(stderr, "warning: render_cache_dir '%s': not writable by this user (%s); rendered configs "
			"would be kept in memory only\n", d, strerror(errno));
}

static void check_db(struct tally *t, const struct conf *c, const char *key_file, const unsigned char *key)
{
	char err[SP_ERR_MAX];
	struct store_schema sc;
	bool pg = store_is_pg_url(c->database);
	char shown[SP_FIELD_MAX];
	store_pg_url_redact(c->database, shown, sizeof(shown));
	if (pg && !key_file[0])
		return;     /* no key: daemon_check said so (SP_PG_KEY_NAMED), once */
	if (!pg && access(c->database, F_OK) < 0) {
		problem(t, "database '%s': no such file (create it with 'sipprov init')", c->database);
		return;
	}
	struct store *s = store_open_raw(c->database, true, err, sizeof(err));
	if (!s) {
		problem(t, "%s", err);
		return;
	}
	if (store_schema(s, &sc, err, sizeof(err)) < 0) {
		problem(t, "database '%s': %s", shown, err);
	} else if (sc.unknown) {
		if (pg)
			store_pg_refuse(c->database, &sc, err, sizeof(err));
		else
			store_schema_refuse(c->database, &sc, err, sizeof(err));
		problem(t, "%s", err);
	} else {
		if (sc.pending)
			printf("note: database '%s' lacks %d migration%s of this sipprov (the first %03d); sipprovd "
			       "will back it up and migrate it at start\n", shown, sc.pending,
			       sc.pending == 1 ? "" : "s", sc.missing);
		if (key && store_key_verify(s, key, err, sizeof(err)) < 0)
			problem(t, "key file '%s' %s", key_file, err);
	}
	store_close(s);
	if (!pg && access(c->database, W_OK) < 0)
		fprintf(stderr, "warning: database '%s' is not writable by this user (%s): sipprovd's user must "
			"be able to write it\n", c->database, strerror(errno));
}

/* database_replica: the syntax was conf_finish's.  Unreachable is only a
 * warning (sipprovd reads from the primary until it answers); a replica
 * of another database (the key) or at another schema is a problem: it
 * would never be used. */
static void check_replica(struct tally *t, const struct conf *c, const unsigned char *key)
{
	char err[SP_ERR_MAX], shown[SP_FIELD_MAX];
	struct store_schema sc;
	if (!c->database_replica[0])
		return;
	store_pg_url_redact(c->database_replica, shown, sizeof(shown));
	struct store *s = store_open_raw(c->database_replica, true, err, sizeof(err));
	if (!s) {
		fprintf(stderr, "warning: database_replica: %s (sipprovd reads from the primary until it answers)\n",
			err);
		return;
	}
	if (store_schema(s, &sc, err, sizeof(err)) < 0)
		problem(t, "database_replica '%s': %s", shown, err);
	else if (sc.fresh)
		problem(t, "database_replica '%s' is empty: not a replica of a sipprov database", shown);
	else if (store_pg_refuse(c->database_replica, &sc, err, sizeof(err)) < 0)
		problem(t, "database_replica: %s", err);
	else if (key && store_key_verify(s, key, err, sizeof(err)) < 0)
		problem(t, "database_replica '%s': the key file %s (a replica of another database?)", shown, err);
	store_close(s);
}

/* database_copy: made at start, so its folder must take files and the
 * path hold nothing but an earlier copy (sipprovd would not replace it). */
static void check_copy(struct tally *t, const struct conf *c)
{
	char err[SP_ERR_MAX];
	if (c->database_copy[0] && store_copy_usable(c->database_copy, err, sizeof(err)) < 0)
		problem(t, "%s", err);
}

int daemon_check(const struct conf *conf, const char *key_file, const unsigned char *key, const char *key_err)
{
	struct tally t = { 0 };
	char err[SP_ERR_MAX];
	int in_use;
	if (!key)
		problem(&t, "%s", key_err);
	check_db(&t, conf, key_file, key);
	check_replica(&t, conf, key);
	check_copy(&t, conf);
	if (!conf->http_listen[0] && !conf->https_listen[0])
		problem(&t, "neither http_listen nor https_listen is set");
	check_bind(&t, "http_listen", conf->http_listen);
	check_bind(&t, "https_listen", conf->https_listen);
	check_tls(&t, conf);
	check_bind(&t, "admin_listen", conf->admin_listen);
	check_admin_tls(&t, conf);
	check_firmware_dir(&t, conf);
	check_render_cache_dir(conf);
	if (hep_listen_check(conf, err, sizeof(err)) < 0)
		problem(&t, "%s", err);
	else if (hep_listen_try(conf, &in_use, err, sizeof(err)) < 0) {
		if (in_use)
			fprintf(stderr, "warning: %s (a running sipprovd?); it must be free when sipprovd starts\n", err);
		else
			problem(&t, "%s", err);
	}
	return t.errors;
}
