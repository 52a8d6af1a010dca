/*
 * firmware_http.c: firmware downloads for phones.  The file goes out by
 * sendfile (libmicrohttpd's fd responses; never copied into memory), with
 * a strong ETag (its SHA-256), If-None-Match, and one byte range so an
 * interrupted download resumes.  It does not decide who may fetch: images
 * are the vendors' public files and the URL's first segment is their hash.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
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

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *body, const char *cr,
			    unsigned *st)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (cr)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
	*st = status;
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result firmware_serve(struct MHD_Connection *c, struct store *s, const char *dir, const char *url,
			       unsigned *status, uint64_t *bytes)
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
		return text(c, MHD_HTTP_NOT_FOUND, "not found\n", NULL, status);
	memcpy(sha, p, 64);
	sha[64] = '\0';
	if (!firmware_sha_ok(sha) || store_firmware_by_sha(s, sha, &f) != 1 ||
	    firmware_file(dir, sha, path, sizeof(path)) < 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return text(c, MHD_HTTP_NOT_FOUND, "not found\n", NULL, status);
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != (uint64_t)f.size) {
		close(fd);
		log_warnx("firmware %s: file size differs from the table's: not served", sha);
		return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "firmware file damaged\n", NULL, status);
	}
	len = (uint64_t)st.st_size;
	snprintf(etag, sizeof(etag), "\"%s\"", sha);
	const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (inm && (strstr(inm, etag) || !strcmp(inm, "*"))) {
		close(fd);
		struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
		if (!r)
			return MHD_NO;
		MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
		*status = MHD_HTTP_NOT_MODIFIED;
		enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_NOT_MODIFIED, r);
		MHD_destroy_response(r);
		return ret;
	}
	/* If-Range: the range only while the file is still the one named. */
	const char *ifr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_RANGE);
	part = ifr && strcmp(ifr, etag) ? 0 :
		firmware_range(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE), len, &off, &len);
	if (part < 0) {
		close(fd);
		snprintf(cr, sizeof(cr), "bytes */%" PRIu64, (uint64_t)st.st_size);
		return text(c, MHD_HTTP_RANGE_NOT_SATISFIABLE, "range not satisfiable\n", cr, status);
	}
	struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(len, fd, off);
	if (!r) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
	MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "public, max-age=31536000, immutable");
	if (part) {
		snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, off, off + len - 1,
			 (uint64_t)st.st_size);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
	}
	*status = part ? MHD_HTTP_PARTIAL_CONTENT : MHD_HTTP_OK;
	*bytes = len;
	enum MHD_Result ret = MHD_queue_response(c, *status, r);
	MHD_destroy_response(r);
	return ret;
}
