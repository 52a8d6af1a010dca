/*
 * workers.c: see workers.h.  One mutex and condition per pool; slots are
 * counted, threads are detached and give their slot back themselves.
 */
#include "workers.h"

bool workers_take(struct workers *w, int max)
{
	pthread_mutex_lock(&w->m);
	bool ok = w->running < max;
	if (ok)
		w->running++;
	pthread_mutex_unlock(&w->m);
	return ok;
}

void workers_done(struct workers *w)
{
	pthread_mutex_lock(&w->m);
	if (--w->running == 0)
		pthread_cond_broadcast(&w->idle);
	pthread_mutex_unlock(&w->m);
}

int workers_start(void *(*fn)(void *), void *arg)
{
	pthread_t th;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&th, &at, fn, arg);
	pthread_attr_destroy(&at);
	return rc ? -1 : 0;
}

void workers_drain(struct workers *w)
{
	pthread_mutex_lock(&w->m);
	while (w->running)
		pthread_cond_wait(&w->idle, &w->m);
	pthread_mutex_unlock(&w->m);
}
