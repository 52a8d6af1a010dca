/*
 * probe.c: the network half of `sipprov diagnose`: DNS reports, and OPTIONS
 * or contact-less REGISTER (a binding query: it never creates or removes a
 * registration) sent through sip/txn.c against one absolute deadline, so a
 * blackholed port costs the timeout and no more.  What it adds is the
 * request text, the digest answer, and sentences an admin can act on.
 * The TLS context lives for one probe and is freed before return.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "probe.h"
#include "sip/sip.h"
#include "core/sipprov.h"

const char *probe_status_name(enum probe_status st)
{
	switch (st) {
	case PROBE_OK: return "ok";
	case PROBE_DNS: return "dns";
	case PROBE_REFUSED: return "refused";
	case PROBE_TIMEOUT: return "timeout";
	case PROBE_TLS: return "tls";
	case PROBE_ERROR: return "error";
	}
	return "error";
}

int probe_default_port(const char *transport)
{
	return transport && !strcasecmp(transport, "tls") ? 5061 : 5060;
}

/* ---- DNS ---- */

static void addr_text(const struct sockaddr *sa, char *out, size_t n, bool with_port)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		port = ntohs(s4->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		port = ntohs(s6->sin6_port);
	}
	if (!with_port)
		snprintf(out, n, "%s", ip);
	else if (sa->sa_family == AF_INET6)
		snprintf(out, n, "[%s]:%d", ip, port);
	else
		snprintf(out, n, "%s:%d", ip, port);
}

int probe_dns(const char *host, long timeout_ms, char *out, size_t outlen)
{
	struct addrinfo *res = NULL;
	int count = 0;
	struct buf b;

	int rc = sip_resolve(host, SOCK_DGRAM, timeout_ms, &res, out, outlen);
	if (rc < 0)
		return rc == -2 ? 0 : -1;
	buf_init(&b, 1024);
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		char a[INET6_ADDRSTRLEN + 8];
		addr_text(ai->ai_addr, a, sizeof(a), false);
		if (b.data && strstr(b.data, a))
			continue;
		buf_printf(&b, "%s%s", count ? ", " : "", a);
		count++;
	}
	freeaddrinfo(res);
	sp_strlcpy(out, b.data ? b.data : "", outlen);
	buf_release(&b);
	return count;
}

int probe_srv(const char *name, long timeout_ms, char *out, size_t outlen)
{
	struct __res_state st;
	unsigned char ans[4096];
	ns_msg msg;
	int len, count = 0;
	struct buf b;

	memset(&st, 0, sizeof(st));
	if (res_ninit(&st) < 0) {
		sp_err(out, outlen, "resolver initialisation failed");
		return -1;
	}
	/* retrans is per try in seconds; two tries keep the total near the bound. */
	st.retrans = (int)(timeout_ms / 2000) > 0 ? (int)(timeout_ms / 2000) : 1;
	st.retry = 2;
	len = res_nquery(&st, name, ns_c_in, ns_t_srv, ans, sizeof(ans));
	if (len < 0) {
		int h = st.res_h_errno;
		res_nclose(&st);
		if (h == HOST_NOT_FOUND || h == NO_DATA) {
			sp_err(out, outlen, "no SRV record for '%s' (%s)", name,
			       h == HOST_NOT_FOUND ? "NXDOMAIN" : "no data");
			return 0;
		}
		sp_err(out, outlen, "SRV lookup of '%s' failed: %s", name, hstrerror(h));
		return -1;
	}
	if (ns_initparse(ans, len, &msg) < 0) {
		res_nclose(&st);
		sp_err(out, outlen, "SRV answer for '%s' is malformed", name);
		return -1;
	}
	buf_init(&b, 2048);
	for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		ns_rr rr;
		char target[NS_MAXDNAME];
		const unsigned char *rd;
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0 || ns_rr_type(rr) != ns_t_srv || ns_rr_rdlen(rr) < 7)
			continue;
		rd = ns_rr_rdata(rr);
		if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), rd + 6, target, sizeof(target)) < 0)
			continue;
		buf_printf(&b, "%s%u %u %u %s", count ? "; " : "", (unsigned)ns_get16(rd),
			   (unsigned)ns_get16(rd + 2), (unsigned)ns_get16(rd + 4), target);
		count++;
	}
	res_nclose(&st);
	if (count)
		sp_strlcpy(out, b.data, outlen);
	else
		sp_err(out, outlen, "no SRV record for '%s' (empty answer)", name);
	buf_release(&b);
	return count;
}

