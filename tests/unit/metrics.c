/*
 * unit/metrics.c: the request-duration histogram's bucket edges (a bound is
 * inclusive, as Prometheus's le says), its counts under 4 threads observing
 * at once (atomics: none lost), and that the rendering gives every family
 * HELP and TYPE and shows known series at 0 before their first event.
 */
#include <pthread.h>
#include <string.h>

#include "tap.h"
#include "core/sipprov.h"

#define THREADS 4
#define PER_THREAD 50000

static void *observer(void *arg)
{
	(void)arg;
	for (int i = 0; i < PER_THREAD; i++)
		metrics_observe_request(METRICS_ROUTE_API, i % 3 == 0 ? 400 : 3000);
	return NULL;
}

static long value(const char *text, const char *series)
{
	const char *p = strstr(text, series);
	long v = -1;
	if (p && sscanf(p + strlen(series), " %ld", &v) != 1)
		v = -1;
	return v;
}

int main(void)
{
	struct buf out;
	pthread_t t[THREADS];

	log_init(LOG_LVL_ERR, false);
	buf_init(&out, 1 << 20);
	metrics_render(&out);
	ok(strstr(out.data, "# HELP sipprov_lockouts_total ") && strstr(out.data, "# TYPE sipprov_lockouts_total counter"),
	   "a counter has HELP and TYPE before its first event");
	is_int(value(out.data, "\nsipprov_lockouts_total"), 0, "and shows 0");
	is_int(value(out.data, "\nsipprov_http_requests_total{route=\"device\",code=\"401\"}"), 0,
	       "a labelled series shows 0 before its first event");
	is_str(strstr(out.data, "sipprov_build_info{version=\"" SP_VERSION "\"} 1\n") ? "present" : "missing", "present",
	       "build info names the version");
	buf_release(&out);

	/* Edges: 500 us is in le="0.0005"; 501 us is not. */
	metrics_observe_request(METRICS_ROUTE_FIRMWARE, 500);
	metrics_observe_request(METRICS_ROUTE_FIRMWARE, 501);
	metrics_observe_request(METRICS_ROUTE_FIRMWARE, 60LL * 1000000);   /* above every bound */
	metrics_inc("sipprov_lockouts_total");
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, observer, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	buf_init(&out, 1 << 20);
	metrics_render(&out);
	const char *f = "sipprov_http_request_duration_seconds_bucket{route=\"firmware\",le=";
	char s[160];
	snprintf(s, sizeof(s), "%s\"0.0005\"}", f);
	is_int(value(out.data, s), 1, "500 us counts in le=0.0005 (bounds are inclusive)");
	snprintf(s, sizeof(s), "%s\"0.001\"}", f);
	is_int(value(out.data, s), 2, "501 us in le=0.001, cumulative");
	snprintf(s, sizeof(s), "%s\"10\"}", f);
	is_int(value(out.data, s), 2, "60 s is above the largest bound");
	snprintf(s, sizeof(s), "%s\"+Inf\"}", f);
	is_int(value(out.data, s), 3, "... and in +Inf");
	is_int(value(out.data, "sipprov_http_request_duration_seconds_count{route=\"api\"}"), THREADS * PER_THREAD,
	       "%d observations from %d threads at once: none lost", THREADS * PER_THREAD, THREADS);
	long small = (PER_THREAD + 2) / 3 * THREADS;
	is_int(value(out.data, "sipprov_http_request_duration_seconds_bucket{route=\"api\",le=\"0.0005\"}"), small,
	       "and each in its bucket");
	is_int(value(out.data, "\nsipprov_lockouts_total"), 1, "a counter counts");
	/* Every sample line follows a TYPE line of its family. */
	int orphans = 0;
	char fam[128] = "";
	for (char *line = out.data; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (!strncmp(line, "# TYPE ", 7)) {
			sscanf(line + 7, "%127s", fam);
			continue;
		}
		if (line[0] == '#')
			continue;
		if (strncmp(line, fam, strlen(fam)) || !fam[0])
			orphans++;
	}
	is_int(orphans, 0, "every sample line belongs to the family of the TYPE line above it");
	buf_release(&out);
	return tap_done();
}
