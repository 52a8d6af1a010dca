/*
 * probe.h: bounded network probes for `sipprov diagnose`: DNS (A/AAAA via
 * getaddrinfo_a, SRV via res_nquery), SIP OPTIONS and REGISTER as client
 * transactions of sip/txn.c (UDP with RFC 3261 timers, TCP, TLS with chain
 * and host check).
 * Every call returns within its timeout; nothing here touches the store.
 */
#ifndef SP_PROBE_H
#define SP_PROBE_H
#include <stdbool.h>
#include <stddef.h>

enum probe_status {
	PROBE_OK,            /* a SIP response arrived (any code), or DNS answered */
	PROBE_DNS,           /* name did not resolve */
	PROBE_REFUSED,       /* TCP RST or ICMP port unreachable: nothing listens */
	PROBE_TIMEOUT,       /* no answer within the bound */
	PROBE_TLS,           /* handshake failed, or certificate rejected with verify on */
	PROBE_ERROR          /* local error (socket, malformed answer) */
};
const char *probe_status_name(enum probe_status st);

struct probe_target {
	char host[256];      /* where packets go: outbound proxy, server or registrar */
	int port;            /* 0 = 5060 (udp/tcp) or 5061 (tls) */
	char transport[8];   /* udp | tcp | tls */
	char domain[256];    /* SIP domain for Request-URI, From, To ("" = host) */
	char user[128];      /* user part for REGISTER From/To ("" = "probe") */
	bool tls_verify;     /* a failed chain/host check is PROBE_TLS */
	char ca_file[256];   /* "" = system trust store */
	long timeout_ms;     /* bound for the whole probe, DNS included */
};

/* Credentials for the authenticated REGISTER probe; NULL = none. */
struct probe_auth {
	const char *auth_user;
	const char *password;
};

struct probe_result {
	enum probe_status status;
	int code;            /* final SIP status; 0 = none */
	char reason[128];    /* reason phrase of that status */
	int first_code;      /* REGISTER with auth: the code before credentials (401/407) */
	char addr[80];       /* address:port tried */
	long elapsed_ms;
	int sends;           /* UDP: transmissions made */
	char text[512];      /* one human sentence: what happened */
	/* TLS only */
	bool tls_done;
	bool tls_verified;
	char tls_subject[256];
	char tls_issuer[256];
	char tls_not_after[64];
	char tls_verify_text[160];
};

/* Default port for a transport: 5061 for tls, else 5060. */
int probe_default_port(const char *transport);

/* Resolve host (A and AAAA) within timeout_ms.  On success returns the
 * number of addresses (>0) and writes "1.2.3.4, ::1" into out; 0 when the
 * resolver answered that the name does not exist (NXDOMAIN / no address),
 * -1 when the resolver failed (no answer, SERVFAIL, timeout); out then has
 * the resolver's message. */
int probe_dns(const char *host, long timeout_ms, char *out, size_t outlen);

/* SRV lookup of name (e.g. "_sip._udp.example.com") with the resolver
 * bounded near timeout_ms.  Returns the number of records, 0 when the name
 * has none (out says NXDOMAIN / no data), -1 on resolver failure; out gets
 * "prio weight port target" lines joined by "; " or the reason. */
int probe_srv(const char *name, long timeout_ms, char *out, size_t outlen);

/* Send method ("OPTIONS" or "REGISTER") to the target and wait for a final
 * response.  REGISTER carries no Contact, so it only queries bindings and
 * never changes what the registrar holds.  With auth and a 401/407
 * challenge (MD5 or SHA-256 digest, qop=auth) it answers the challenge once.
 * Returns 0 when a final response arrived (r->code), -1 otherwise
 * (r->status, r->text say why).  Bounded by t->timeout_ms. */
int probe_sip(const struct probe_target *t, const char *method, const struct probe_auth *auth,
	      struct probe_result *r);

#endif
