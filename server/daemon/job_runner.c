/*
 * job_runner.c: the worker thread behind POST /api/v1/jobs.  It takes the
 * oldest queued job, runs ops/reprovision.c (the CLI's engine) on its own
 * store connection and layouts, and marks it finished.  It decides nothing
 * about who may queue what (api_jobs.c does) and never shares a handle.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "job_runner.h"
#include "ops/ops.h"

#define JOB_POLL_S 2                    /* look for queued jobs at least this often */

struct job_runner {
	const struct conf *conf;
	struct store *store;            /* this thread's only */
	pthread_t th;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, woken;               /* under mu */
};

static bool stopping(void *arg)
{
	struct job_runner *w = arg;
	pthread_mutex_lock(&w->mu);
	bool s = w->stop;
	pthread_mutex_unlock(&w->mu);
	return s;
}

static int has_item(int64_t device_id, const char *result, const char *detail, void *arg)
{
	(void)device_id;
	(void)result;
	(void)detail;
	*(bool *)arg = true;
	return 1;
}

/* Targets from the job's params (as POST /jobs wrote them), or, when the
 * job has items already (a resume, or a run cut short), what did not get
 * a 200.  0 or -1 (err). */
static int targets(struct job_runner *w, const struct job_info *j, struct reprov *r, long *rate, long *timeout,
		   char *err, size_t errlen)
{
	bool items = false;
	if (store_job_item_each(w->store, j->id, false, has_item, &items) < 0)
		return sp_err(err, errlen, "cannot read the job's items");
	json_error_t je;
	json_t *p = json_loads(j->params, 0, &je);
	json_int_t v;
	if (p && (v = json_integer_value(json_object_get(p, "rate"))) > 0)
		*rate = (long)v;
	if (p && (v = json_integer_value(json_object_get(p, "timeout"))) > 0)
		*timeout = (long)v;
	const char *mac = p ? json_string_value(json_object_get(p, "device")) : NULL;
	bool drifted = p && json_is_true(json_object_get(p, "drifted"));
	int rc;
	if (items) {
		rc = reprov_add_resume(r, j->id);
	} else if (mac && *mac) {
		struct device d;
		rc = store_device_get(w->store, mac, &d);
		rc = rc == 1 ? reprov_add(r, &d) : rc == 0 ? 0 : -1;
	} else if (drifted) {
		rc = reprov_add_drifted(r, j->tenant_id);
	} else {
		rc = j->tenant_id ? reprov_add_tenant(r, j->tenant_id) : 0;
	}
	json_decref(p);
	r->job = j->id;
	return rc < 0 ? sp_err(err, errlen, "cannot list devices: %s", store_errmsg(w->store)) : 0;
}

static void run_one(struct job_runner *w, int64_t id)
{
	char err[SP_ERR_MAX];
	struct job_info *j = xmalloc(sizeof(*j));
	struct layouts *ls = NULL;
	struct reprov r;
	long rate = 50, timeout = NOTIFY_TIMER_F_MS / 1000;

	reprov_init(&r, w->store, NULL);
	if (store_job_info(w->store, id, j) != 1) {
		sp_err(err, sizeof(err), "cannot read it");
		goto fail;
	}
	if (!(ls = layouts_load(w->conf->templates, err, sizeof(err))))
		goto fail;
	r.ls = ls;
	if (store_job_start(w->store, id) < 0) {
		sp_err(err, sizeof(err), "cannot mark it started: %s", store_errmsg(w->store));
		goto fail;
	}
	if (targets(w, j, &r, &rate, &timeout, err, sizeof(err)) < 0)
		goto fail;
	size_t ns = reprov_prepare(&r);
	log_info("job %lld: reprovision %zu targets (%zu with a contact) at %ld/s", (long long)id, r.n, ns, rate);
	struct notify_opts o;
	notify_opts_init(&o);
	o.rate = (double)rate;
	o.timeout_ms = (int)(timeout * 1000);
	o.stop = stopping;
	o.stop_arg = w;
	if (reprov_run(&r, &o, err, sizeof(err)) < 0)
		goto fail;
	struct reprov_counts k;
	reprov_count(&r, &k);
	if (stopping(w))
		log_info("job %lld: stopped by shutdown; the next start resumes it", (long long)id);
	else
		log_info("job %lld: done: %zu targets, sent %ld, 200: %ld, 481: %ld, other: %ld, timeout: %ld, "
			 "no contact: %ld", (long long)id, r.n, k.sent, k.ok, k.r481, k.other, k.timeout, k.no_contact);
	goto out;
fail:
	/* Finished, so it is not picked again and again; resume retries it. */
	log_warnx("job %lld: %s", (long long)id, err);
	store_job_finish(w->store, id);
out:
	reprov_release(&r);
	layouts_free(ls);
	free(j);
}

static void *worker(void *arg)
{
	struct job_runner *w = arg;
	int64_t id;
	while (!stopping(w)) {
		while (!stopping(w) && store_job_next(w->store, &id) == 1)
			run_one(w, id);
		pthread_mutex_lock(&w->mu);
		if (!w->stop && !w->woken) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += JOB_POLL_S;
			pthread_cond_timedwait(&w->cv, &w->mu, &ts);
		}
		w->woken = false;
		pthread_mutex_unlock(&w->mu);
	}
	return NULL;
}

struct job_runner *job_runner_start(const struct conf *conf, const unsigned char *key, char *err, size_t errlen)
{
	struct job_runner *w = xcalloc(1, sizeof(*w));
	w->conf = conf;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (!(w->store = store_open(conf->database, err, errlen)) || store_use_key(w->store, key, err, errlen) < 0) {
		job_runner_stop(w);
		return NULL;
	}
	if (pthread_create(&w->th, NULL, worker, w) != 0) {
		sp_err(err, errlen, "cannot start the job worker thread");
		job_runner_stop(w);
		return NULL;
	}
	pthread_setname_np(w->th, "sp-jobs");
	w->started = true;
	return w;
}

void job_runner_wake(struct job_runner *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->woken = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void job_runner_stop(struct job_runner *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	if (w->started)
		pthread_join(w->th, NULL);
	store_close(w->store);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
