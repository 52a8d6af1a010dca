/*
 * api.h: the admin listener (admin_listen): the JSON API under /api/v1/
 * for people and systems, and /metrics.  Never phones: device routes stay
 * on http.c's listeners.
 */
#ifndef SP_API_H
#define SP_API_H
#include "core/sipprov.h"

struct api_server;
/* Listen on conf->admin_listen (HTTPS when admin_tls_cert/admin_tls_key
 * are set).  Borrows conf and key for its lifetime.  Token URLs in answers
 * start with public_url, else the phone listener's address with the port
 * it bound (http_port, or https_port when there is no HTTP listener).
 * NULL with err. */
struct api_server *api_server_start(const struct conf *conf, const unsigned char key[SP_KEY_LEN],
				    unsigned http_port, unsigned https_port, char *err, size_t errlen);
/* SIGHUP: load the layouts of templates again for device and account
 * checks; on error keep the ones loaded (logged). */
void api_server_reload(struct api_server *a, const char *templates);
/* The port actually bound (useful with port 0). */
unsigned api_server_port(const struct api_server *a);
/* SIGHUP: serve a renewed admin_tls_cert / admin_tls_key to new
 * handshakes; a bad pair keeps the one served (-1 with err).  0 when the
 * listener is plain HTTP or not running. */
int api_server_reload_tls(struct api_server *a, const char *cert, const char *key, char *err, size_t errlen);
/* Stop, free everything.  Accepts NULL. */
void api_server_stop(struct api_server *a);
/* The /metrics page: metrics_scrape (process counters, histogram, device
 * gauges cached devices_every_s seconds, drift gauges; s may be NULL), then
 * the served certificate's expiry.  One function, whichever listener serves it. */
void api_metrics_text(struct store *s, long devices_every_s, struct buf *out);
#endif
