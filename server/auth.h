/*
 * auth.h: device authentication decisions for the provisioning routes.
 * http.c gathers what is known about the target (struct auth_subject,
 * compact so it can sit in the render cache) and asks auth_check; every
 * refusal looks the same to the client, and the reason is logged here.
 */
#ifndef SP_AUTH_H
#define SP_AUTH_H
#include <netinet/in.h>
#include <sys/socket.h>
#include "sipprov.h"

struct MHD_Connection;

struct auth_subject {
	bool found;                         /* the device (or token) exists */
	bool device_active;
	bool tenant_active;
	bool vendor_ok;                     /* file name belongs to the device's layout */
	bool token_route;                   /* reached through /s/{token} */
	bool token_ok;                      /* token exists and is not revoked */
	bool has_secrets;                   /* the rendered body carries a password */
	int64_t device_id;
	char mac[SP_MAC_LEN + 1];
	char tenant[SP_SLUG_MAX];
	char device_auth[64];
	char allow_cidrs[512];
	char http_user[SP_SLUG_MAX];
	char ha1_md5[33];
	char ha1_sha256[65];
};

struct auth_req {
	struct MHD_Connection *conn;
	const struct sockaddr *addr;
	const char *ip;                     /* printable source address */
	bool loopback;
	bool tls;
	bool insecure_loopback;             /* conf: serve auth "none" to loopback */
	const struct auth_subject *subj;
};

enum auth_verdict { AUTH_OK, AUTH_DENY };

/* Decide; on AUTH_DENY 'why' says which check refused (for the log only). */
enum auth_verdict auth_check(const struct auth_req *r, char *why, size_t whylen);
/* Does addr fall in the comma list of CIDRs (empty list = any)?  Bad
 * entries never match. */
bool auth_cidr_allows(const char *cidrs, const struct sockaddr *addr);
bool auth_is_loopback(const struct sockaddr *addr);

/* Enumeration defence: failures per source address in a sliding window.
 * auth_fail_note returns true when this failure starts a lockout. */
void auth_limits_init(long threshold, long window, long lockout);
bool auth_fail_note(const struct sockaddr *addr);
bool auth_locked(const struct sockaddr *addr);
void auth_limits_release(void);
#endif
