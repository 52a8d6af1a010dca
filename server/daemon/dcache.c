/*
 * dcache.c: the render cache's second tier, in a file (issue 18).
 *
 * A 1,000,000-phone fleet's rendered configs, with what a hit needs beside
 * the body (about 2.5 KiB each), do not fit in memory under the 100 MiB the
 * daemon keeps to; a render costs some 35 us of CPU more than a hit.  A
 * read from here costs two pread()s, served by the kernel's page cache
 * while the file fits in it, and one AES-GCM open.
 *
 * One file in render_cache_dir, unlinked as soon as it is made: nothing
 * outlives the process, and no other process can open it by name.
 *   - An index of DC_WAYS-slot buckets, 64 bytes each: a slot holds a
 *     key's 64-bit hash (0: empty), where its record starts in the ring
 *     (64-byte units) and how many units it takes.
 *   - A ring of records written at the head, wrapping at its end: the
 *     oldest records are written over first.  A put into a full bucket
 *     replaces its oldest record's slot.
 * A record is [u32 n][nonce 12][n bytes sealed][tag 16] with plaintext
 * [u32 klen][key][value], sealed (AES-256-GCM) under a key made at open
 * and held only in memory, the nonce a counter.  Rendered configs carry
 * SIP passwords, and the disk keeps them encrypted.  The seal is also the
 * check: a slot whose record was written over, or that is read while
 * being written, does not open, and the get is a miss.  The key is stored
 * whole and compared, so a hash collision is a miss too.
 * Gets take no lock; puts take one to move the head, not to write.
 * Gets never wait on the file (RWF_NOWAIT): a page the kernel is writing
 * back to disk, or has to read from it, is a busy miss (the HTTP loop
 * renders instead).  Waiting for such a page held a loop for up to 33 ms
 * in the 1,000,000-device mix, with every connection it serves (perf
 * sched, 2026-12-05: 365 waits in 10 s, 20 of them over 5 ms).
 * Memory keeps one bit per bucket, set by the first put into it: a get
 * from a bucket never written is a miss without reading the file.  A
 * fleet that fits in render_cache never writes here, and a daemon just
 * started has written nothing: every render miss read an empty bucket,
 * 3% of sipprovd's CPU in a boot storm (perf, a fresh daemon).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include <openssl/rand.h>

#include "core/sipprov.h"
#include "dcache.h"

#define DC_UNIT  64                    /* bytes: a bucket, and a record's alignment */
#define DC_WAYS  4
#define DC_HDR   (4 + SECRET_NONCE)    /* before the sealed bytes */
#define DC_AVG   1024                  /* index slots: one per this many bytes of the file */

struct dslot {
	uint64_t hash;
	uint32_t unit;                      /* first unit in the ring */
	uint32_t units;                     /* 0: empty */
};

struct dcache {
	int fd;
	unsigned char key[SP_KEY_LEN];
	uint64_t nbuckets;                  /* a power of two */
	uint64_t ring_units;
	off_t ring_off;                     /* after the index */
	uint32_t max_units;                 /* a record's at most: a quarter of the ring */
	pthread_mutex_t mu;                 /* head */
	uint64_t head;                      /* next unit to write */
	atomic_uint_fast64_t seq;           /* the next nonce */
	_Atomic uint64_t *used;             /* a bit per bucket: written at least once */
	atomic_bool nowait;                 /* RWF_NOWAIT works here (not on every file system) */
};

static uint64_t key_hash(const void *key, size_t n)
{
	const unsigned char *p = key;
	uint64_t x = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		x = (x ^ p[i]) * 1099511628211ull;
	/* FNV's low bits, which pick the bucket, vary little between keys
	 * alike but for a few characters: mix (MurmurHash3's finalizer). */
	x = (x ^ (x >> 33)) * 0xff51afd7ed558ccdull;
	x = (x ^ (x >> 33)) * 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x ? x : 1;
}

