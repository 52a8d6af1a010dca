/*
 * sipprov.c: the admin CLI's main: global flags (-d DB, -f CONFIG, --json,
 * --show-secrets, --force, --help, --lock-timeout), then dispatch from the
 * one command table in commands.def.  Shared helpers for the cmd_*.c files are here
 * too.  Help texts and did-you-mean live in help.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/sipprov.h"

static const struct { const char *name; cli_cmd_fn fn; const char *help; } commands[] = {
#define CMD(name, fn, help) { name, fn, help },
#include "commands.def"
#undef CMD
};

int cli_fail(const char *fmt, ...)
{
	va_list ap;
	fputs("error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USER;
}

int cli_usage(const char *usage)
{
	fprintf(stderr, "usage: sipprov %s\n", usage);
	return EXIT_USAGE;
}

void cli_key_path(const struct cli *c, char *out, size_t n)
{
	const char *env = getenv("SIPPROV_KEY_FILE");
	if (!env || !*env)
		env = getenv("SIPPROV_KEY");
	if (env && *env)
		sp_strlcpy(out, env, n);
	else if (c->key_file && *c->key_file)
		sp_strlcpy(out, c->key_file, n);
	else if (store_is_pg_url(c->db_path))
		sp_strlcpy(out, "", n);   /* no file beside a URL: it must be named (cli_pg_key) */
	else
		snprintf(out, n, "%s.key", c->db_path);
}

int cli_open(struct cli *c)
{
	char err[SP_ERR_MAX], kp[SP_FIELD_MAX + 8];
	if (c->store)
		return 0;
	cli_key_path(c, kp, sizeof(kp));
	if (!kp[0])
		return cli_fail("%s", SP_PG_KEY_NAMED);
	if (strcmp(c->db_path, ":memory:") && !store_is_pg_url(c->db_path) && access(c->db_path, F_OK) < 0) {
		if (c->conf_file)
			return cli_fail("no database at '%s' (database in %s; run 'sipprov init')", c->db_path,
					c->conf_file);
		return cli_fail("no database at '%s' (run 'sipprov init', pass -d DB, or set database in %s)",
				c->db_path, sp_conf_default);
	}
	c->store = store_open(c->db_path, err, sizeof(err));
	if (!c->store)
		return cli_fail("%s", err);
	cli_key_path(c, kp, sizeof(kp));
	/* An admin in the service's group may use the database without the
	 * key (mode 0600, the service user's): only password commands need it. */
	if (access(kp, F_OK) == 0 && access(kp, R_OK) < 0 && errno == EACCES) {
		c->key_unreadable = true;
	} else if (access(kp, F_OK) == 0) {
		if (secret_key_load(kp, c->key, err, sizeof(err)) < 0)
			return cli_fail("%s", err);
		/* Checked against the database before anything is written with it. */
		if (store_use_key(c->store, c->key, err, sizeof(err)) < 0) {
			secret_wipe(c->key, sizeof(c->key));
			return cli_fail("key file '%s' %s", kp, err);
		}
		c->have_key = true;
	}
	return 0;
}

int cli_open_key(struct cli *c)
{
	int rc = cli_open(c);
	if (rc)
		return rc;
	if (!c->have_key) {
		char kp[SP_FIELD_MAX + 8];
		cli_key_path(c, kp, sizeof(kp));
		if (c->key_unreadable)
			return cli_fail("key file '%s' is not readable by you: run this command as its owner "
					"(e.g. 'sudo -u sipprov sipprov ...')", kp);
		return cli_fail("no key file at '%s' (run 'sipprov init')", kp);
	}
	return 0;
}

