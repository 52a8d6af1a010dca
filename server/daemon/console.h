/*
 * console.h: the web console on the admin listener: /ui/ (pages built into
 * the daemon, login, logout, session) and the session cookie that api.c
 * accepts in place of a bearer token.  api.c owns the listener; this file
 * owns nothing but what a request under /ui/ gets.
 */
#ifndef SP_CONSOLE_H
#define SP_CONSOLE_H
#include <microhttpd.h>
#include "core/sipprov.h"

/* True for "/ui" and everything under "/ui/". */
bool console_path(const char *url);

/* The caller's session from the sp_session cookie, as the token the API's
 * role and scope checks read (name = the user's name, for audit lines);
 * *csrf_ok tells whether X-CSRF-Token carries the session's CSRF token.
 * 1 found and not expired, 0 none, -1 store error. */
int console_session(struct store *s, const unsigned char key[SP_KEY_LEN], struct MHD_Connection *c,
		    struct api_token *tok, bool *csrf_ok);

struct console_call {                   /* one request under /ui/ */
	struct MHD_Connection *c;
	struct store *store;
	const unsigned char *key;
	const struct sockaddr *addr;
	const char *method, *url;
	const char *body;
	size_t body_len;
	bool tls;                       /* the admin listener is HTTPS: cookies are Secure */
	long session_seconds;           /* console_session_seconds */
	void **login;                   /* the request's password check (console_login_free) */
};
/* Answer it: a page or asset, POST /ui/login, POST /ui/logout, GET /ui/session. */
enum MHD_Result console_handle(const struct console_call *k);
/* Free a request's password check (NULL is fine). */
void console_login_free(void *login);
/* Wait until no password check is running (before MHD_stop_daemon). */
void console_drain(void);
#endif
