/*
 * phone_req.h: one device request as a listener parsed it, and the answer
 * http.c decides for it.  The MHD listener fills conn (headers are read
 * through libmicrohttpd); the phone listener of our own (phone_listen.c)
 * fills hdr.  Either way http.c's routes see the same request and write
 * the same answer.
 */
#ifndef SP_PHONE_REQ_H
#define SP_PHONE_REQ_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct MHD_Connection;
struct ssl_st;

#define PHONE_HDR_MAX 64                /* header lines kept by phone_listen.c */

struct phone_hdr {
	const char *name, *value;
};

/* The answer: status 0 until a route decided one.  body points at static
 * text or at owned (freed by the listener after sending); or, with file
 * set, the body is len bytes of the open file fd from off, which the
 * listener sends from the file (sendfile) and closes. */
struct phone_resp {
	unsigned status;
	const char *ctype;                  /* Content-Type, static or in ctype_buf; NULL none */
	const char *cache;                  /* Cache-Control, NULL none */
	const char *retry_after;            /* NULL none */
	bool challenge, stale;              /* 401: the two digest challenges */
	bool close;                         /* Connection: close, then close */
	bool ranges;                        /* Accept-Ranges: bytes */
	char etag[80];                      /* "" none */
	char range[96];                     /* Content-Range, "" none */
	char ctype_buf[128];
	const char *body;
	size_t len;
	char *owned;
	bool file;                          /* the body is fd's bytes [off, off + len) */
	int fd;
	uint64_t off;
};

struct phone_req {
	const char *method, *url, *proto;
	const struct sockaddr *peer;
	bool tls;
	struct MHD_Connection *conn;        /* MHD listener */
	struct ssl_st *ssl;                 /* phone_listen.c over TLS: the OpenSSL session */
	const struct phone_hdr *hdr;        /* phone_listen.c: the header lines, in order */
	size_t nhdr;
	struct phone_resp resp;
};

/* First value of header name (case-insensitive), NULL when absent. */
const char *phone_header(const struct phone_req *q, const char *name);
/* Free what the answer holds (owned, the file) and clear it (status 0). */
void phone_resp_reset(struct phone_resp *r);
#endif