size_t cli_warn_layout(const char *subject, const struct layout *l, json_t *settings, json_t *seen)
{
	struct buf b;
	size_t n = 0;
	buf_init(&b, 64 * 1024);
	layout_warnings(l, settings, &b);
	for (char *line = b.data, *nl; line && (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = '\0';
		if (seen && json_object_get(seen, line))
			continue;
		if (seen)
			json_object_set_new(seen, line, json_true());
		fprintf(stderr, "warning: %s: %s\n", subject, line);
		n++;
	}
	buf_release(&b);
	return n;
}

const struct layouts *cli_layouts(struct cli *c)
{
	char err[SP_ERR_MAX];
	if (!c->layouts) {
		c->layouts = layouts_load(c->templates_dir, err, sizeof(err));
		if (!c->layouts)
			cli_fail("%s", err);
	}
	return c->layouts;
}

int cli_parse(int argc, char **argv, const struct cli_opt *opts, char **pos, int maxpos, int *npos,
	      const char *usage)
{
	*npos = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || a[1] == '\0' || (a[1] >= '0' && a[1] <= '9')) {
			if (*npos >= maxpos) {
				fprintf(stderr, "error: unexpected argument '%s'\n", a);
				return cli_usage(usage);
			}
			pos[(*npos)++] = argv[i];
			continue;
		}
		const struct cli_opt *o = opts;
		const char *val = NULL;
		size_t nlen = strcspn(a, "=");
		for (; o && o->name; o++)
			if (strlen(o->name) == nlen && strncmp(o->name, a, nlen) == 0)
				break;
		if (!o || !o->name) {
			const char *names[64], *s;
			size_t n = 0;
			char word[64];
			for (const struct cli_opt *p = opts; p && p->name && n < 64; p++)
				names[n++] = p->name;
			snprintf(word, sizeof(word), "%.*s", (int)nlen, a);
			if ((s = cli_suggest(word, names, n)))
				fprintf(stderr, "error: unknown option '%s'; did you mean '%s'?\n", a, s);
			else
				fprintf(stderr, "error: unknown option '%s'\n", a);
			return cli_usage(usage);
		}
		if (o->type == OPT_FLAG) {
			*(bool *)o->out = true;
			continue;
		}
		if (a[nlen] == '=')
			val = a + nlen + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else {
			fprintf(stderr, "error: option '%s' needs a value\n", o->name);
			return cli_usage(usage);
		}
		switch (o->type) {
		case OPT_STR:
			*(const char **)o->out = val;
			break;
		case OPT_LIST: {
			struct buf *b = o->out;
			if (b->len)
				buf_adds(b, ",");
			buf_adds(b, val);
			break;
		}
		case OPT_LONG:
			if (sp_parse_int(val, o->min, o->max, (long *)o->out) < 0) {
				fprintf(stderr, "error: %s must be a number from %ld to %ld, got '%s'\n", o->name,
					o->min, o->max, val);
				return cli_usage(usage);
			}
			break;
		}
	}
	return 0;
}

void cli_json_out(json_t *doc)
{
	char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (s) {
		puts(s);
		free(s);
	}
	json_decref(doc);
}

int cli_tenant(struct cli *c, const char *slug, struct tenant *t)
{
	int rc = store_tenant_get(c->store, slug, t);
	if (rc < 0)
		return cli_fail("cannot read tenant '%s': %s", slug, store_errmsg(c->store));
	if (rc == 0)
		return cli_fail("unknown tenant '%s' (see 'sipprov tenant list')", slug);
	return 0;
}

int cli_tenant_by_id(struct cli *c, int64_t id, struct tenant *t)
{
	if (store_tenant_get_id(c->store, id, t) != 1)
		return cli_fail("tenant %lld missing: %s", (long long)id, store_errmsg(c->store));
	return 0;
}

int cli_device(struct cli *c, const char *mac, struct device *d)
{
	char norm[SP_MAC_LEN + 1];
	if (mac_normalize(mac, norm) < 0)
		return cli_fail("'%s' is not a MAC address (12 hex digits, ':' or '-' allowed)", mac);
	int rc = store_device_get(c->store, norm, d);
	if (rc < 0)
		return cli_fail("cannot read device %s: %s", norm, store_errmsg(c->store));
	if (rc == 0)
		return cli_fail("unknown device %s (see 'sipprov device list')", norm);
	return 0;
}

