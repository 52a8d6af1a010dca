/*
 * main.c: sipprovd.  Flags -d (foreground; logs to stderr), -n (check the
 * configuration, database, addresses and certificate, changing nothing, and
 * exit: check.c), -v (more logging), -f FILE, -o key=value.
 * SIGHUP reloads layouts and TLS certificates and reopens the access log;
 * SIGTERM/SIGINT drain
 * and exit, freeing everything.  All work lives in the library.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "auth.h"
#include "check.h"
#include "hep.h"
#include "http.h"
#include "sdnotify.h"
#include "core/sipprov.h"

static void usage(void)
{
	fprintf(stderr, "usage: sipprovd [-d] [-n] [-v] [-f FILE] [-o key=value ...]\n");
	exit(2);
}

static void key_file_of(const struct conf *c, char *out, size_t n)
{
	if (c->key_file[0])
		sp_strlcpy(out, c->key_file, n);
	else if (store_is_pg_url(c->database))
		sp_strlcpy(out, "", n);     /* must be named: SP_PG_KEY_NAMED */
	else
		snprintf(out, n, "%s.key", c->database);
}

/* Defaults, then FILE, then the -o overrides (which always win), then the
 * installed-layouts fallback.  Returns the log level, or -1 with err. */
static int load_conf(struct conf *c, const char *file, char **overrides, int n, int verbose, char *err,
		     size_t errlen)
{
	char why[SP_ERR_MAX];
	conf_init(c);
	if (file && conf_load(c, file, err, errlen) < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (conf_set(c, overrides[i], why, sizeof(why)) < 0)
			return sp_err(err, errlen, "-o %s: %s", overrides[i], why);
	if (conf_finish(c, err, errlen) < 0)
		return -1;
	int lvl = log_level_parse(c->log_level);
	if (lvl < 0)
		return sp_err(err, errlen, "log_level '%s' unknown (error, warn, info, debug)", c->log_level);
	if (log_prefix_parse(c->log_priority_prefix) < 0)
		return sp_err(err, errlen, "log_priority_prefix '%s' unknown (auto, yes, no)",
			      c->log_priority_prefix);
	if (http_access_format_parse(c->access_log_format) < 0)
		return sp_err(err, errlen, "access_log_format '%s' unknown (sipprov, combined, combined_duration)",
			      c->access_log_format);
	if (strcmp(c->phone_server, "mhd") && strcmp(c->phone_server, "own"))
		return sp_err(err, errlen, "phone_server '%s' unknown (mhd, own)", c->phone_server);
	/* The relative default serves a source tree; an installed daemon
	 * falls back to the installed layouts. */
	if (!strcmp(c->templates, "templates") && access("templates", F_OK) < 0)
		snprintf(c->templates, sizeof(c->templates), "%s/templates", sp_datadir);
	return lvl + verbose > LOG_LVL_DEBUG ? LOG_LVL_DEBUG : lvl + verbose;
}

/* The database holds encrypted secrets and everything else in plaintext
 * (README: "What the database reveals without the key").  A readable key
 * file never gets here: secret_key_load refuses it. */
static void warn_readable(const char *db)
{
	const char *sfx[] = { "", "-wal", "-shm" };
	char p[SP_FIELD_MAX + 8];
	unsigned mode;
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", db, sfx[i]);
		if (private_readable(p, &mode))
			log_warnx("'%s' is readable by others (mode %04o): chmod o-rwx '%s'", p, mode, p);
	}
}

static bool log_to_syslog;              /* daemonized: logs go to syslog */

/* Keys SIGHUP applies in place: none of them is read by request threads. */
static const char *const live_keys[] = {
	"templates", "access_log", "access_log_format", "log_level", "log_priority_prefix", "fail_threshold", "fail_window", "lockout_seconds",
	"unknown_user_per_source", "unknown_user_max", "tls_cert", "tls_key", "admin_tls_cert", "admin_tls_key",
};

static void note_restart(const char *key, void *arg)
{
	for (size_t i = 0; i < sizeof(live_keys) / sizeof(live_keys[0]); i++)
		if (!strcmp(key, live_keys[i]))
			return;
	log_warnx("reload: '%s' changed; restart sipprovd to apply it", key);
	(*(int *)arg)++;
}

/* SIGHUP: re-read the configuration, apply what can change live, reload
 * layouts and reopen the access log.  Any error keeps everything running
 * as it was. */
