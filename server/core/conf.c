/*
 * conf.c: sipprovd.conf as one table {key, type, field, default}.  The file
 * is "key = value" lines with '#' comments; -o key=value overrides one key.
 * etc/sipprovd.conf documents every key; keep the two in step.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "sipprov.h"

enum conf_type { C_STR, C_BOOL, C_LONG };
struct conf_key {
	const char *key;
	enum conf_type type;
	size_t off, size;
	const char *def;
	long min, max;
};

#define S(k, d) { #k, C_STR, offsetof(struct conf, k), sizeof(((struct conf *)0)->k), d, 0, 0 }
#define B(k, d) { #k, C_BOOL, offsetof(struct conf, k), 0, d, 0, 0 }
#define L(k, d, lo, hi) { #k, C_LONG, offsetof(struct conf, k), 0, d, lo, hi }
static const struct conf_key conf_keys[] = {
	S(database, "sipprov.db"),
	S(database_replica, ""),
	S(database_copy, ""),
	L(database_copy_keep, "600", 60, 604800),
	S(key_file, ""),
	S(templates, "templates"),
	S(http_listen, "127.0.0.1:8080"),
	S(https_listen, ""),
	S(tls_cert, ""),
	S(tls_key, ""),
	S(tls_client_ca, ""),
	B(tls_resumption, "yes"),
	S(admin_listen, "127.0.0.1:8081"),
	S(admin_tls_cert, ""),
	S(admin_tls_key, ""),
	S(hep_listen, "127.0.0.1:9060"),
	S(hep_auth_key, ""),
	S(hep_allow, ""),
	L(unknown_user_per_source, "50", 1, 1000000),
	L(unknown_user_max, "1000", 1, 10000000),
	L(pending_max, "1000", 0, 10000000),
	L(pending_per_source, "20", 0, 1000000),
	S(api_token, ""),
	S(api_token_file, ""),
	S(log_level, "info"),
	S(access_log, "-"),
	S(access_log_format, "sipprov"),
	S(phone_server, "own"),
	S(log_priority_prefix, "auto"),
	B(insecure_loopback, "no"),
	L(threads, "0", 0, 64),
	L(render_cache, "16384", 0, 10000000),
	L(render_cache_disk, "2048", 0, 1048576),
	S(render_cache_dir, "/var/tmp"),
	L(retention_days, "90", 0, 36500),
	L(conn_timeout, "15", 1, 3600),
	L(conn_limit, "4096", 16, 1000000),
	L(per_ip_conn_limit, "64", 0, 100000),
	L(conn_memory_limit, "32768", 4096, 1048576),
	L(header_timeout, "10", 1, 3600),
	L(body_hold_limit, "8388608", 65536, 1073741824),
	L(fail_threshold, "20", 1, 1000000),
	L(fail_window, "60", 1, 86400),
	L(lockout_seconds, "300", 1, 86400),
	L(console_session_seconds, "28800", 300, 604800),
	S(metrics_allow, "127.0.0.0/8,::1/128"),
	L(metrics_devices_interval, "30", 0, 3600),
	S(trusted_proxies, ""),
	S(public_url, ""),
	S(firmware_dir, ""),
};
#undef S
#undef B
#undef L

static int set_one(struct conf *c, const char *key, const char *val, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++) {
		const struct conf_key *k = &conf_keys[i];
		if (strcmp(k->key, key))
			continue;
		char *field = (char *)c + k->off;
		switch (k->type) {
		case C_STR:
			if (strlen(val) >= k->size)
				return sp_err(err, errlen, "'%s' is longer than %zu bytes", key, k->size - 1);
			sp_strlcpy(field, val, k->size);
			return 0;
		case C_BOOL:
			if (!strcmp(val, "yes") || !strcmp(val, "true") || !strcmp(val, "1"))
				*(bool *)field = true;
			else if (!strcmp(val, "no") || !strcmp(val, "false") || !strcmp(val, "0"))
				*(bool *)field = false;
			else
				return sp_err(err, errlen, "'%s' must be yes or no, got '%s'", key, val);
			return 0;
		case C_LONG:
			if (sp_parse_int(val, k->min, k->max, (long *)field) < 0)
				return sp_err(err, errlen, "'%s' must be a number from %ld to %ld, got '%s'",
					      key, k->min, k->max, val);
			return 0;
		}
	}
	return sp_err(err, errlen, "unknown key '%s'", key);
}

void conf_init(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++)
		set_one(c, conf_keys[i].key, conf_keys[i].def, NULL, 0);
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

int conf_set(struct conf *c, const char *kv, char *err, size_t errlen)
{
	char line[1024];
	if (strlen(kv) >= sizeof(line))
		return sp_err(err, errlen, "option too long");
	sp_strlcpy(line, kv, sizeof(line));
	char *eq = strchr(line, '=');
	if (!eq)
		return sp_err(err, errlen, "expected key=value, got '%s'", kv);
	*eq = '\0';
	return set_one(c, trim(line), trim(eq + 1), err, errlen);
}

int conf_load(struct conf *c, const char *file, char *err, size_t errlen)
{
	char line[1024], why[SP_ERR_MAX];
	int lineno = 0;
	FILE *f = fopen(file, "r");
	if (!f)
		return sp_err(err, errlen, "%s: %s", file, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			fclose(f);
			return sp_err(err, errlen, "%s:%d: line too long", file, lineno);
		}
		char *p = trim(line);
		if (*p == '#' || *p == '\0')
			continue;
		char *eq = strchr(p, '=');
		if (!eq) {
			fclose(f);
			return sp_err(err, errlen, "%s:%d: expected 'key = value'", file, lineno);
		}
		*eq = '\0';
		if (set_one(c, trim(p), trim(eq + 1), why, sizeof(why)) < 0) {
			fclose(f);
			return sp_err(err, errlen, "%s:%d: %s", file, lineno, why);
		}
	}
	fclose(f);
	return 0;
}

void conf_dump(const struct conf *c, FILE *f)
{
	for (size_t i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++) {
		const struct conf_key *k = &conf_keys[i];
		const char *field = (const char *)c + k->off;
		if (k->type == C_STR && store_is_pg_url(field)) {
			/* A URL may carry its password: shown as logs show it. */
			char shown[SP_FIELD_MAX];
			store_pg_url_redact(field, shown, sizeof(shown));
			fprintf(f, "%s = %s\n", k->key, shown);
		} else if (k->type == C_STR) {
			bool secret = (strstr(k->key, "token") || strstr(k->key, "auth_key")) && !strstr(k->key, "_file");
			fprintf(f, "%s = %s\n", k->key, secret && *field ? "(set)" : field);
		} else if (k->type == C_BOOL) {
			fprintf(f, "%s = %s\n", k->key, *(const bool *)field ? "yes" : "no");
		} else {
			fprintf(f, "%s = %ld\n", k->key, *(const long *)field);
		}
	}
}

