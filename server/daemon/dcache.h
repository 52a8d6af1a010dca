/*
 * dcache.h: the render cache's second tier, in a file (issue 18).  Keys
 * and values are bytes; see dcache.c.
 */
#ifndef SP_DCACHE_H
#define SP_DCACHE_H
#include <stddef.h>

struct dcache;
/* A file of max_bytes at most (index and records) in dir, unlinked at once:
 * nothing is left behind and nothing is read from a previous run.  NULL
 * with err naming dir on failure. */
struct dcache *dcache_open(const char *dir, long long max_bytes, char *err, size_t errlen);
void dcache_close(struct dcache *dc);
/* Keep val under key, replacing what the key held; older records make
 * room.  0, or -1 (too big for the file, or the write failed: errno). */
int dcache_put(struct dcache *dc, const void *key, size_t klen, const void *val, size_t vlen);
/* The value kept under key: a new buffer (the caller frees) of *vlen
 * bytes; NULL when there is none (never kept, made room for, or a record
 * written over while it was read: errno ENOENT), or when reading it would
 * have waited for the disk or for a page the kernel holds (EAGAIN). */
void *dcache_get(struct dcache *dc, const void *key, size_t klen, size_t *vlen);
#endif
