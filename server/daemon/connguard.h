/*
 * connguard.h: connection budget and request-header deadline (connguard.c).
 * Called from libmicrohttpd's connection and request callbacks; thread-safe.
 */
#ifndef SP_CONNGUARD_H
#define SP_CONNGUARD_H

struct connguard;
/* At most budget open connections (beyond it the one that has waited
 * longest for request headers is shut down); a connection waiting longer
 * than header_timeout seconds for a request's headers is shut down.
 * Starts one reaper thread.  Aborts on allocation failure. */
struct connguard *connguard_new(long budget, long header_timeout);
/* Stop the reaper and free; call after every listener has stopped.  NULL ok. */
void connguard_free(struct connguard *g);
/* NOTIFY_CONNECTION STARTED / CLOSED: ctx is libmicrohttpd's socket context. */
void connguard_started(struct connguard *g, int fd, void **ctx);
void connguard_closed(struct connguard *g, void **ctx);
/* A request's headers are complete (first request callback) / its response
 * is done (NOTIFY_COMPLETED): the connection waits for headers again. */
void connguard_headers_done(struct connguard *g, void *ctx);
void connguard_request_done(struct connguard *g, void *ctx);
#endif