static void reload(struct conf *conf, const char *file, char **overrides, int n, int verbose,
		   struct http_server *http, struct api_server *api)
{
	struct conf fresh;
	char err[SP_ERR_MAX];
	int restart = 0;
	int lvl = load_conf(&fresh, file, overrides, n, verbose, err, sizeof(err));
	if (lvl < 0) {
		log_warnx("reload refused, keeping the running configuration: %s", err);
		return;
	}
	struct layouts *layouts = layouts_load(fresh.templates, err, sizeof(err));
	if (!layouts) {
		log_warnx("reload refused, keeping the running configuration: %s", err);
		return;
	}
	conf_diff(conf, &fresh, note_restart, &restart);
	log_init(lvl, log_to_syslog);
	log_prefix_set(log_prefix_parse(fresh.log_priority_prefix) == 1);
	sp_strlcpy(conf->log_priority_prefix, fresh.log_priority_prefix, sizeof(conf->log_priority_prefix));
	sp_strlcpy(conf->access_log_format, fresh.access_log_format, sizeof(conf->access_log_format));
	sp_strlcpy(conf->templates, fresh.templates, sizeof(conf->templates));
	sp_strlcpy(conf->access_log, fresh.access_log, sizeof(conf->access_log));
	sp_strlcpy(conf->log_level, fresh.log_level, sizeof(conf->log_level));
	conf->fail_threshold = fresh.fail_threshold;
	conf->fail_window = fresh.fail_window;
	conf->lockout_seconds = fresh.lockout_seconds;
	auth_limits_set(conf->fail_threshold, conf->fail_window, conf->lockout_seconds);
	conf->unknown_user_per_source = fresh.unknown_user_per_source;
	conf->unknown_user_max = fresh.unknown_user_max;
	drift_unknown_caps_set(conf->unknown_user_per_source, conf->unknown_user_max);
	layouts_free(http_server_set_layouts(http, layouts));
	api_server_reload(api, conf->templates);
	http_server_reopen_log(http, conf->access_log, conf->access_log_format);
	/* Renewed certificates: new handshakes get them, open connections
	 * keep theirs.  A bad pair keeps the one being served. */
	if (http_server_reload_tls(http, fresh.tls_cert, fresh.tls_key, err, sizeof(err)) < 0) {
		log_warnx("reload: TLS certificate refused, still serving the previous one: %s", err);
	} else {
		sp_strlcpy(conf->tls_cert, fresh.tls_cert, sizeof(conf->tls_cert));
		sp_strlcpy(conf->tls_key, fresh.tls_key, sizeof(conf->tls_key));
	}
	/* The admin listener's pair likewise, when it runs HTTPS (turning
	 * HTTPS on or off there needs a restart). */
	if (!conf->admin_tls_cert[0] != !fresh.admin_tls_cert[0]) {
		log_warnx("reload: 'admin_tls_cert' turns HTTPS on or off; restart sipprovd to apply it");
		restart++;
	} else if (api_server_reload_tls(api, fresh.admin_tls_cert, fresh.admin_tls_key, err, sizeof(err)) < 0) {
		log_warnx("reload: admin TLS certificate refused, still serving the previous one: %s", err);
	} else {
		sp_strlcpy(conf->admin_tls_cert, fresh.admin_tls_cert, sizeof(conf->admin_tls_cert));
		sp_strlcpy(conf->admin_tls_key, fresh.admin_tls_key, sizeof(conf->admin_tls_key));
	}
	log_info("reloaded configuration and %zu layouts%s", layouts_count(layouts),
		 restart ? " (some changes need a restart)" : "");
}