/* ---- digest ---- */

static void dhash(const char *alg, const char *s, char out[65])
{
	if (!strcasecmp(alg, "SHA-256"))
		sha256_hex(s, strlen(s), out);
	else
		md5_hex(s, strlen(s), out);
}

static void digest_header(const struct sip_challenge *c, const struct probe_auth *a, const char *method,
			  const char *uri, struct buf *out)
{
	char ha1[65], ha2[65], resp[65], cnonce[17] = "0123456789abcdef";
	const char *alg = c->algorithm[0] ? c->algorithm : "MD5";
	bool qop_auth = strcasestr(c->qop, "auth") != NULL;
	struct buf t;
	buf_init(&t, 2048);
	buf_printf(&t, "%s:%s:%s", a->auth_user, c->realm, a->password);
	dhash(alg, t.data, ha1);
	secret_wipe(t.data, t.len);
	t.len = 0;
	buf_printf(&t, "%s:%s", method, uri);
	dhash(alg, t.data, ha2);
	t.len = 0;
	if (random_hex(cnonce, 8) < 0)
		sp_strlcpy(cnonce, "5f3c1a7e9b2d4c60", sizeof(cnonce));
	if (qop_auth)
		buf_printf(&t, "%s:%s:00000001:%s:auth:%s", ha1, c->nonce, cnonce, ha2);
	else
		buf_printf(&t, "%s:%s:%s", ha1, c->nonce, ha2);
	dhash(alg, t.data, resp);
	buf_release(&t);
	secret_wipe(ha1, sizeof(ha1));
	buf_printf(out, "%s: Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
		   "response=\"%s\", algorithm=%s", c->proxy ? "Proxy-Authorization" : "Authorization",
		   a->auth_user, c->realm, c->nonce, uri, resp, alg);
	if (qop_auth)
		buf_printf(out, ", qop=auth, nc=00000001, cnonce=\"%s\"", cnonce);
	if (c->opaque[0])
		buf_printf(out, ", opaque=\"%s\"", c->opaque);
	buf_adds(out, "\r\n");
}

/* One request of a probe; the transaction layer calls probe_build with
 * the local address and branch once connected. */
struct probe_req {
	const struct probe_target *t;
	const char *method, *transport, *callid, *ftag, *auth;
	long cseq;
};

