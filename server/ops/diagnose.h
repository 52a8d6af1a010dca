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
	DS_FETCH,           /* 3 last fetch vs current version */
	DS_REGS,            /* 4 registrations seen, open drift */
	DS_DNS,             /* 5 A/AAAA, SRV */
	DS_REACH,           /* 6 OPTIONS on configured transport and port */
	DS_REGISTER,        /* 7 REGISTER probe (unauthenticated, then with the stored password) */
	DS_COUNT
};

/* Findings: what a step established, as bits the verdict reasons over. */
#define DF_DEVICE_DISABLED    (1u << 0)
#define DF_TENANT_SUSPENDED   (1u << 1)
#define DF_NO_ACCOUNT         (1u << 2)   /* no account on that line */
#define DF_IP_POLICY          (1u << 3)   /* source not in tenant allow_cidrs */
#define DF_SWAP               (1u << 4)   /* username / auth username swapped */
#define DF_IDENTITY_INVALID   (1u << 5)   /* other username / auth username rule broken */
#define DF_TOO_MANY           (1u << 6)   /* more devices share the user than max_per_user */
#define DF_STALE              (1u << 7)   /* fetched an older version than current */
#define DF_NEVER_FETCHED      (1u << 8)
#define DF_DRIFT_REGISTRAR    (1u << 9)   /* registers somewhere else than configured */
#define DF_DRIFT_TRANSPORT    (1u << 10)  /* observed transport or port differ */
#define DF_DRIFT_IDENTITY     (1u << 11)  /* observed username / auth username differ */
#define DF_DRIFT_UNKNOWN_USER (1u << 12)
#define DF_DNS_FAIL           (1u << 13)
#define DF_SRV_MISSING        (1u << 14)
#define DF_PORT_CLOSED        (1u << 15)  /* refused / ICMP unreachable */
#define DF_NO_ANSWER          (1u << 16)  /* packets dropped */
#define DF_TLS_FAIL           (1u << 17)  /* handshake or certificate */
#define DF_OTHER_TRANSPORT_OK (1u << 18)  /* another transport/port answers */
#define DF_REACH_OK           (1u << 19)  /* configured transport answers OPTIONS */
#define DF_PROBE_DOMAIN_404   (1u << 20)  /* REGISTER without credentials: 404 */
#define DF_PROBE_FORBIDDEN    (1u << 21)  /* REGISTER without credentials: 403 */
#define DF_AUTH_403           (1u << 22)  /* stored credentials answered 403 */
#define DF_AUTH_404           (1u << 23)  /* stored credentials answered 404 (user unknown) */
#define DF_AUTH_OK            (1u << 24)  /* stored credentials accepted */
#define DF_LAST_TIMEOUT       (1u << 25)  /* registrations seen ended in 408 / no answer */

struct diag_step {
	const char *name;
	enum diag_verdict verdict;
	unsigned findings;
	char evidence[1536];
	char reason[256];               /* why skipped */
};

#define DIAG_MAX_CAUSES 6
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
};

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
};

struct diag_report {
	struct diag_facts facts;
	struct diag_step steps[DS_COUNT];
	struct diag_result result;
	long network_ms;                /* time spent in steps 5-7 */
	long network_bound_ms;          /* the sum of the bounds given to every probe run */
};

/* Run the checklist for MAC (any spelling).  Returns 0 when it ran (read
 * the steps), -1 when it could not (unknown device, database error: err). */
int diagnose_run(struct store *s, const char *mac, const struct diag_opts *o, struct diag_report *rep,
		 char *err, size_t errlen);
/* Did any step fail (exit code 1)? */
bool diag_failed(const struct diag_report *rep);
/* The report as JSON (new reference). */
json_t *diag_report_json(const struct diag_report *rep, bool ticket);

#endif
