/*
 * sip.h: the SIP layer's public API: one URI parser (uri.c), one bounded
 * message parser (sipmsg.c), and one client transaction layer (txn.c: UDP
 * with RFC 3261 timers, TCP, TLS via OpenSSL, bounded DNS) that NOTIFY and
 * the diagnose probes share.  No server transactions, no dialogs, no SDP.
 */
#ifndef SP_SIP_H
#define SP_SIP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

#define SIPMSG_MAX_HEADERS 128
#define SIPMSG_MAX_LINE    4096          /* one (unfolded) header line */
#define SIPMSG_STR         256

/* ---- URIs (uri.c) ---- */

enum sip_transport { SIP_UDP, SIP_TCP, SIP_TLS, SIP_TR_UNKNOWN };
const char *sip_transport_name(enum sip_transport t);   /* "udp" "tcp" "tls" */
/* "udp" / "tcp" / "tls" in any case -> the enum; -1 for anything else. */
int sip_transport_parse(const char *s);

struct sip_uri {
	char scheme[8];                     /* sip | sips | tel, lowercase */
	bool sips;
	char user[SIPMSG_STR];              /* tel: the number; no password */
	char host[SIPMSG_STR];              /* lowercase; IPv6 without brackets */
	int port;                           /* 0 = not given */
	char transport[16];                 /* ;transport= lowercase, "" = not given */
	char maddr[SIPMSG_STR];             /* ;maddr= lowercase, "" = not given */
	char text[512];                     /* the URI as written, without <> */
};

/* Parse s[len] (not NUL-terminated): a bare URI, or a name-addr
 * ('"Name" <sip:u@h:p;transport=tcp>;expires=60': the URI inside <>).
 * A bare URI is taken whole, parameters included: a caller parsing a
 * header cuts header parameters off first.  0, or -1 with err. */
int sip_uri_parse(const char *s, size_t len, struct sip_uri *u, char *err, size_t errlen);
/* The transport to use: ;transport=, else tls for sips:, else udp;
 * SIP_TR_UNKNOWN for a transport this layer does not speak. */
enum sip_transport sip_uri_transport(const struct sip_uri *u);
/* Port to send to: the URI's, else 5061 for tls, else 5060. */
int sip_uri_port(const struct sip_uri *u);
/* A URI to send to (a Contact, a proxy): sip_uri_parse of the NUL-terminated
 * s, then refuses tel:, transports other than udp/tcp/tls and sips: over
 * anything but tls.  0, or -1 with err naming the value. */
int sip_uri_target(const char *s, struct sip_uri *u, char *err, size_t errlen);
/* "HOST:PORT", "[v6]:PORT", "HOST" or a SIP URI (as given to --via). */
int sip_hostport_parse(const char *s, struct sip_uri *u, char *err, size_t errlen);

/* ---- messages (sipmsg.c) ---- */

/* A Digest challenge (WWW-Authenticate / Proxy-Authenticate). */
struct sip_challenge {
	bool present;
	bool proxy;                         /* from Proxy-Authenticate */
	char realm[128], nonce[256], opaque[256];
	char algorithm[32];                 /* as sent; "" = MD5 */
	char qop[64];                       /* as sent, e.g. "auth,auth-int" */
};

struct sipmsg {
	bool request;
	char method[32];                    /* request: method; response: CSeq method */
	struct sip_uri ruri;
	int code;                           /* response status code */
	char reason[128];                   /* response reason phrase */
	char via_transport[16];             /* top Via, lowercase: udp tcp tls ws wss sctp */
	char via_host[SIPMSG_STR];
	long via_port;
	char via_branch[128];               /* top Via ;branch= */
	struct sip_uri from, to;
	char from_tag[128], to_tag[128];
	char call_id[SIPMSG_STR];
	long cseq;
	char cseq_method[32];
	char contact[SIPMSG_STR];           /* first Contact's URI, as written */
	struct sip_uri contact_uri;
	char instance[SIPMSG_STR];          /* +sip.instance without quotes / <> */
	long contact_expires;               /* -1 = none */
	long expires;                       /* Expires header, -1 = none */
	long content_length;                /* -1 = none */
	char auth_username[SIPMSG_STR];     /* Authorization / Proxy-Authorization username */
	struct sip_challenge challenge;     /* first usable Digest challenge */
	char user_agent[SIPMSG_STR];
	char reason_proto[16];              /* Reason header (RFC 3326): "SIP", "Q.850" */
	long reason_cause;                  /* its cause=, -1 = none */
	char reason_text[128];              /* its text=, unquoted */
};

/* Parse buf[len] (not NUL-terminated).  Returns 0, or -1 with err.  Needs a
 * start line, Call-ID and CSeq; everything else may be missing. */
int sipmsg_parse(const char *buf, size_t len, struct sipmsg *m, char *err, size_t errlen);
/* First value of header name (any case; compact forms such as 'i' for
 * Call-ID, 'v' for Via, 'l' for Content-Length also match), trimmed, copied
 * into out (truncated).  1 found, 0 not. */
int sipmsg_header(const char *buf, size_t len, const char *name, char *out, size_t outlen);
/* Length of the first complete message in a stream buffer (headers and a
 * Content-Length body; leading CRLF keep-alives count towards it): >0, 0 if
 * more bytes are needed, -1 if it can never become a message within max. */
long sipmsg_frame(const char *buf, size_t len, size_t max);

/* ---- client transactions (txn.c) ---- */

#define SIP_T1_MS  500
#define SIP_T2_MS  4000
#define SIP_T4_MS  5000
#define SIP_MSG_MAX 8192

