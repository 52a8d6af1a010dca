/*
 * firmware_http.c: firmware downloads for phones.  The answer is decided
 * into phone_req.h's struct, so both phone listeners send it: the file goes
 * out by sendfile (libmicrohttpd's fd responses, or phone_listen.c's own;
 * never copied into memory), with
 * a strong ETag (its SHA-256), If-None-Match, and one byte range so an
 * interrupted download resumes.  It does not decide who may fetch: images
 * are the vendors' public files and the URL's first segment is their hash.
 *
 * Several nodes on one PostgreSQL database each read their firmware_dir,
 * which the admin shares or copies (rsync: names are hashes).  A node whose
 * folder lacks an image, or holds other bytes under its name, answers 404
 * as for an unknown image and logs it once, with the hash to copy.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "firmware_http.h"

static bool digits(const char **p, uint64_t *v)
{
	const char *s = *p;
	*v = 0;
	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		uint64_t d = (uint64_t)(*s - '0');
		if (*v > (UINT64_MAX - d) / 10)
			return false;
		*v = *v * 10 + d;
	}
	*p = s;
	return true;
}

int firmware_range(const char *hdr, uint64_t size, uint64_t *off, uint64_t *len)
{
	uint64_t a, b;
	const char *p = hdr;
	if (!p || strncmp(p, "bytes=", 6))
		return 0;
	p += 6;
	while (*p == ' ')
		p++;
	if (*p == '-') {                        /* the last n bytes */
		p++;
		if (!digits(&p, &b) || *p)
			return 0;
		if (b == 0 || size == 0)
			return -1;
		*len = b < size ? b : size;
		*off = size - *len;
		return 1;
	}
	if (!digits(&p, &a) || *p++ != '-')
		return 0;
	if (*p == '\0') {
		b = UINT64_MAX;
	} else if (!digits(&p, &b) || *p || b < a) {
		return 0;                           /* a list, or nonsense: the whole file */
	}
	if (a >= size)
		return -1;
	*off = a;
	*len = (b >= size - 1 ? size - 1 : b) - a + 1;
	return 1;
}

/* A short text answer, without Cache-Control (a 404 may become a 200
 * once the file is copied in).  cr: Content-Range or NULL. */
static unsigned text(struct phone_req *q, unsigned status, const char *body, const char *cr)
{
	struct phone_resp *r = &q->resp;
	phone_resp_reset(r);
	r->status = status;
	r->ctype = "text/plain; charset=utf-8";
	r->body = body;
	r->len = strlen(body);
	if (cr)
		sp_strlcpy(r->range, cr, sizeof(r->range));
	return status;
}

/* What this node last found for each image it was asked for.  A file is
 * hashed once per version of it (device, inode, size, mtime), not per
 * download: 30 MB per request would be the daemon's bottleneck.  The
 * verdict changing is what gets logged, so each missing image is one
 * line however many phones ask.  Only images with a row get an entry. */
enum fw_verdict { FW_UNSEEN, FW_OK, FW_NODIR, FW_MISSING, FW_WRONG };
struct fw_seen {
	char sha[65];
	enum fw_verdict verdict;
	bool hashed;                        /* the file below was hashed: verdict OK or WRONG for it */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};
#define FW_SEEN_MAX 4096                /* then forget all: re-hashed, re-logged, never unbounded */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fw_seen *seen;
static size_t nseen, seen_cap;

/* Under seen_lock. */
static struct fw_seen *seen_get(const char *sha)
{
	for (size_t i = 0; i < nseen; i++)
		if (!strcmp(seen[i].sha, sha))
			return &seen[i];
	if (nseen == FW_SEEN_MAX)
		nseen = 0;
	if (nseen == seen_cap) {
		seen_cap = seen_cap ? seen_cap * 2 : 16;
		seen = xrealloc(seen, seen_cap * sizeof(*seen));
	}
	struct fw_seen *e = &seen[nseen++];
	memset(e, 0, sizeof(*e));
	memcpy(e->sha, sha, sizeof(e->sha));
	return e;
}

