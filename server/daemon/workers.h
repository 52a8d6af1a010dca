/*
 * workers.h: a capped count of detached worker threads for slow work the
 * admin listener hands off while a connection is suspended (diagnoses,
 * console password checks): take a slot or learn the cap is reached,
 * start the thread, give the slot back, wait until none runs.  It knows
 * nothing of the work or of HTTP.
 */
#ifndef SP_WORKERS_H
#define SP_WORKERS_H
#include <pthread.h>
#include <stdbool.h>

struct workers {
	pthread_mutex_t m;
	pthread_cond_t idle;
	int running;
};
#define WORKERS_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 }

/* A slot if fewer than max run: true (give it back with workers_done). */
bool workers_take(struct workers *w, int max);
void workers_done(struct workers *w);
/* Start fn(arg) on a detached thread: 0, or -1 (the slot is still held). */
int workers_start(void *(*fn)(void *), void *arg);
/* Wait until every slot is given back (before MHD_stop_daemon). */
void workers_drain(struct workers *w);
#endif
