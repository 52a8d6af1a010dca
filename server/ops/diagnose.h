/*
 * diagnose.h: the 403 / 404 / 408 / timeout checklist for one device line.
 * diagnose_run() gathers evidence (store, validation, network probes) into
 * steps; diag_decide() is the pure verdict over those steps, table-tested.
 * Nothing here writes to the database or prints a secret.
 */
#ifndef SP_DIAGNOSE_H
#define SP_DIAGNOSE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct store;

enum diag_verdict { DIAG_OK, DIAG_WARN, DIAG_FAIL, DIAG_SKIPPED };
const char *diag_verdict_name(enum diag_verdict v);

enum diag_step_id {
	DS_ACTIVE,          /* 1 device, account, tenant active; fetch source allowed */
	DS_IDENTITY,        /* 2 username / auth username; max per user */
	DS_FETCH,           /* 3 last fetch vs current version; account changed since */
	DS_REGS,            /* 4 what the phone experienced: registrations seen, reasons, drift */
	DS_DNS,             /* 5 A/AAAA, SRV */
	DS_REACH,           /* 6 OPTIONS on configured transport and port, then the port sweep */
	DS_REGISTER,        /* 7 REGISTER probe (unauthenticated, then with the stored password) */
	DS_VIEWS,           /* 8 the three views side by side: phone, what it runs, probes */
	DS_COUNT
};

/* Findings: what a step established, as bits the verdict reasons over. */
#define DF(n) ((uint64_t)1 << (n))
#define DF_DEVICE_DISABLED    DF(0)
#define DF_TENANT_SUSPENDED   DF(1)
#define DF_NO_ACCOUNT         DF(2)   /* no account on that line */
#define DF_IP_POLICY          DF(3)   /* source not in tenant allow_cidrs */
#define DF_SWAP               DF(4)   /* username / auth username swapped */
#define DF_IDENTITY_INVALID   DF(5)   /* other username / auth username rule broken */
#define DF_TOO_MANY           DF(6)   /* more devices share the user than max_per_user */
#define DF_STALE              DF(7)   /* fetched an older version than current */
#define DF_NEVER_FETCHED      DF(8)
#define DF_DRIFT_REGISTRAR    DF(9)   /* registers somewhere else than configured */
#define DF_DRIFT_TRANSPORT    DF(10)  /* observed transport or port differ */
#define DF_DRIFT_IDENTITY     DF(11)  /* observed username / auth username differ */
#define DF_DRIFT_UNKNOWN_USER DF(12)
#define DF_DNS_FAIL           DF(13)
#define DF_SRV_MISSING        DF(14)
#define DF_PORT_CLOSED        DF(15)  /* refused / ICMP unreachable */
#define DF_NO_ANSWER          DF(16)  /* packets dropped */
#define DF_TLS_FAIL           DF(17)  /* handshake or certificate */
#define DF_OTHER_TRANSPORT_OK DF(18)  /* another transport/port answers */
#define DF_REACH_OK           DF(19)  /* configured transport answers OPTIONS */
#define DF_PROBE_DOMAIN_404   DF(20)  /* REGISTER without credentials: 404 (domain) */
#define DF_PROBE_FORBIDDEN    DF(21)  /* REGISTER without credentials: 403 */
#define DF_AUTH_403           DF(22)  /* stored credentials answered 403 (or challenged again) */
#define DF_AUTH_404           DF(23)  /* stored credentials answered 404 (user unknown) */
#define DF_AUTH_OK            DF(24)  /* stored credentials accepted */
#define DF_LAST_TIMEOUT       DF(25)  /* registrations seen ended in 408 / no answer */
/* reason phrases (phone's observations or the probes), mapped by diag_phrase_cause() */
#define DF_SAYS_CREDENTIALS   DF(26)  /* "Wrong Password" */
#define DF_SAYS_AUTH_ID       DF(27)  /* "Auth User Mismatch", "Forbidden auth ID" */
#define DF_SAYS_DISABLED      DF(28)  /* "Account Disabled", locked, expired */
#define DF_SAYS_IP            DF(29)  /* "Source Address Not Allowed" */
#define DF_SAYS_TOO_MANY      DF(30)  /* "Too many registered contacts" */
#define DF_SAYS_DOMAIN        DF(31)  /* "Domain Not Served" */
#define DF_SAYS_USER_UNKNOWN  DF(32)  /* "User Not Found" */
#define DF_SAYS_UNAVAILABLE   DF(33)  /* 5xx: service unavailable, maintenance, overload */
/* the views compared (step 8) and facts only a combination shows */
#define DF_AUTH_ID_UNKNOWN    DF(34)  /* challenged (user known) but the auth username is not */
#define DF_SWAP_PROVEN        DF(35)  /* the swapped identity is accepted */
#define DF_ACCOUNT_CHANGED    DF(36)  /* account edited after the phone's last fetch */
#define DF_PHONE_FAILS_PROBE_OK DF(37) /* phone rejected, admin-host probe accepted */
#define DF_RUNS_OLD_FAILS     DF(38)  /* the config the phone runs fails, the current one works */
#define DF_HEP_RECEIVED       DF(39)  /* the registrar received this phone's REGISTERs */
#define DF_UNANSWERED_401     DF(40)  /* the phone never answered a challenge */
#define DF_PHONE_SILENT       DF(41)  /* fetched its config, yet no REGISTER ever reached the registrar */
#define DF_ALL_REFUSED        DF(42)  /* every port swept refused: nothing listens at all */
#define DF_PROXY_WRONG        DF(43)  /* outbound proxy refuses, registrar direct accepts */
#define DF_RUNS_DIFFERS       DF(44)  /* what the phone runs differs from the current config */
#define DF_FAILS_WHERE_RUNS   DF(45)  /* ... and the phone was seen failing there */
/* the name the device sends to, against where the registrars report the domain registering (HEP) */
#define DF_NAME_MISSING       DF(46)  /* the resolver answered: no such name (NXDOMAIN) */
#define DF_DNS_STALE          DF(47)  /* the phone failed at an address the name no longer resolves to */
#define DF_DNS_WRONG          DF(48)  /* the domain's own name resolves away from where it registers */
#define DF_SERVER_ELSEWHERE   DF(49)  /* 'server' names a host away from where the domain registers */
#define DF_ALG_REWRITE        DF(50)  /* UDP Contact names the source address with another port */
#define DF_NFINDINGS          51