struct dcache *dcache_open(const char *dir, long long max_bytes, char *err, size_t errlen)
{
	char path[4096];
	uint64_t slots = (uint64_t)max_bytes / DC_AVG, nb = 1;
	while (nb * DC_WAYS < slots)
		nb <<= 1;
	off_t index = (off_t)(nb * DC_UNIT);
	if (max_bytes < 16 * index || max_bytes / DC_UNIT > UINT32_MAX) {
		sp_err(err, errlen, "render cache file size %lld bytes is out of range", max_bytes);
		return NULL;
	}
	if (snprintf(path, sizeof(path), "%s/sipprov-render-XXXXXX", dir) >= (int)sizeof(path)) {
		sp_err(err, errlen, "render_cache_dir '%s' is too long", dir);
		return NULL;
	}
	int fd = mkstemp(path);
	if (fd < 0) {
		sp_err(err, errlen, "cannot create a file in render_cache_dir '%s': %s", dir, strerror(errno));
		return NULL;
	}
	unlink(path);
	struct dcache *dc = xcalloc(1, sizeof(*dc));
	dc->fd = fd;
	dc->nbuckets = nb;
	dc->ring_off = index;
	dc->ring_units = (uint64_t)(max_bytes - index) / DC_UNIT;
	dc->max_units = (uint32_t)(dc->ring_units / 4);
	dc->used = xcalloc((nb + 63) / 64, sizeof(*dc->used));
	pthread_mutex_init(&dc->mu, NULL);
	atomic_init(&dc->nowait, true);
	/* Sparse: the index reads as empty slots until written. */
	if (ftruncate(fd, index) != 0 || RAND_bytes(dc->key, sizeof(dc->key)) != 1) {
		sp_err(err, errlen, "cannot prepare the render cache file in '%s': %s", dir, strerror(errno));
		dcache_close(dc);
		return NULL;
	}
	return dc;
}

void dcache_close(struct dcache *dc)
{
	if (!dc)
		return;
	close(dc->fd);
	secret_wipe(dc->key, sizeof(dc->key));
	pthread_mutex_destroy(&dc->mu);
	free(dc->used);
	free(dc);
}

static off_t bucket_off(const struct dcache *dc, uint64_t hash)
{
	return (off_t)((hash & (dc->nbuckets - 1)) * DC_UNIT);
}

/* The bucket's bit in used, and its word. */
static _Atomic uint64_t *bucket_word(const struct dcache *dc, uint64_t hash, uint64_t *bit)
{
	uint64_t b = hash & (dc->nbuckets - 1);
	*bit = 1ull << (b & 63);
	return &dc->used[b >> 6];
}

static bool full_read(int fd, void *p, size_t n, off_t off)
{
	return pread(fd, p, n, off) == (ssize_t)n;
}

/* A get's read: 1 read, 0 not (a short read, an error), -1 busy: the
 * kernel would have waited for the disk or for a page it holds locked
 * (errno EAGAIN).  A file system that refuses RWF_NOWAIT is read as
 * before, waits and all. */
static int get_read(struct dcache *dc, void *p, size_t n, off_t off)
{
	if (atomic_load_explicit(&dc->nowait, memory_order_relaxed)) {
		struct iovec v = { .iov_base = p, .iov_len = n };
		ssize_t r = preadv2(dc->fd, &v, 1, off, RWF_NOWAIT);
		if (r == (ssize_t)n)
			return 1;
		/* Part of it at once, the rest only by waiting: busy too. */
		if ((r < 0 && errno == EAGAIN) || r > 0) {
			errno = EAGAIN;
			return -1;
		}
		if (r == 0 || (errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL))
			return 0;
		atomic_store_explicit(&dc->nowait, false, memory_order_relaxed);
	}
	return full_read(dc->fd, p, n, off) ? 1 : 0;
}

