/*
 * phone_http.h: the HTTP/1.x request-head parser of phone_listen.c.  Pure:
 * no sockets, no allocation, so it is fuzzed on its own (tests/fuzz).
 */
#ifndef SP_PHONE_HTTP_H
#define SP_PHONE_HTTP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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
/* A chunked request body (RFC 9112 7.1), decoded as its bytes arrive.
 * Bounded like libmicrohttpd's: a chunk size past 64 bits is 413; a size
 * line (extensions included) over cap bytes is 400; the trailer section
 * over cap bytes or PHONE_HDR_MAX lines is 431.  Strict where the head
 * parser is (NUL, folded trailer lines, a space before a trailer name's
 * colon: 400), and stricter on a bare CR, which the head parser reads as
 * a space: a size line is framing, so a bare CR there or in a trailer is
 * 400 too; LF alone ends a line.  Extensions and trailer fields
 * are read past, not kept: nothing here allocates. */
struct phone_chunked {
	int state;
	uint64_t left;                      /* the chunk's bytes still to come */
	size_t line;                        /* bytes of the current size line */
	size_t trailer;                     /* bytes of the trailer section */
	size_t ntrailer;                    /* its lines */
	size_t cap;
};

enum {
	PHONE_CHUNK_MORE = 0,               /* everything given was consumed: read more */
	PHONE_CHUNK_DONE = 1,               /* the body ended: *used bytes were its */
	PHONE_CHUNK_BAD = -1,               /* 400 and close */
	PHONE_CHUNK_TOO_BIG = -2,           /* a chunk size past 64 bits: 413 and close */
	PHONE_CHUNK_TRAILER_BIG = -3,       /* 431 and close */
};

void phone_chunked_init(struct phone_chunked *d, size_t cap);
/* Decode buf[0, len) in place: the body bytes it holds end up in
 * buf[0, *out), in order.  *used: the bytes consumed (all of len unless
 * DONE, when what follows is the next request's).  Returns a
 * PHONE_CHUNK_ value; after DONE or an error, d is not to be fed again. */
int phone_chunked_decode(struct phone_chunked *d, char *buf, size_t len, size_t *used, size_t *out);
#endif
