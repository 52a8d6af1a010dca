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
#include "core/sipprov.h"

struct MHD_Connection;
struct ssl_st;
struct MHD_Response;

/* Seconds a digest nonce stays valid; older ones get a stale=true challenge. */
#define AUTH_NONCE_TIMEOUT 300

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
	unsigned auth_modes;                 /* POLICY_AUTH_* (auth_subject_policy) */
	char device_auth[24];               /* the same, canonical text, for the log */
	/* Source allowlist, parsed once per distinct text and never freed
	 * (auth_subject_policy): a render cache entry is a few hundred bytes,
	 * not the 552 of a copy.  NULL (no device): no source matches. */
	const struct policy_nets *allow;
	char http_user[SP_SLUG_MAX];
	char ha1_md5[33];
	char ha1_sha256[65];
};

struct auth_req {
	struct MHD_Connection *conn;        /* for the digest check and the TLS session */
	struct ssl_st *ssl;                 /* the TLS session of phone_listen.c's connection */
	const struct sockaddr *addr;
	const char *ip;                     /* printable source address */
	bool loopback;
	bool tls;
	bool insecure_loopback;             /* conf: serve auth "none" to loopback */
	const struct auth_subject *subj;
	const char *method;                 /* the request's, for the digest (NULL = "GET") */
	const char *url;                    /* the request's path as sent: the digest uri must name it */
	/* headers: authz is the request's Authorization header (NULL: none
	 * came), whichever listener parsed it; else it is read from conn. */
	bool headers;
	const char *authz;
};

/* What auth_check learned besides the verdict. */
struct auth_result {
	bool stale;                         /* the digest nonce was expired/unknown: challenge with stale=true */
	bool refund;                        /* digest success answering a fresh challenge (nc=1):
					       give back the failure that challenge counted */
	const char *method;                 /* "digest", "mtls", "token", "none" on AUTH_OK */
};

enum auth_verdict { AUTH_OK, AUTH_DENY };

/* Decide.  Policy: the tenant's device_auth is a list of accepted methods
 * (any one suffices); the CIDR allowlist, device/tenant status, a revoked
 * token and a file name of another vendor refuse whatever the method.
 * On AUTH_DENY 'why' says which check refused (for the log only).  res may
 * be NULL. */
enum auth_verdict auth_check(const struct auth_req *r, struct auth_result *res, char *why, size_t whylen);
/* Add the digest challenges (MD5, then SHA-256; stale=true when asked)
 * to a 401 response. */
void auth_challenge(struct MHD_Response *r, bool stale);
/* The same two WWW-Authenticate values, for a listener of our own. */
#define AUTH_CHALLENGE_MAX 256
void auth_challenge_values(char hv[2][AUTH_CHALLENGE_MAX], bool stale);
bool auth_is_loopback(const struct sockaddr *addr);
/* Fill the subject's policy from the tenant's stored device_auth and
 * allow_cidrs (policy.h parses them once, here, not per request). */
void auth_subject_policy(struct auth_subject *s, const char *device_auth, const char *allow_cidrs);

/* Enumeration defence: failures per source (an IPv4 address; an IPv6 /64,
 * since one host owns a whole /64) in a sliding window of 'window'
 * seconds; at 'threshold' the source is locked out for 'lockout' seconds.
 * auth_limits_init also seeds the dummy digest key used for unknown
 * devices; call it before serving.  auth_fail_note returns true when this
 * failure starts a lockout.  auth_success_note gives one failure back
 * (see auth_result.refund).  auth_locked is lock-free while no lockout
 * is active. */
void auth_limits_init(long threshold, long window, long lockout);
bool auth_fail_note(const struct sockaddr *addr);
void auth_success_note(const struct sockaddr *addr);
bool auth_locked(const struct sockaddr *addr);
/* New thresholds (SIGHUP) keeping the counts and lockouts in force. */
void auth_limits_set(long threshold, long window, long lockout);
void auth_limits_release(void);

/* Value of one parameter of a Digest Authorization header (quoted or
 * not) into out; 1 found, 0 not (out = ""), bounded by outlen. */
int auth_digest_param(const char *header, const char *key, char *out, size_t outlen);
/* The same, the header scanned once for many lookups: auth_params_parse
 * indexes the first AUTH_PARAMS_MAX parameters (pointers into header, which
 * must outlive ap); auth_params_get answers exactly as auth_digest_param
 * would (the first parameter of that name, 0 when its value does not fit),
 * scanning the header again only for a name not among them when there were
 * more.  The digest check reads eight parameters per request. */
#define AUTH_PARAMS_MAX 16
struct auth_params {
	const char *header;
	struct auth_param {
		const char *name, *v;
		size_t nl, vl;
	} p[AUTH_PARAMS_MAX];
	size_t n;
	bool more;
};
void auth_params_parse(struct auth_params *ap, const char *header);
int auth_params_get(const struct auth_params *ap, const char *key, char *out, size_t outlen);
#endif
