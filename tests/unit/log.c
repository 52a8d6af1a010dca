/*
 * unit/log.c: log_init may run (SIGHUP) while other threads log.  What
 * this checks shows under `make tsan`: a level that is not an atomic is a
 * reported data race there (exit 66).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "tap.h"
#include "core/sipprov.h"

static atomic_bool done;

static void *reloader(void *arg)
{
	for (int i = 0; i < 2000; i++)
		log_init(i % 2 ? LOG_LVL_ERR : LOG_LVL_WARN, false);
	atomic_store(&done, true);
	return NULL;
}

int main(void)
{
	pthread_t t;
	long calls = 0;
	log_init(LOG_LVL_ERR, false);
	pthread_create(&t, NULL, reloader, NULL);
	/* Debug lines are filtered at both levels: nothing is printed, but
	 * every call reads the level while the other thread writes it. */
	while (!atomic_load(&done) || calls < 2000) {
		log_debug("filtered %ld", calls);
		calls++;
	}
	pthread_join(t, NULL);
	ok(calls >= 2000, "%ld log calls while the level was re-set 2000 times", calls);
	is_int(log_level_parse("debug"), LOG_LVL_DEBUG, "debug parses");
	is_str(log_level_parse("loud") < 0 ? "refused" : "accepted", "refused", "an unknown level is refused");
	return tap_done();
}
