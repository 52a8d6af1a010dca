/*
 * connguard.c: the connection budget and the request-header deadline of the
 * device listeners.  Every connection is known from accept to close; while
 * it waits for a request's headers it sits on one list ordered by when it
 * started waiting.  A connection still waiting after header_timeout, or the
 * oldest waiting one when the budget is full, is shut down (shutdown(2) on
 * its socket: libmicrohttpd then sees EOF and closes it in its own thread).
 * When many connections have closed since the last look, it returns the
 * freed connection memory to the system (malloc_trim).
 * It does not read sockets, parse HTTP or decide authentication.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/sipprov.h"
#include "connguard.h"

#define TRIM_DROP 256                   /* connections gone (x 32 KiB pools) before a malloc_trim */

struct cg_conn {
	struct cg_conn *prev, *next;    /* on the waiting list while waiting */
	int fd;
	bool waiting;
	bool shed;                      /* shut down by us, close not yet seen */
	long long since;                /* monotonic ms: accept or end of the last response */
};

struct connguard {
	pthread_mutex_t mu;
	pthread_cond_t cv;              /* wakes the reaper to stop */
	struct cg_conn *head, *tail;    /* waiting, oldest first */
	long live;                      /* open and not shed */
	long peak;                      /* most live since the last trim */
	long budget;
	long long timeout_ms;
	bool stop;
	pthread_t thr;
};

static void unlink_waiting(struct connguard *g, struct cg_conn *e)
{
	if (!e->waiting)
		return;
	if (e->prev)
		e->prev->next = e->next;
	else
		g->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		g->tail = e->prev;
	e->prev = e->next = NULL;
	e->waiting = false;
}

static void push_waiting(struct connguard *g, struct cg_conn *e)
{
	e->since = sp_mono_ms();
	e->prev = g->tail;
	e->next = NULL;
	if (g->tail)
		g->tail->next = e;
	else
		g->head = e;
	g->tail = e;
	e->waiting = true;
}

/* Caller holds mu.  The fd stays valid: libmicrohttpd reports the close
 * (connguard_closed, which takes mu) before it closes the socket. */
static void shed(struct connguard *g, struct cg_conn *e, const char *series)
{
	unlink_waiting(g, e);
	e->shed = true;
	g->live--;
	shutdown(e->fd, SHUT_RDWR);
	metrics_inc(series);
}

static void *reaper_main(void *arg)
{
	struct connguard *g = arg;
	pthread_mutex_lock(&g->mu);
	while (!g->stop) {
		long long now = sp_mono_ms();
		while (g->head && now - g->head->since >= g->timeout_ms)
			shed(g, g->head, "sipprov_conn_shed_total{reason=\"header_timeout\"}");
		/* Connection pools come from malloc's arenas and are reused, not
		 * mapped and unmapped per connection: munmap's TLB shootdowns took
		 * a third of sipprovd's CPU in a boot storm.  After a crowd (an
		 * attack, a storm) has gone, the freed pages go back. */
		if (g->peak - g->live >= TRIM_DROP) {
			g->peak = g->live;
			pthread_mutex_unlock(&g->mu);
			malloc_trim(0);
			pthread_mutex_lock(&g->mu);
			continue;
		}
		struct timespec until = sp_clock_after(CLOCK_REALTIME, 200);
		pthread_cond_timedwait(&g->cv, &g->mu, &until);
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

struct connguard *connguard_new(long budget, long header_timeout)
{
	struct connguard *g = xcalloc(1, sizeof(*g));
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->budget = budget;
	g->timeout_ms = header_timeout * 1000;
	pthread_create(&g->thr, NULL, reaper_main, g);
	pthread_setname_np(g->thr, "sp-reaper");
	return g;
}

void connguard_free(struct connguard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->mu);
	g->stop = true;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->thr, NULL);
	/* Every listener is stopped before this: each connection was closed. */
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

void connguard_started(struct connguard *g, int fd, void **ctx)
{
	struct cg_conn *e = xcalloc(1, sizeof(*e));
	e->fd = fd;
	pthread_mutex_lock(&g->mu);
	push_waiting(g, e);
	if (++g->live > g->peak)
		g->peak = g->live;
	/* Full: make room by dropping whoever has waited longest for headers
	 * (a trickler, sooner than a phone that sends its request at once).
	 * If nobody is waiting but the new one, it is the one dropped. */
	while (g->live > g->budget && g->head)
		shed(g, g->head, "sipprov_conn_shed_total{reason=\"budget\"}");
	pthread_mutex_unlock(&g->mu);
	*ctx = e;
}

void connguard_closed(struct connguard *g, void **ctx)
{
	struct cg_conn *e = *ctx;
	if (!e)
		return;
	pthread_mutex_lock(&g->mu);
	unlink_waiting(g, e);
	if (!e->shed)
		g->live--;
	pthread_mutex_unlock(&g->mu);
	free(e);
	*ctx = NULL;
}

void connguard_headers_done(struct connguard *g, void *ctx)
{
	struct cg_conn *e = ctx;
	if (!e)
		return;
	pthread_mutex_lock(&g->mu);
	unlink_waiting(g, e);
	pthread_mutex_unlock(&g->mu);
}

void connguard_request_done(struct connguard *g, void *ctx)
{
	struct cg_conn *e = ctx;
	if (!e)
		return;
	pthread_mutex_lock(&g->mu);
	if (!e->shed && !e->waiting)
		push_waiting(g, e);
	pthread_mutex_unlock(&g->mu);
}
