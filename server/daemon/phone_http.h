/*
 * phone_http.h: the HTTP/1.x request-head parser of phone_listen.c.  Pure:
 * no sockets, no allocation, so it is fuzzed on its own (tests/fuzz).
 */
#ifndef SP_PHONE_HTTP_H
#define SP_PHONE_HTTP_H
#include <stdbool.h>
#include <stddef.h>
#include "phone_req.h"

struct phone_head {
	const char *method, *url, *proto;   /* NUL-terminated inside the parsed buffer */
	struct phone_hdr hdr[PHONE_HDR_MAX];
	size_t nhdr;
	long long content_length;           /* -1: no Content-Length header (or not one number) */
	bool chunked;                       /* a Transfer-Encoding header came */
	bool keep_alive;                    /* the client lets the connection stay open */
	bool http10;
};

enum {
	PHONE_PARSE_MORE = 0,               /* head incomplete: read more */
	PHONE_PARSE_BAD = -1,               /* 400 and close */
	PHONE_PARSE_TOO_BIG = -2,           /* head over the cap or too many lines: 431 and close */
	PHONE_PARSE_VERSION = -3,           /* not HTTP/1.0 or 1.1: 505 and close */
};

/* Parse the head at buf[0, len) (at most cap bytes may ever be a head).
 * Returns the head's length (the body, or the next request, starts there)
 * with h filled and buf modified (NULs written), or a PHONE_PARSE_ value.
 * The URL is cut at '?' and kept escaped, as the MHD listener keeps it. */
long phone_http_parse(char *buf, size_t len, size_t cap, struct phone_head *h);
#endif
