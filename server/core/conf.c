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
	S(key_file, ""),
	S(templates, "templates"),
	S(http_listen, "127.0.0.1:8080"),
	S(https_listen, ""),
	S(tls_cert, ""),
	S(tls_key, ""),
	S(tls_client_ca, ""),
	S(hep_listen, "127.0.0.1:9060"),
	S(hep_auth_key, ""),
	S(hep_allow, ""),
	L(unknown_user_per_source, "50", 1, 1000000),
	L(unknown_user_max, "1000", 1, 10000000),
	S(api_token, ""),
	S(log_level, "info"),
	S(access_log, "-"),
	B(insecure_loopback, "no"),
	L(threads, "0", 0, 64),
	L(render_cache, "16384", 0, 10000000),
	L(retention_days, "90", 0, 36500),
	L(conn_timeout, "15", 1, 3600),
	L(conn_limit, "4096", 16, 1000000),
	L(per_ip_conn_limit, "64", 0, 100000),
	L(conn_memory_limit, "32768", 4096, 1048576),
	L(fail_threshold, "20", 1, 1000000),
	L(fail_window, "60", 1, 86400),
	L(lockout_seconds, "300", 1, 86400),
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
		if (k->type == C_STR) {
			bool secret = strstr(k->key, "token") || strstr(k->key, "auth_key");
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
