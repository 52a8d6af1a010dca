/*
 * sipmsg.h: a bounded SIP message parser for what registration intake
 * needs (start line, Via, From, To, Call-ID, CSeq, Contact, Expires,
 * Authorization username, User-Agent).  It does not validate SIP grammar
 * beyond that and never looks at bodies.
 */
#ifndef SP_SIPMSG_H
#define SP_SIPMSG_H
#include <stdbool.h>
#include <stddef.h>

#define SIPMSG_MAX_HEADERS 128
#define SIPMSG_MAX_LINE    4096          /* one (unfolded) header line */
#define SIPMSG_STR         256

struct sip_uri {
	char scheme[8];                     /* sip | sips | tel */
	char user[SIPMSG_STR];
	char host[SIPMSG_STR];              /* lowercase; IPv6 without brackets */
	long port;                          /* 0 = none */
	char transport[16];                 /* ;transport= lowercase */
};

struct sipmsg {
	bool request;
	char method[32];                    /* request: method; response: CSeq method */
	struct sip_uri ruri;
	int code;                           /* response status code */
	char via_transport[16];             /* top Via, lowercase: udp tcp tls ws wss sctp */
	char via_host[SIPMSG_STR];
	long via_port;
	struct sip_uri from, to;
	char call_id[SIPMSG_STR];
	long cseq;
	char cseq_method[32];
	char contact[SIPMSG_STR];           /* first Contact's URI, as written */
	struct sip_uri contact_uri;
	char instance[SIPMSG_STR];          /* +sip.instance without quotes / <> */
	long contact_expires;               /* -1 = none */
	long expires;                       /* Expires header, -1 = none */
	char auth_username[SIPMSG_STR];     /* Authorization / Proxy-Authorization username */
	char user_agent[SIPMSG_STR];
};

/* Parse buf[len] (not NUL-terminated).  Returns 0, or -1 with err.  Needs a
 * start line, Call-ID and CSeq; everything else may be missing. */
int sipmsg_parse(const char *buf, size_t len, struct sipmsg *m, char *err, size_t errlen);
/* Parse a SIP URI "sip:user@host:port;params" (with or without <>). 0 / -1. */
int sipmsg_uri(const char *s, size_t len, struct sip_uri *u);
#endif