int main(int argc, char **argv)
{
	struct conf conf;
	char err[SP_ERR_MAX], kf[SP_FIELD_MAX + 8];
	const char *file = NULL;
	bool foreground = false, check_only = false;
	int verbose = 0, ch;
	char *overrides[64];
	int noverrides = 0;
	unsigned char key[SP_KEY_LEN];

	while ((ch = getopt(argc, argv, "dnvf:o:h")) != -1) {
		switch (ch) {
		case 'd': foreground = true; break;
		case 'n': check_only = true; break;
		case 'v': verbose++; break;
		case 'f': file = optarg; break;
		case 'o':
			if (noverrides == 64)
				fatalx("too many -o options");
			overrides[noverrides++] = optarg;
			break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();

	log_init(LOG_LVL_INFO, false);
	log_prefix_set(log_stderr_is_journal());
	if (!file && access(sp_conf_default, R_OK) == 0)
		file = sp_conf_default;
	int lvl = load_conf(&conf, file, overrides, noverrides, verbose, err, sizeof(err));
	if (lvl < 0)
		fatalx("%s", err);
	log_prefix_set(log_prefix_parse(conf.log_priority_prefix) == 1);
	struct layouts *layouts = layouts_load(conf.templates, err, sizeof(err));
	if (!layouts)
		fatalx("%s", err);
	char dbshown[SP_FIELD_MAX];     /* a PostgreSQL URL without its password, for logs */
	store_pg_url_redact(conf.database, dbshown, sizeof(dbshown));
	key_file_of(&conf, kf, sizeof(kf));
	bool have_key = kf[0] && secret_key_load(kf, key, err, sizeof(err)) == 0;
	if (!kf[0])
		sp_strlcpy(err, SP_PG_KEY_NAMED, sizeof(err));
	if (check_only) {   /* creates and changes nothing (check.c) */
		warn_readable(conf.database);
		int problems = daemon_check(&conf, kf, have_key ? key : NULL, have_key ? NULL : err);
		if (!problems && verbose)
			conf_dump(&conf, stdout);
		if (!problems)
			printf("configuration OK\n");
		else
			fprintf(stderr, "configuration has %d problem%s\n", problems, problems == 1 ? "" : "s");
		layouts_free(layouts);
		secret_wipe(key, sizeof(key));
		return problems ? 1 : 0;
	}
	if (!have_key)
		fatalx("%s", err);
	/* The one place besides 'sipprov migrate' that migrates, after a backup. */
	if (store_is_pg_url(conf.database) || access(conf.database, F_OK) == 0) {
		struct store_migrated m;
		if (store_migrate(conf.database, &m, err, sizeof(err)) < 0)
			fatalx("%s", err);
		if (m.applied)
			log_info("database %s: migrated from schema %03d to %03d%s%s", dbshown, m.from, m.to,
				 m.backup[0] ? ", backup " : "", m.backup);
	}
	struct store *probe = store_open(conf.database, err, sizeof(err));
	if (!probe)
		fatalx("%s", err);
	/* A wrong key would only show as a 500 for every config: refuse now. */
	if (store_use_key(probe, key, err, sizeof(err)) < 0) {
		store_close(probe);
		fatalx("database %s: key file '%s' %s", dbshown, kf, err);
	}
	store_close(probe);
	warn_readable(conf.database);
	if (hep_listen_check(&conf, err, sizeof(err)) < 0)
		fatalx("%s", err);
	drift_unknown_caps_set(conf.unknown_user_per_source, conf.unknown_user_max);

	if (!foreground) {
		if (daemon(1, 0) < 0)
			fatal("daemon");
		log_to_syslog = true;
		log_init(lvl, true);
	} else {
		log_init(lvl, false);
	}

	/* Signals are taken synchronously by this thread; workers never see them. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct http_server *http = http_server_start(&conf, key, layouts, err, sizeof(err));
	if (!http)
		fatalx("%s", err);
	struct hep_server *hep = NULL;
	if (conf.hep_listen[0] && !(hep = hep_server_start(&conf, err, sizeof(err)))) {
		http_server_stop(http);
		fatalx("%s", err);
	}
	/* After http_server_start: that set up the lockout table the API's
	 * failed tokens count in. */
	struct api_server *api = NULL;
	if (conf.admin_listen[0] &&
	    !(api = api_server_start(&conf, key, http_server_port(http, false), http_server_port(http, true), err,
				     sizeof(err)))) {
		hep_server_stop(hep);
		http_server_stop(http);
		fatalx("%s", err);
	}
	log_info("sipprovd %s ready (database %s, %zu layouts)", SP_VERSION, dbshown,
		 layouts_count(layouts));
	sdnotify_send("READY=1");

	for (;;) {
		int sig;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(&conf, file, overrides, noverrides, verbose, http, api);
			continue;
		}
		log_info("signal %d: draining and exiting", sig);
		sdnotify_send("STOPPING=1");
		break;
	}
	api_server_stop(api);
	hep_server_stop(hep);
	struct layouts *last = http_server_set_layouts(http, NULL);
	http_server_stop(http);
	layouts_free(last);
	secret_wipe(key, sizeof(key));
	validate_cleanup();
	log_info("sipprovd stopped");
	return 0;
}