int cli_dispatch(struct cli *c, const char *noun, const struct cli_sub *subs, int argc, char **argv)
{
	char usage[256];
	size_t n = (size_t)snprintf(usage, sizeof(usage), "%s ", noun);
	for (const struct cli_sub *s = subs; s->name && n < sizeof(usage); s++)
		n += (size_t)snprintf(usage + n, sizeof(usage) - n, "%s%s", s == subs ? "" : "|", s->name);
	snprintf(usage + n, n < sizeof(usage) ? sizeof(usage) - n : 0, " ...");
	if (argc < 1)
		return cli_usage(usage);
	for (const struct cli_sub *s = subs; s->name; s++)
		if (!strcmp(argv[0], s->name)) {
			int rc = cli_open(c);
			return rc ? rc : s->fn(c, argc - 1, argv + 1);
		}
	const char *names[32], *sug;
	size_t nn = 0;
	for (const struct cli_sub *s = subs; s->name && nn < 32; s++)
		names[nn++] = s->name;
	if ((sug = cli_suggest(argv[0], names, nn)))
		fprintf(stderr, "error: unknown %s command '%s'; did you mean '%s'?\n", noun, argv[0], sug);
	else
		fprintf(stderr, "error: unknown %s command '%s'\n", noun, argv[0]);
	return cli_usage(usage);
}

/* Another writer (an import, sipprovd) holds the database: wait for it,
 * saying so once to a person at a terminal, and explain when it expires. */
#define LOCK_TIMEOUT_DEFAULT 600

static void lock_notice(enum store_wait_event ev, int64_t waited_ms, void *arg)
{
	const long *limit = arg;
	if (ev == STORE_WAIT_SLOW) {
		if (isatty(STDERR_FILENO))
			fprintf(stderr, "waiting for the database lock held by another writer (up to %ld s)...\n",
				*limit);
		return;
	}
	fprintf(stderr, "error: the database stayed locked by another writer for %lld s; gave up "
		"(raise --lock-timeout or SIPPROV_LOCK_TIMEOUT)\n", (long long)(waited_ms / 1000));
}

void cli_usage_all(FILE *f)
{
	fprintf(f, "usage: sipprov [-d DB] [-f CONFIG] [--json] [--show-secrets] [--lock-timeout SECONDS] "
		"COMMAND ...\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nWithout -d or SIPPROV_DB the database is the one named in %s,\nif present, else ./sipprov.db.\n"
		   "'sipprov help COMMAND' shows a command's usage and examples; more in sipprov(1).\n",
		sp_conf_default);
}

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && *v ? v : dflt;
}

/* The database, key and layouts when -d / SIPPROV_DB does not name the
 * database: from the configuration file (-f, SIPPROV_CONF, else the
 * installed one if present), as sipprovd reads them.  Returns 0 or
 * EXIT_USER after printing why. */