static bool same_file(const struct fw_seen *e, const struct stat *st)
{
	return e->hashed && e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size &&
	       e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* FW_OK or FW_WRONG if this very file was hashed before, else FW_UNSEEN. */
static enum fw_verdict seen_hashed(const char *sha, const struct stat *st)
{
	pthread_mutex_lock(&seen_lock);
	struct fw_seen *e = seen_get(sha);
	enum fw_verdict v = same_file(e, st) ? e->verdict : FW_UNSEEN;
	pthread_mutex_unlock(&seen_lock);
	return v;
}

/* Record a verdict (st: the file hashed for it, or NULL); returns the
 * previous one. */
static enum fw_verdict seen_set(const char *sha, enum fw_verdict v, const struct stat *st)
{
	pthread_mutex_lock(&seen_lock);
	struct fw_seen *e = seen_get(sha);
	enum fw_verdict was = e->verdict;
	e->verdict = v;
	e->hashed = st != NULL;
	if (st) {
		e->dev = st->st_dev;
		e->ino = st->st_ino;
		e->size = st->st_size;
		e->mtime = st->st_mtim;
	}
	pthread_mutex_unlock(&seen_lock);
	return was;
}

/* The SHA-256 of the whole file fd, as hex; -1 on a read error. */
static int hash_fd(int fd, char out[65])
{
	enum { CHUNK = 65536 };
	unsigned char *buf = xmalloc(CHUNK), md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	off_t at = 0;
	ssize_t r;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while (ok && (r = pread(fd, buf, CHUNK, at)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		ok = r > 0 && EVP_DigestUpdate(ctx, buf, (size_t)r);
		at += r > 0 ? r : 0;
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 32;
	EVP_MD_CTX_free(ctx);
	free(buf);
	if (ok)
		sp_hex(md, mdlen, out);
	return ok ? 0 : -1;
}

/* This node cannot serve an image the table has: 404, as for an unknown
 * one (the phone retries later, or another node serves it), and one log
 * line per image and verdict naming the hash, so the admin knows what to
 * copy where.  hashed: the file the verdict is for, when it was hashed. */
static unsigned not_here(struct phone_req *q, const char *sha, enum fw_verdict v, const char *dir, const char *why,
			 const struct stat *hashed)
{
	if (seen_set(sha, v, hashed) != v) {
		if (v == FW_NODIR)
			log_warnx("firmware %s: firmware_dir is not set (images on PostgreSQL need it): answering 404; "
				  "set it to the folder the images are added to", sha);
		else if (v == FW_MISSING)
			log_warnx("firmware %s: not in this node's firmware_dir '%s' (%s): answering 404 until "
				  "the file %s is copied there", sha, dir, why, sha);
		else
			log_warnx("firmware %s: '%s/%s' is not that image (%s): answering 404 until the right file is "
				  "copied there", sha, dir, sha, why);
	}
	return text(q, 404, "not found\n", NULL);
}

unsigned firmware_serve(struct phone_req *q, struct store *s, const char *dir, const char *url, uint64_t *bytes)
{
	char sha[65], path[4096], etag[80], cr[96];
	const char *p = url + 4, *slash = strchr(p, '/');
	struct firmware f;
	struct stat st;
	uint64_t off = 0, len;
	int fd, part;

	*bytes = 0;
	/* /fw/<64 hex>/<name>: the name is the phone's (some want theirs). */
	if (!slash || slash - p != 64 || !slash[1] || strchr(slash + 1, '/'))
		return text(q, 404, "not found\n", NULL);
	memcpy(sha, p, 64);
	sha[64] = '\0';
	if (!firmware_sha_ok(sha) || store_firmware_by_sha(s, sha, &f) != 1)
		return text(q, 404, "not found\n", NULL);
	if (!dir || !*dir)
		return not_here(q, sha, FW_NODIR, "", "", NULL);
	if (firmware_file(dir, sha, path, sizeof(path)) < 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return not_here(q, sha, FW_MISSING, dir, strerror(errno), NULL);
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return not_here(q, sha, FW_MISSING, dir, strerror(e), NULL);
	}
	char why[96];
	if ((uint64_t)st.st_size != (uint64_t)f.size) {
		close(fd);
		snprintf(why, sizeof(why), "size %lld differs from the table's %lld", (long long)st.st_size,
			 (long long)f.size);
		return not_here(q, sha, FW_WRONG, dir, why, NULL);
	}
	enum fw_verdict v = seen_hashed(sha, &st);
	if (v == FW_WRONG) {
		close(fd);
		return text(q, 404, "not found\n", NULL);
	}
	if (v != FW_OK) {
		char got[65];
		if (hash_fd(fd, got) < 0) {
			int e = errno;
			close(fd);
			return not_here(q, sha, FW_MISSING, dir, strerror(e ? e : EIO), NULL);
		}
		if (strcmp(got, sha)) {
			close(fd);
			snprintf(why, sizeof(why), "its sha256 is %.16s..", got);
			return not_here(q, sha, FW_WRONG, dir, why, &st);
		}
		v = seen_set(sha, FW_OK, &st);
		if (v != FW_UNSEEN && v != FW_OK)
			log_info("firmware %s: now in '%s': serving it", sha, dir);
	}
	len = (uint64_t)st.st_size;
	snprintf(etag, sizeof(etag), "\"%s\"", sha);
	const char *inm = phone_header(q, "If-None-Match");
	if (inm && (strstr(inm, etag) || !strcmp(inm, "*"))) {
		close(fd);
		phone_resp_reset(&q->resp);
		q->resp.status = 304;
		q->resp.body = "";
		sp_strlcpy(q->resp.etag, etag, sizeof(q->resp.etag));
		return 304;
	}
	/* If-Range: the range only while the file is still the one named. */
	const char *ifr = phone_header(q, "If-Range");
	part = ifr && strcmp(ifr, etag) ? 0 : firmware_range(phone_header(q, "Range"), len, &off, &len);
	if (part < 0) {
		close(fd);
		snprintf(cr, sizeof(cr), "bytes */%" PRIu64, (uint64_t)st.st_size);
		return text(q, 416, "range not satisfiable\n", cr);
	}
	struct phone_resp *r = &q->resp;
	phone_resp_reset(r);
	r->status = part ? 206 : 200;
	r->ctype = "application/octet-stream";
	r->cache = "public, max-age=31536000, immutable";
	r->ranges = true;
	sp_strlcpy(r->etag, etag, sizeof(r->etag));
	if (part)
		snprintf(r->range, sizeof(r->range), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, off, off + len - 1,
			 (uint64_t)st.st_size);
	r->body = "";
	r->file = true;
	r->fd = fd;
	r->off = off;
	r->len = (size_t)len;
	*bytes = len;
	return r->status;
}