struct diag_step {
	const char *name;
	enum diag_verdict verdict;
	uint64_t findings;
	char evidence[1536];
	char reason[256];               /* why skipped */
};

#define DIAG_MAX_CAUSES 12
struct diag_cause {
	const char *id;                 /* stable: "credentials", "auth_username_mixup", ... */
	const char *title;
	const char *next;               /* concrete next step */
	int score;                      /* 0 = not indicated by any step */
	char evidence[640];             /* the step evidence that points to it */
};

struct diag_result {
	int bucket;                     /* 403, 404, 408 (408 includes timeout), 0 none */
	const char *bucket_name;        /* "403", "404", "408/timeout", "none" */
	const char *bucket_from;        /* "--error", "last code seen", "step 2", "probes", "steps" */
	struct diag_cause causes[DIAG_MAX_CAUSES];
	size_t ncauses;                 /* indicated causes first (score > 0), best first */
	bool explained;                 /* the first cause is indicated by evidence */
};

/* A reason phrase (or Reason / P-Registrar-Error text) -> the finding it
 * points to (DF_SAYS_*), 0 when it names no cause.  Case-insensitive
 * substring match over the table in docs/diagnose-reasons.md. */
uint64_t diag_phrase_finding(const char *text);

/* "403", "404", "408", "timeout" -> 403/404/408/408; -1 otherwise. */
int diag_parse_error(const char *s);

/* The verdict: pure over the steps' verdicts and findings, the --error
 * code (0 = none) and the last final code seen for the account (0 = none).
 * If step 2 failed its cause leads whatever the bucket.  No I/O. */
void diag_decide(const struct diag_step steps[DS_COUNT], int error_code, long last_code,
		 struct diag_result *out);

struct diag_opts {
	long line;                      /* 0 = first line */
	int error_code;                 /* 0, 403, 404, 408 */
	bool error_timeout;             /* --error timeout (reported as such) */
	long timeout_ms;                /* per probe; default 3000 */
	bool network;                   /* run steps 5-7 */
	const unsigned char *key;       /* decrypt the password for the authenticated probe; NULL = skip */
	const char *ca_file;            /* TLS trust anchors ("" / NULL = system store) */
};

/* What a ticket needs, collected while diagnosing.  Never a password. */
struct diag_facts {
	char mac[13];
	char tenant[64];
	long line;
	char username[128];
	char auth_username[128];
	char display_name[128];
	char model[64];
	char firmware[64];
	char user_agent[256];
	char registrar[256];
	char server[256];
	char outbound_proxy[256];
	char transport[8];
	long port;
	char dns_mode[8];
	char version_label[160];
	long version_served;            /* what the device last fetched (0 = never) */
	long version_current;
	int64_t fetched_at;
	char fetched_ip[64];
	long last_code;
	int64_t last_code_at;
	char last_reg_ip[64];           /* source of the last registration seen */
	char last_reg_transport[8];
	long last_reg_port;
	char last_reg_registrar[256];
	char last_reg_dst[64];          /* the address it went to (HEP destination), "" = unknown */
	int64_t last_reg_at;
	char last_reason[128];          /* reason phrase of the last registration seen */
	char last_reason_detail[256];
	char net_fetch[64];             /* "private IPv4", "CGNAT IPv4 (100.64/10)", ... */
	char net_reg[64];
	long runs_version;              /* the version the phone runs (last fetched), 0 = unknown */
	char runs_target[600];          /* where that version sends: "udp 127.0.0.1:5060 domain d" */
	char cur_target[600];
};

struct diag_report {
	struct diag_facts facts;
	struct diag_step steps[DS_COUNT];
	struct diag_result result;
	long network_ms;                /* time spent in steps 5-7 */
	long network_bound_ms;          /* the sum of the bounds given to every probe run */
};

/* The standard ports the sweep tries per transport: 5060 udp/tcp, 5061 tls.
 * SIPPROV_DIAG_STD_PORTS="udp:P,tcp:P,tls:P" replaces them (test-only: the
 * suite must never touch the machine's real 5060/5061). */
void diag_std_ports(long *udp, long *tcp, long *tls);

/* Run the checklist for MAC (any spelling).  Returns 0 when it ran (read
 * the steps), -1 when it could not (unknown device, database error: err). */
int diagnose_run(struct store *s, const char *mac, const struct diag_opts *o, struct diag_report *rep,
		 char *err, size_t errlen);
/* Did any step fail (exit code 1)? */
bool diag_failed(const struct diag_report *rep);
/* Exit status: 1 when a step failed, or when --error was given and no
 * indicated cause explains it; else 0. */
int diag_exit_code(const struct diag_report *rep, int error_code);
/* "loopback", "private", "CGNAT (100.64/10)", "link-local", "public", with
 * " IPv4" / " IPv6"; "" for an empty or unparsable address. */
void diag_network_type(const char *ip, char *out, size_t n);
/* The report as JSON (new reference).  Keys are stable: added, never
 * renamed; each step lists its findings by name (see finding_names). */
json_t *diag_report_json(const struct diag_report *rep, bool ticket);

#endif
