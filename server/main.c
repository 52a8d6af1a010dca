/*
 * main.c: sipprovd.  Flags -d (foreground; logs to stderr), -n (check the
 * configuration and exit), -v (more logging), -f FILE, -o key=value.
 * SIGHUP reloads layouts and reopens the access log; SIGTERM/SIGINT drain
 * and exit, freeing everything.  All work lives in the library.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hep.h"
#include "http.h"
#include "validate.h"

static void usage(void)
{
	fprintf(stderr, "usage: sipprovd [-d] [-n] [-v] [-f FILE] [-o key=value ...]\n");
	exit(2);
}

static void key_file_of(const struct conf *c, char *out, size_t n)
{
	if (c->key_file[0])
		sp_strlcpy(out, c->key_file, n);
	else
		snprintf(out, n, "%s.key", c->database);
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
	conf_init(&conf);
	if (!file && access("/etc/sipprov/sipprovd.conf", R_OK) == 0)
		file = "/etc/sipprov/sipprovd.conf";
	if (file && conf_load(&conf, file, err, sizeof(err)) < 0)
		fatalx("%s", err);
	for (int i = 0; i < noverrides; i++)
		if (conf_set(&conf, overrides[i], err, sizeof(err)) < 0)
			fatalx("-o %s: %s", overrides[i], err);
	int lvl = log_level_parse(conf.log_level);
	if (lvl < 0)
		fatalx("log_level '%s' unknown (error, warn, info, debug)", conf.log_level);
	lvl += verbose;
	if (lvl > LOG_LVL_DEBUG)
		lvl = LOG_LVL_DEBUG;

	/* The relative default serves a source tree; an installed daemon
	 * falls back to the installed layouts. */
	if (!strcmp(conf.templates, "templates") && access("templates", F_OK) < 0)
		sp_strlcpy(conf.templates, SP_DATADIR "/templates", sizeof(conf.templates));
	struct layouts *layouts = layouts_load(conf.templates, err, sizeof(err));
	if (!layouts)
		fatalx("%s", err);
	key_file_of(&conf, kf, sizeof(kf));
	if (secret_key_load(kf, key, err, sizeof(err)) < 0)
		fatalx("%s", err);
	struct store *probe = store_open(conf.database, err, sizeof(err));
	if (!probe)
		fatalx("%s", err);
	store_close(probe);
	if (check_only) {
		if (verbose)
			conf_dump(&conf, stdout);
		printf("configuration OK\n");
		layouts_free(layouts);
		secret_wipe(key, sizeof(key));
		return 0;
	}

	if (!foreground) {
		if (daemon(1, 0) < 0)
			fatal("daemon");
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
	log_info("sipprovd %s ready (database %s, %zu layouts)", SP_VERSION, conf.database,
		 layouts_count(layouts));

	for (;;) {
		int sig;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			struct layouts *fresh = layouts_load(conf.templates, err, sizeof(err));
			if (!fresh) {
				log_warnx("reload refused, keeping the running layouts: %s", err);
				continue;
			}
			layouts_free(http_server_set_layouts(http, fresh));
			http_server_reopen_log(http);
			log_info("reloaded %zu layouts", layouts_count(fresh));
			continue;
		}
		log_info("signal %d: draining and exiting", sig);
		break;
	}
	hep_server_stop(hep);
	struct layouts *last = http_server_set_layouts(http, NULL);
	http_server_stop(http);
	layouts_free(last);
	secret_wipe(key, sizeof(key));
	validate_cleanup();
	log_info("sipprovd stopped");
	return 0;
}