static int probe_build(void *arg, const char *lhost, int lport, const char *branch, struct buf *b)
{
	const struct probe_req *q = arg;
	const struct probe_target *t = q->t;
	const char *dom = t->domain[0] ? t->domain : t->host;
	const char *user = t->user[0] ? t->user : "probe";
	char up[8];
	snprintf(up, sizeof(up), "%s", q->transport);
	for (char *p = up; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	buf_printf(b, "%s sip:%s SIP/2.0\r\n", q->method, dom);
	buf_printf(b, strchr(lhost, ':') ? "Via: SIP/2.0/%s [%s]:%d;branch=%s;rport\r\n"
		   : "Via: SIP/2.0/%s %s:%d;branch=%s;rport\r\n", up, lhost, lport, branch);
	buf_adds(b, "Max-Forwards: 70\r\n");
	buf_printf(b, "From: <sip:%s@%s>;tag=%s\r\n", user, dom, q->ftag);
	buf_printf(b, "To: <sip:%s@%s>\r\n", user, dom);
	buf_printf(b, "Call-ID: %s\r\n", q->callid);
	buf_printf(b, "CSeq: %ld %s\r\n", q->cseq, q->method);
	if (q->auth)
		buf_adds(b, q->auth);
	if (!strcmp(q->method, "OPTIONS"))
		buf_adds(b, "Accept: application/sdp\r\n");
	buf_adds(b, "User-Agent: " SP_PROBE_UA_PREFIX SP_VERSION "\r\n");
	buf_adds(b, "Content-Length: 0\r\n\r\n");
	return 0;
}


/* The transaction's failure as a sentence naming what to check. */
static void explain(const struct sip_txn *x, const char *tr, struct probe_result *r)
{
	bool udp = !strcasecmp(tr, "udp");
	switch (x->result) {
	case SIP_TX_DNS:
		r->status = PROBE_DNS;
		snprintf(r->text, sizeof(r->text), "%s", x->why);
		break;
	case SIP_TX_REFUSED:
		r->status = PROBE_REFUSED;
		if (udp)
			snprintf(r->text, sizeof(r->text), "udp %s: ICMP port unreachable: nothing listens on that "
				 "port", r->addr);
		else
			snprintf(r->text, sizeof(r->text), "tcp connect to %s: %s (nothing listens on that port)",
				 r->addr, x->why);
		break;
	case SIP_TX_TIMEOUT:
		r->status = PROBE_TIMEOUT;
		if (udp)
			snprintf(r->text, sizeof(r->text), "udp %s: no answer to %d transmissions: packets dropped "
				 "(firewall, wrong port or address)", r->addr, x->sends);
		else if (x->state == SIP_TXS_CONNECTING)
			snprintf(r->text, sizeof(r->text), "tcp connect to %s: no answer within the timeout "
				 "(packets dropped: firewall or wrong address)", r->addr);
		else if (x->state == SIP_TXS_HANDSHAKE)
			snprintf(r->text, sizeof(r->text), "tls handshake with %s: no answer within the timeout "
				 "(is TLS served on this port?)", r->addr);
		else
			snprintf(r->text, sizeof(r->text), "%s %s: connected but no SIP answer within the timeout",
				 tr, r->addr);
		break;
	case SIP_TX_TLS:
		r->status = PROBE_TLS;
		snprintf(r->text, sizeof(r->text), "tls with %s: %s", r->addr, x->why);
		break;
	case SIP_TX_CLOSED:
		r->status = PROBE_ERROR;
		snprintf(r->text, sizeof(r->text), "%s %s: connection closed before a response%s", tr, r->addr,
			 !strcasecmp(tr, "tls") ? "" : " (port open but no SIP server?)");
		break;
	default:
		r->status = PROBE_ERROR;
		snprintf(r->text, sizeof(r->text), "%s %s: %s", tr, r->addr[0] ? r->addr : "-", x->why);
		break;
	}
}

/* One transaction of the probe; 0 with x->resp, or -1 with r explained. */
static int probe_txn(struct sip_txn *x, const struct sip_dest *d, struct probe_req *q, struct probe_result *r)
{
	int rc = sip_txn_run(x, d, probe_build, q);
	sip_txn_release(x);
	sp_strlcpy(r->addr, x->addr, sizeof(r->addr));
	r->sends = x->sends;
	if (x->tls_done && !r->tls_done) {
		r->tls_done = true;
		r->tls_verified = x->tls_verified;
		sp_strlcpy(r->tls_subject, x->tls_subject, sizeof(r->tls_subject));
		sp_strlcpy(r->tls_issuer, x->tls_issuer, sizeof(r->tls_issuer));
		sp_strlcpy(r->tls_not_after, x->tls_not_after, sizeof(r->tls_not_after));
		sp_strlcpy(r->tls_verify_text, x->tls_verify_text, sizeof(r->tls_verify_text));
	}
	if (rc < 0)
		explain(x, q->transport, r);
	return rc;
}

int probe_sip(const struct probe_target *t, const char *method, const struct probe_auth *auth,
	      struct probe_result *r)
{
	int64_t start = sip_now_ms();
	int64_t deadline = start + (t->timeout_ms > 0 ? t->timeout_ms : 3000);
	const char *tr = t->transport[0] ? t->transport : "udp";
	int tri = sip_transport_parse(tr);
	char callid[48], ftag[17], rnd[17], err[300];
	struct probe_req q = { .t = t, .method = method, .transport = tr, .callid = callid, .ftag = ftag,
			       .cseq = 1 };
	struct sip_txn *x = NULL;
	struct buf ah = { 0 };
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (tri < 0) {
		r->status = PROBE_ERROR;
		snprintf(r->text, sizeof(r->text), "unknown transport '%s' (udp, tcp, tls)", tr);
		return -1;
	}
	struct sip_dest d = {
		.host = t->host, .port = t->port > 0 ? t->port : probe_default_port(tr),
		.tr = (enum sip_transport)tri, .timeout_ms = deadline - start, .tls_verify = t->tls_verify,
		.icmp_fatal = true,
	};
	if (d.tr == SIP_TLS && !(d.tls = sip_tls_new(t->ca_file, err, sizeof(err)))) {
		r->status = PROBE_ERROR;
		snprintf(r->text, sizeof(r->text), "%s", err);
		goto out;
	}
	if (random_hex(rnd, 8) < 0 || random_hex(ftag, 8) < 0) {
		r->status = PROBE_ERROR;
		snprintf(r->text, sizeof(r->text), "random number generator failed");
		goto out;
	}
	snprintf(callid, sizeof(callid), SP_PROBE_CALLID_PREFIX "%s@sipprov", rnd);
	x = xcalloc(1, sizeof(*x));
	/* Loading the trust store came out of the same bound. */
	if ((d.timeout_ms = deadline - sip_now_ms()) < 1)
		d.timeout_ms = 1;
	if (probe_txn(x, &d, &q, r) < 0)
		goto out;
	r->first_code = x->resp.code;
	if ((x->resp.code == 401 || x->resp.code == 407) && auth && auth->auth_user && auth->password) {
		const struct sip_challenge *c = &x->resp.challenge;
		const char *alg = c->algorithm[0] ? c->algorithm : "MD5";
		char uri[300];
		if (!c->present || c->proxy != (x->resp.code == 407) || !c->nonce[0] ||
		    (strcasecmp(alg, "MD5") && strcasecmp(alg, "SHA-256"))) {
			r->status = PROBE_ERROR;
			snprintf(r->text, sizeof(r->text), "%s %s: %d challenge without a usable Digest "
				 "(MD5 or SHA-256)", tr, r->addr, x->resp.code);
			goto out;
		}
		snprintf(uri, sizeof(uri), "sip:%s", t->domain[0] ? t->domain : t->host);
		buf_init(&ah, 2048);
		digest_header(c, auth, method, uri, &ah);
		q.auth = ah.data;
		q.cseq = 2;
		d.timeout_ms = deadline - sip_now_ms();
		if (d.timeout_ms <= 0) {
			r->status = PROBE_TIMEOUT;
			snprintf(r->text, sizeof(r->text), "%s %s: no time left to answer the challenge", tr, r->addr);
			goto out;
		}
		if (probe_txn(x, &d, &q, r) < 0)
			goto out;
	}
	r->status = PROBE_OK;
	r->code = x->resp.code;
	sp_strlcpy(r->reason, x->resp.reason, sizeof(r->reason));
	rc = 0;
out:
	if (ah.data)
		secret_wipe(ah.data, ah.len);
	buf_release(&ah);
	free(x);
	sip_tls_free(d.tls);
	r->elapsed_ms = (long)(sip_now_ms() - start);
	if (rc == 0)
		snprintf(r->text, sizeof(r->text), "%s over %s to %s: %d %s in %ld ms", method, tr, r->addr,
			 r->code, r->reason, r->elapsed_ms);
	else if (r->status == PROBE_TIMEOUT) {
		size_t l = strlen(r->text);
		snprintf(r->text + l, sizeof(r->text) - l, " (gave up after %ld ms)", r->elapsed_ms);
	}
	return rc;
}
