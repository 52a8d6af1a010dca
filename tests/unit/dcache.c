/*
 * tests/unit/dcache.c: the render cache's file.  What is put is got back
 * byte for byte (the last record, ending the file, too); a put replaces;
 * a full ring makes room by dropping the oldest; a key close to another
 * is another key; a value larger than a quarter of the ring is refused;
 * two threads putting and getting at once get only what they put.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "core/sipprov.h"
#include "daemon/dcache.h"

static char *get_str(struct dcache *dc, const char *key)
{
	size_t n;
	char *v = dcache_get(dc, key, strlen(key), &n);
	if (!v)
		return NULL;
	char *s = xmalloc(n + 1);
	memcpy(s, v, n);
	s[n] = '\0';
	free(v);
	return s;
}

static int put_str(struct dcache *dc, const char *key, const char *val)
{
	return dcache_put(dc, key, strlen(key), val, strlen(val));
}

static bool got(struct dcache *dc, const char *key, const char *want)
{
	char *v = get_str(dc, key);
	bool same = v && want && !strcmp(v, want);
	if (!want)
		same = v == NULL;
	free(v);
	return same;
}

struct thr {
	struct dcache *dc;
	int id;
	int wrong;
};

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	char k[32], v[600], *g;
	for (int i = 0; i < 2000; i++) {
		snprintf(k, sizeof(k), "t%d-%d", t->id, i % 50);
		snprintf(v, sizeof(v), "%s=%0500d", k, i);
		put_str(t->dc, k, v);
		/* Another thread's key or ours: a value, if any, is the key's. */
		snprintf(k, sizeof(k), "t%d-%d", (t->id + i) % 2, (i * 7) % 50);
		if ((g = get_str(t->dc, k)) && strncmp(g, k, strlen(k)))
			t->wrong++;
		free(g);
	}
	return NULL;
}

int main(void)
{
	char err[SP_ERR_MAX], key[32], val[2048];
	ok(!dcache_open("/nonexistent-dir", 1 << 20, err, sizeof(err)), "a folder that does not exist is refused");
	ok(strstr(err, "render_cache_dir '/nonexistent-dir'") != NULL, "naming it: %s", err);
	ok(!dcache_open("/tmp", 512, err, sizeof(err)), "a file too small for its index is refused");

	struct dcache *dc = dcache_open("/tmp", 1 << 20, err, sizeof(err));
	ok(dc != NULL, "a 1 MiB file in /tmp");
	ok(got(dc, "nothing", NULL), "a key never put is a miss");
	is_int(put_str(dc, "a", "first"), 0, "put");
	char *v = get_str(dc, "a");
	is_str(v ? v : "(none)", "first", "got back, the last record in the file");
	free(v);
	is_int(put_str(dc, "b", ""), 0, "an empty value");
	ok(got(dc, "b", ""), "is got back empty, not missing");
	is_int(put_str(dc, "a", "second"), 0, "a put under the same key");
	ok(got(dc, "a", "second"), "replaces the value");
	ok(got(dc, "ab", NULL) && got(dc, "", NULL), "keys that start alike are other keys");

	/* The ring holds about 1 MiB: 2,000 values of 1 KiB wrap it. */
	memset(val, 'x', 1000);
	val[1000] = '\0';
	int fails = 0;
	for (int i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		memcpy(val, key, strlen(key));
		fails += put_str(dc, key, val) != 0;
	}
	is_int(fails, 0, "2,000 puts of 1 KiB");
	int newest = 0, oldest = 0;
	for (int i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		memcpy(val, key, strlen(key));
		if (i >= 1800)
			newest += got(dc, key, val);
		if (i < 200)
			oldest += got(dc, key, NULL);
	}
	is_int(newest, 200, "the newest 200 are all there");
	is_int(oldest, 200, "the oldest 200 made room");
	ok(got(dc, "a", NULL), "and the first key with them");

	char *big = xcalloc(300 * 1024, 1);
	errno = 0;
	is_int(dcache_put(dc, "big", 3, big, 300 * 1024), -1, "a value over a quarter of the ring is refused");
	is_int(errno, EFBIG, "as too big");
	free(big);

	struct thr t[2] = { { dc, 0, 0 }, { dc, 1, 0 } };
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, thr_main, &t[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	is_int(t[0].wrong + t[1].wrong, 0, "two threads at once: every value got was its key's");
	snprintf(val, sizeof(val), "t0-49=%0500d", 1999);
	ok(got(dc, "t0-49", val), "and the last put of a key is what stays");
	dcache_close(dc);
	dcache_close(NULL);
	return tap_done();
}
