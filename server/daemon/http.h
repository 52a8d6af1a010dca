/*
 * http.h: the device-facing HTTP(S) server on libmicrohttpd.
 */
#ifndef SP_HTTP_H
#define SP_HTTP_H
#include "core/sipprov.h"

struct http_server;
/* Start the listeners in conf (http_listen, https_listen).  The server
 * borrows conf, key and *layouts (reloadable via http_server_set_layouts)
 * for its lifetime.  NULL with err on failure. */
struct http_server *http_server_start(const struct conf *conf, const unsigned char key[SP_KEY_LEN],
				      struct layouts *layouts, char *err, size_t errlen);
/* Swap layouts (SIGHUP); returns the old set for the caller to free once
 * no request can be using it (this call waits for in-flight renders). */
struct layouts *http_server_set_layouts(struct http_server *h, struct layouts *l);
/* Reopen the access log at path ("-" stderr, "" off) in format (see
 * http_access_format_parse): SIGHUP, logrotate. */
void http_server_reopen_log(struct http_server *h, const char *path, const char *format);
/* access_log_format: "sipprov" 0, "combined" 1, "combined_duration" 2; -1 unknown. */
int http_access_format_parse(const char *s);
/* SIGHUP: load cert and key (PEM files) for new HTTPS handshakes; open
 * connections keep theirs.  Without an HTTPS listener: 0, nothing read.
 * A bad pair changes nothing: -1 with err. */
int http_server_reload_tls(struct http_server *h, const char *cert, const char *key, char *err, size_t errlen);
/* The port actually bound (useful with port 0); tls selects the HTTPS one. */
unsigned http_server_port(const struct http_server *h, bool tls);
/* "HOST:PORT" / "[V6]:PORT" (HOST an IP address) into ss; the one parser
 * of http_listen and https_listen.  0, or -1 with err naming s. */
struct sockaddr_storage;
int http_listen_parse(const char *s, struct sockaddr_storage *ss, char *err, size_t errlen);
/* A PEM or CA file (at most 1 MiB) as a new NUL-terminated string; with
 * nonempty, an empty file is refused too.  NULL with err naming path. */
char *http_read_file(const char *path, bool nonempty, char *err, size_t errlen);
/* Stop accepting, drain, flush the fetch log, free everything.  Accepts NULL. */
void http_server_stop(struct http_server *h);
#endif
