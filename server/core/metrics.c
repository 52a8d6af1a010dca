/*
 * metrics.c: Prometheus counters keyed by their full series text.  The hot
 * path is lock-free (atomic add on a slot found by hashing the literal's
 * text); only the first use of a series takes the mutex to claim a slot.
 * Gauges computed from the database are appended by their owners.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "sipprov.h"

#define METRIC_SLOTS 512

static struct {
	_Atomic(const char *) series;
	atomic_long value;
} slots[METRIC_SLOTS];
static pthread_mutex_t claim = PTHREAD_MUTEX_INITIALIZER;

static size_t hash(const char *s)
{
	size_t h = 5381;
	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

void metrics_add(const char *series, long n)
{
	size_t h = hash(series);
	for (size_t i = 0; i < METRIC_SLOTS; i++) {
		size_t k = (h + i) % METRIC_SLOTS;
		const char *cur = atomic_load(&slots[k].series);
		if (cur && (cur == series || strcmp(cur, series) == 0)) {
			atomic_fetch_add(&slots[k].value, n);
			return;
		}
		if (!cur) {
			pthread_mutex_lock(&claim);
			cur = atomic_load(&slots[k].series);
			if (!cur)
				atomic_store(&slots[k].series, series);
			pthread_mutex_unlock(&claim);
			if (!cur || strcmp(cur, series) == 0) {
				atomic_fetch_add(&slots[k].value, n);
				return;
			}
		}
	}
	/* Table full: drop the sample rather than block a request. */
}

static int by_series(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void metrics_render(struct buf *out)
{
	const char *names[METRIC_SLOTS];
	long values[METRIC_SLOTS];
	size_t n = 0;
	char last[128] = "";
	for (size_t k = 0; k < METRIC_SLOTS; k++) {
		const char *s = atomic_load(&slots[k].series);
		if (s)
			names[n++] = s;
	}
	qsort(names, n, sizeof(names[0]), by_series);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < METRIC_SLOTS; k++)
			if (atomic_load(&slots[k].series) == names[i])
				values[i] = atomic_load(&slots[k].value);
		size_t base = strcspn(names[i], "{");
		if (base < sizeof(last) && (strlen(last) != base || strncmp(last, names[i], base))) {
			memcpy(last, names[i], base);
			last[base] = '\0';
			buf_printf(out, "# TYPE %s counter\n", last);
		}
		buf_printf(out, "%s %ld\n", names[i], values[i]);
	}
}