int dcache_put(struct dcache *dc, const void *key, size_t klen, const void *val, size_t vlen)
{
	size_t n = 4 + klen + vlen, size = DC_HDR + n + SECRET_TAG;
	uint64_t units = (size + DC_UNIT - 1) / DC_UNIT;
	if (n > UINT32_MAX || units > dc->max_units) {
		errno = EFBIG;
		return -1;
	}
	/* Whole units: a get reads them whole, the last record's too. */
	unsigned char *plain = xmalloc(n), *rec = xcalloc(units, DC_UNIT);
	uint32_t k32 = (uint32_t)klen, n32 = (uint32_t)n;
	uint64_t seq = atomic_fetch_add(&dc->seq, 1);
	memcpy(plain, &k32, 4);
	memcpy(plain + 4, key, klen);
	memcpy(plain + 4 + klen, val, vlen);
	memcpy(rec, &n32, 4);
	memset(rec + 4, 0, SECRET_NONCE);
	memcpy(rec + 4, &seq, sizeof(seq));
	int rc = secret_seal(dc->key, rec + 4, plain, n, rec + DC_HDR);
	secret_wipe(plain, n);
	free(plain);
	if (rc < 0) {
		free(rec);
		errno = EIO;
		return -1;
	}
	pthread_mutex_lock(&dc->mu);
	if (dc->head + units > dc->ring_units)
		dc->head = 0;
	uint64_t at = dc->head;
	dc->head += units;
	pthread_mutex_unlock(&dc->mu);
	ssize_t w = pwrite(dc->fd, rec, units * DC_UNIT, dc->ring_off + (off_t)(at * DC_UNIT));
	free(rec);
	if (w != (ssize_t)(units * DC_UNIT)) {
		if (w >= 0)
			errno = ENOSPC;
		return -1;
	}
	/* The bucket: this key's slot, else an empty one, else the one whose
	 * record is oldest (furthest behind the head).  Two puts into one
	 * bucket at once may lose one slot: a later miss, nothing worse. */
	uint64_t hash = key_hash(key, klen);
	struct dslot b[DC_WAYS];
	off_t boff = bucket_off(dc, hash);
	if (!full_read(dc->fd, b, sizeof(b), boff))
		memset(b, 0, sizeof(b));
	int v = -1;
	for (int i = 0; i < DC_WAYS && v < 0; i++)
		if (b[i].units && b[i].hash == hash)
			v = i;
	for (int i = 0; i < DC_WAYS && v < 0; i++)
		if (!b[i].units)
			v = i;
	if (v < 0) {
		uint64_t oldest = 0;
		for (int i = 0; i < DC_WAYS; i++) {
			uint64_t age = (at + dc->ring_units - b[i].unit) % dc->ring_units;
			if (v < 0 || age > oldest) {
				v = i;
				oldest = age;
			}
		}
	}
	struct dslot s = { .hash = hash, .unit = (uint32_t)at, .units = (uint32_t)units };
	uint64_t bit;
	_Atomic uint64_t *word = bucket_word(dc, hash, &bit);
	atomic_fetch_or(word, bit);
	if (pwrite(dc->fd, &s, sizeof(s), boff + (off_t)(v * sizeof(s))) != (ssize_t)sizeof(s))
		return -1;
	return 0;
}

/* The value of the record slot s points to, if it opens and holds key:
 * read, opened in place (GCM allows it) and moved to the front of one
 * buffer.  A plaintext copy beside the record cost a file hit a second
 * allocation and a copy.  *busy set when the read would have waited. */
static void *record_get(struct dcache *dc, const struct dslot *s, const void *key, size_t klen, size_t *vlen,
			bool *busy)
{
	if (s->units > dc->max_units || s->unit + (uint64_t)s->units > dc->ring_units)
		return NULL;
	size_t size = (size_t)s->units * DC_UNIT;
	unsigned char *rec = xmalloc(size), *plain = rec + DC_HDR;
	uint32_t n = 0, k32;
	bool opened = false;
	int got = get_read(dc, rec, size, dc->ring_off + (off_t)s->unit * DC_UNIT);
	if (got <= 0) {
		*busy = got < 0;
		goto miss;
	}
	memcpy(&n, rec, 4);
	if (n < 4 + klen || DC_HDR + (size_t)n + SECRET_TAG > size)
		goto miss;
	opened = true;                  /* a failed open may leave plaintext behind too */
	if (secret_open(dc->key, rec + 4, plain, n, plain) < 0)
		goto miss;
	memcpy(&k32, plain, 4);
	if (k32 != klen || memcmp(plain + 4, key, klen) != 0)
		goto miss;
	*vlen = n - 4 - klen;
	memmove(rec, plain + 4 + klen, *vlen);
	secret_wipe(rec + *vlen, size - *vlen);
	return rec;
miss:
	if (opened)
		secret_wipe(rec, size);
	free(rec);
	return NULL;
}

void *dcache_get(struct dcache *dc, const void *key, size_t klen, size_t *vlen)
{
	uint64_t hash = key_hash(key, klen), bit;
	_Atomic uint64_t *word = bucket_word(dc, hash, &bit);
	struct dslot b[DC_WAYS];
	bool busy = false;
	int got = atomic_load(word) & bit ? get_read(dc, b, sizeof(b), bucket_off(dc, hash)) : 0;
	for (int i = 0; got > 0 && i < DC_WAYS && !busy; i++) {
		if (!b[i].units || b[i].hash != hash)
			continue;
		void *v = record_get(dc, &b[i], key, klen, vlen, &busy);
		if (v)
			return v;
	}
	errno = got < 0 || busy ? EAGAIN : ENOENT;
	return NULL;
}