void conf_diff(const struct conf *a, const struct conf *b, void (*fn)(const char *key, void *arg), void *arg)
{
	for (size_t i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++) {
		const struct conf_key *k = &conf_keys[i];
		const char *fa = (const char *)a + k->off, *fb = (const char *)b + k->off;
		bool same = k->type == C_STR ? strcmp(fa, fb) == 0
			  : k->type == C_BOOL ? *(const bool *)fa == *(const bool *)fb
			  : *(const long *)fa == *(const long *)fb;
		if (!same)
			fn(k->key, arg);
	}
}

/* api_token_file: the webhook token read from a file (so it is not on a
 * command line in ps): one line, printable, not readable by others. */
static int read_token_file(struct conf *c, char *err, size_t errlen)
{
	char buf[sizeof(c->api_token) + 2];
	struct stat st;
	int fd = open(c->api_token_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sp_err(err, errlen, "api_token_file '%s': %s", c->api_token_file, strerror(errno));
	if (fstat(fd, &st) < 0 || (st.st_mode & 007)) {
		close(fd);
		return sp_err(err, errlen, "api_token_file '%s' is readable by others (chmod 600 or 640)",
			      c->api_token_file);
	}
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	size_t len = strcspn(buf, "\r\n");
	bool one_line = buf[len] == '\0' || strspn(buf + len, "\r\n") == strlen(buf + len);
	buf[len] = '\0';
	int rc = 0;
	if (!len)
		rc = sp_err(err, errlen, "api_token_file '%s' is empty", c->api_token_file);
	else if (!one_line || (size_t)n >= sizeof(buf) - 1 || len >= sizeof(c->api_token))
		rc = sp_err(err, errlen, "api_token_file '%s' must hold one line of at most %zu bytes",
			    c->api_token_file, sizeof(c->api_token) - 1);
	else
		for (size_t i = 0; i < len && rc == 0; i++)
			if ((unsigned char)buf[i] <= 0x20 || buf[i] == 0x7f)
				rc = sp_err(err, errlen, "api_token_file '%s': the token has a space or "
					    "control character", c->api_token_file);
	if (rc == 0)
		sp_strlcpy(c->api_token, buf, sizeof(c->api_token));
	secret_wipe(buf, sizeof(buf));
	return rc;
}

/* A CIDR list key; unlike a tenant allowlist, empty means no network. */
static int parse_nets(const char *key, const char *text, struct policy_nets *out, char *err, size_t errlen)
{
	char why[SP_ERR_MAX];
	memset(out, 0, sizeof(*out));
	for (const char *p = text; *p; p++)
		if (!isspace((unsigned char)*p)) {
			if (policy_nets_parse(text, out, why, sizeof(why)) < 0)
				return sp_err(err, errlen, "'%s': %s", key, why);
			return 0;
		}
	return 0;
}

/* public_url is written verbatim into vendor files (XML text, key=value),
 * so it is held to http[s]://host[:port][/path] in URL-safe characters;
 * a trailing '/' is dropped (bodies add "/file"). */
static int check_public_url(struct conf *c, char *err, size_t errlen)
{
	char *u = c->public_url;
	size_t n = strlen(u);
	if (!n)
		return 0;
	while (n > 1 && u[n - 1] == '/')
		u[--n] = '\0';
	size_t skip = !strncmp(u, "http://", 7) ? 7 : !strncmp(u, "https://", 8) ? 8 : 0;
	if (!skip || !u[skip] || u[skip] == '/')
		return sp_err(err, errlen, "'public_url' must be http://HOST[:PORT][/PATH] or https://..., got '%s'", u);
	for (const char *p = u + skip; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-._~:/[]%", *p))
			return sp_err(err, errlen, "'public_url': character '%c' not allowed (letters, digits, "
				      "- . _ ~ : / [ ] %%)", isprint((unsigned char)*p) ? *p : '?');
	return 0;
}

/* database_replica (issue 17): a standby of the PostgreSQL database, so
 * only beside one, in libpq's syntax; whether it answers is for sipprovd
 * -n to try and sipprovd to meet (it reads from the primary meanwhile). */
static int check_replica(const struct conf *c, char *err, size_t errlen)
{
	if (!c->database_replica[0])
		return 0;
	if (!store_is_pg_url(c->database_replica))
		return sp_err(err, errlen, "'database_replica' must be a postgresql:// or postgres:// URL");
	if (!store_is_pg_url(c->database))
		return sp_err(err, errlen, "'database_replica' needs a PostgreSQL 'database' (a replica of it); "
			      "'database' is a SQLite file");
	char why[SP_ERR_MAX];
	if (store_pg_url_check(c->database_replica, why, sizeof(why)) < 0)
		return sp_err(err, errlen, "'database_replica': %s", why);
	return 0;
}

/* database_copy (issue 18): a local file kept from a PostgreSQL 'database'. */
static int check_copy(const struct conf *c, char *err, size_t errlen)
{
	if (!c->database_copy[0])
		return 0;
	if (store_is_pg_url(c->database_copy))
		return sp_err(err, errlen, "'database_copy' is a path to a local SQLite file the node keeps, not a URL");
	if (!store_is_pg_url(c->database))
		return sp_err(err, errlen, "'database_copy' needs a PostgreSQL 'database' (a copy of it); "
			      "'database' is a SQLite file, read where it is");
	return 0;
}

int conf_finish(struct conf *c, char *err, size_t errlen)
{
	if (check_public_url(c, err, errlen) < 0 || check_replica(c, err, errlen) < 0 ||
	    check_copy(c, err, errlen) < 0)
		return -1;
	if (parse_nets("metrics_allow", c->metrics_allow, &c->metrics_nets, err, errlen) < 0 ||
	    parse_nets("trusted_proxies", c->trusted_proxies, &c->proxy_nets, err, errlen) < 0)
		return -1;
	if (!c->admin_tls_cert[0] != !c->admin_tls_key[0])
		return sp_err(err, errlen, "set both 'admin_tls_cert' and 'admin_tls_key' (HTTPS on admin_listen) "
			      "or neither");
	if (c->proxy_nets.n && c->insecure_loopback)
		return sp_err(err, errlen, "insecure_loopback cannot be used with trusted_proxies (behind a "
			      "proxy every client would count as loopback)");
	if (c->api_token_file[0]) {
		if (c->api_token[0])
			return sp_err(err, errlen, "set api_token or api_token_file, not both");
		if (read_token_file(c, err, errlen) < 0)
			return -1;
	}
	return 0;
}