/* A TLS client context: trust store (CA file or the system's).  The
 * handshake never fails on the certificate itself; each transaction checks
 * the verify result when its destination asks for it. */
struct sip_tls;
/* NULL with err if the CA file (or the system store) cannot be loaded. */
struct sip_tls *sip_tls_new(const char *ca_file, char *err, size_t errlen);
void sip_tls_free(struct sip_tls *t);

struct sip_dest {
	const char *host;                   /* name or address (IPv6 without brackets) */
	int port;                           /* 0 = 5060, or 5061 for tls */
	enum sip_transport tr;
	long timeout_ms;                    /* whole transaction, DNS included; 0 = Timer F
					       alone, 64*T1 from the first send */
	struct sip_tls *tls;                /* needed for SIP_TLS */
	bool tls_verify;                    /* a failed chain/name check ends it (SIP_TX_TLS) */
	bool icmp_fatal;                    /* UDP: port unreachable ends it (SIP_TX_REFUSED);
					       else it keeps retransmitting and notes it */
	int t1_ms, t2_ms, t4_ms;            /* 0 = SIP_T1_MS, SIP_T2_MS, SIP_T4_MS */
};

/* Writes the request once the connection is up (local address known):
 * Via must carry branch.  0, or -1 to abandon (SIP_TX_ERROR). */
typedef int (*sip_build_fn)(void *arg, const char *local_host, int local_port, const char *branch,
			    struct buf *out);

enum sip_tx_state {
	SIP_TXS_IDLE, SIP_TXS_CONNECTING, SIP_TXS_HANDSHAKE, SIP_TXS_SENDING,
	SIP_TXS_TRYING, SIP_TXS_PROCEEDING,         /* RFC 3261 17.1.2 */
	SIP_TXS_COMPLETED,                          /* final seen; UDP waits Timer K */
	SIP_TXS_TERMINATED
};
enum sip_tx_result {
	SIP_TX_PENDING, SIP_TX_FINAL, SIP_TX_DNS, SIP_TX_REFUSED, SIP_TX_TIMEOUT, SIP_TX_TLS,
	SIP_TX_CLOSED, SIP_TX_ERROR
};

/* One non-INVITE client transaction.  The caller owns the struct; fields
 * above "private" are results, valid once result != SIP_TX_PENDING. */
struct sip_txn {
	enum sip_tx_result result;
	enum sip_tx_state state;            /* at a failure: the phase it stopped in */
	int sends;                          /* transmissions (retransmissions included) */
	int provisional;                    /* 1xx responses received */
	int absorbed;                       /* final retransmissions absorbed (Timer K) */
	bool icmp;                          /* UDP: port unreachable seen */
	struct sipmsg resp;                 /* the final response (SIP_TX_FINAL) */
	char addr[80];                      /* peer "ip:port" / "[v6]:port" */
	char why[256];                      /* the system's or OpenSSL's words on a failure */
	long elapsed_ms;
	bool tls_done, tls_verified;
	char tls_subject[256], tls_issuer[256], tls_not_after[64], tls_verify_text[160];
	/* private */
	struct sip_dest d;
	sip_build_fn build;
	void *arg;
	char host[256];
	void *ai, *ai_next;                 /* struct addrinfo list and the next to try */
	int fd;
	struct ssl_st *ssl;
	short want;
	char branch[48];
	char method[32];                    /* the request's, for matching CSeq */
	bool timer_f_only;                  /* no caller bound: Timer F from the first send */
	char *req;
	size_t reqlen, off;
	char *in;
	size_t inlen;
	int64_t start, deadline, next_e, interval, k_end;
};

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t sip_now_ms(void);
/* Start: resolve (bounded by the timeout), connect; with UDP the request
 * goes out at once.  It may end here (result set).  Copies d; d->host and
 * arg must outlive the transaction. */
void sip_txn_start(struct sip_txn *x, const struct sip_dest *d, sip_build_fn build, void *arg);
/* For poll(): the descriptor (-1 once over), the events wanted, and the
 * time (sip_now_ms scale) by which sip_txn_step must run again. */
int sip_txn_fd(const struct sip_txn *x);
short sip_txn_events(const struct sip_txn *x);
int64_t sip_txn_wake(const struct sip_txn *x);
/* Handle poll's revents (0 if none) and due timers. */
void sip_txn_step(struct sip_txn *x, short revents);
/* Timer K over (or cut short): the socket is closed. */
bool sip_txn_over(const struct sip_txn *x);
/* Close what it holds; the results stay readable.  Ends Timer K early. */
void sip_txn_release(struct sip_txn *x);
/* Start and drive one transaction until its final response or failure;
 * never longer than its timeout.  0 for a final response, -1 otherwise.
 * Does not wait for Timer K: call sip_txn_release. */
int sip_txn_run(struct sip_txn *x, const struct sip_dest *d, sip_build_fn build, void *arg);
const char *sip_tx_result_name(enum sip_tx_result r);

/* Resolve host (numeric at once, else getaddrinfo_a bounded by timeout_ms).
 * 0 with *res (caller freeaddrinfo()s); with err naming the host, -2 when
 * the resolver answered that the name does not exist (NXDOMAIN, no
 * address), -1 when it failed (no answer, SERVFAIL, timeout, local error).
 * On a timeout the lookup may be leaked (glibc cannot always cancel). */
struct addrinfo;
int sip_resolve(const char *host, int socktype, long timeout_ms, struct addrinfo **res, char *err,
		size_t errlen);
#endif
