/*
 * phone_listen.h: sipprovd's own listener for http_listen and https_listen
 * (phone_server = own, phone_listen.c): one epoll loop per thread, each with its own
 * SO_REUSEPORT socket, requests parsed by phone_http.c and answered by
 * http.c's routes, each response written with one writev.
 */
#ifndef SP_PHONE_LISTEN_H
#define SP_PHONE_LISTEN_H
#include <stddef.h>
#include <sys/socket.h>
#include "core/sipprov.h"
#include "phone_req.h"

struct http_server;
struct connguard;
struct req;
struct phone_listen;

/* Listen on ss with threads loops; with tls, each connection is a TLS
 * session on tls_ossl.c's context (loaded first).  NULL with err on failure. */
struct phone_listen *phone_listen_start(struct http_server *h, const struct conf *conf,
					const struct sockaddr_storage *ss, bool tls, unsigned threads, char *err,
					size_t errlen);
unsigned phone_listen_port(const struct phone_listen *pl);
/* Stop the loops, close every connection, free.  NULL ok. */
void phone_listen_stop(struct phone_listen *pl);

/* In http.c: a request whose head is parsed.  begin may decide the answer
 * on the headers (q->resp.status set); body takes the body's bytes as they
 * come; finish runs the rest, always leaves an answer in q->resp, and
 * frees rq. */
struct req *http_phone_begin(struct http_server *h, struct phone_req *q);
void http_phone_body(struct http_server *h, struct phone_req *q, struct req *rq, const char *data, size_t len);
void http_phone_finish(struct http_server *h, struct phone_req *q, struct req *rq);
/* The connection closed before the body came: free rq, no answer. */
void http_phone_abort(struct http_server *h, struct req *rq);
struct connguard *http_server_guard(struct http_server *h);
#endif