static int cli_config(struct cli *c, struct conf *conf, const char *file, bool db_given)
{
	char err[SP_ERR_MAX];
	if (!file) {
		if (db_given || access(sp_conf_default, F_OK) < 0)
			return 0;
		file = sp_conf_default;
	}
	if (access(file, R_OK) < 0 && errno == EACCES)
		return cli_fail("cannot read '%s': %s (pass -d DB, or join the group that may read it)", file,
				strerror(EACCES));
	conf_init(conf);
	if (conf_load(conf, file, err, sizeof(err)) < 0)
		return cli_fail("%s", err);
	c->conf_file = file;
	c->public_url = conf->public_url;
	c->firmware_dir = conf->firmware_dir;
	if (!db_given) {
		c->db_path = conf->database;
		c->key_file = conf->key_file;
	}
	if (!getenv("SIPPROV_TEMPLATES") || !*getenv("SIPPROV_TEMPLATES")) {
		/* The relative default means the same to the CLI as to sipprovd. */
		if (strcmp(conf->templates, "templates") || access("templates", F_OK) == 0)
			c->templates_dir = conf->templates;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cli c = { 0 };
	struct conf conf;
	char **args = xcalloc((size_t)argc + 1, sizeof(char *));
	int n = 0, rc;
	bool help = false;
	const char *user = getenv("SUDO_USER"), *conf_file = env_or("SIPPROV_CONF", NULL);
	char tpl_default[SP_FIELD_MAX];

	if (!user || !*user)
		user = getenv("USER");
	sp_strlcpy(c.actor, user && *user ? user : "cli", sizeof(c.actor));
	c.db_path = env_or("SIPPROV_DB", NULL);
	snprintf(tpl_default, sizeof(tpl_default), "%s/templates", sp_datadir);
	c.templates_dir = env_or("SIPPROV_TEMPLATES", access("templates", F_OK) == 0 ? "templates" : tpl_default);
	static long lock_timeout = LOCK_TIMEOUT_DEFAULT;
	const char *lt = getenv("SIPPROV_LOCK_TIMEOUT");
	if (lt && *lt && sp_parse_int(lt, 0, 86400, &lock_timeout) < 0) {
		fprintf(stderr, "error: SIPPROV_LOCK_TIMEOUT must be seconds from 0 to 86400, got '%s'\n", lt);
		free(args);
		return EXIT_USAGE;
	}
	log_init(LOG_LVL_WARN, false);
	/* Global flags may stand anywhere; strip them before the command sees argv. */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-d") && n == 0 && i + 1 < argc)
			c.db_path = argv[++i];
		else if (!strcmp(argv[i], "-f") && n == 0 && i + 1 < argc)
			conf_file = argv[++i];
		else if (!strcmp(argv[i], "--json"))
			c.json = true;
		else if (!strcmp(argv[i], "--show-secrets"))
			c.show_secrets = true;
		else if (!strcmp(argv[i], "--force"))
			c.force = true;
		else if (!strcmp(argv[i], "--lock-timeout") && i + 1 < argc) {
			if (sp_parse_int(argv[++i], 0, 86400, &lock_timeout) < 0) {
				fprintf(stderr, "error: --lock-timeout must be seconds from 0 to 86400, got '%s'\n",
					argv[i]);
				free(args);
				return EXIT_USAGE;
			}
		}
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			help = true;
		else if (!strcmp(argv[i], "--version") && n == 0) {   /* after a noun it is the noun's */
			printf("sipprov %s\n", SP_VERSION);
			free(args);
			return 0;
		} else
			args[n++] = argv[i];
	}
	if (help) {   /* `sipprov --help`, `sipprov NOUN ... --help` */
		rc = n == 0 ? (cli_usage_all(stdout), 0) : cmd_help(&c, 1, args);
		free(args);
		return rc;
	}
	if (n == 0) {
		cli_usage_all(stderr);
		free(args);
		return EXIT_USAGE;
	}
	store_lock_wait_default(lock_timeout * 1000, lock_notice, &lock_timeout);
	bool db_given = c.db_path != NULL;
	if (!db_given)
		c.db_path = "sipprov.db";
	rc = -1;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(args[0], commands[i].name)) {
			if (commands[i].fn != cmd_help && (rc = cli_config(&c, &conf, conf_file, db_given)))
				break;
			rc = commands[i].fn(&c, n - 1, args + 1);
			break;
		}
	if (rc == -1) {
		cli_unknown_command(args[0]);
		cli_usage_all(stderr);
		rc = EXIT_USAGE;
	}
	store_close(c.store);
	layouts_free(c.layouts);
	secret_wipe(c.key, sizeof(c.key));
	validate_cleanup();
	free(args);
	return rc;
}
