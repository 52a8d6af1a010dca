/*
 * notify.c (unit): Contact URI parsing, the NOTIFY text, and the sender
 * against loopback responders in threads: UDP answered after drops (RFC
 * 3261 retransmissions), UDP never answered (timeout), stray responses
 * ignored, TCP 100 then 481, TCP refused, outbound proxy, rate bound.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "ops/ops.h"
#include "core/sipprov.h"

static const struct {
	const char *in;
	int rc;
	const char *user, *host;
	int port, tr;
	const char *text;
} uris[] = {
	{ "<sip:alice@127.0.0.1:5100;transport=udp>;expires=3600", 0, "alice", "127.0.0.1", 5100, SIP_UDP,
	  "sip:alice@127.0.0.1:5100;transport=udp" },
	{ "\"Bob\" <sip:bob@[::1]:5062;transport=TCP>", 0, "bob", "::1", 5062, SIP_TCP, "sip:bob@[::1]:5062;transport=TCP" },
	{ "sips:carol@phone.example", 0, "carol", "phone.example", 0, SIP_TLS, "sips:carol@phone.example" },
	{ "sip:10.0.0.1", 0, "", "10.0.0.1", 0, SIP_UDP, "sip:10.0.0.1" },
	{ "<sip:dave:secret@h.example:5070;transport=tls;ob>", 0, "dave", "h.example", 5070, SIP_TLS,
	  "sip:dave:secret@h.example:5070;transport=tls;ob" },
	{ "tel:+1234", -1, NULL, NULL, 0, 0, NULL },
	{ "<sip:alice@127.0.0.1", -1, NULL, NULL, 0, 0, NULL },
	{ "sip:alice@host:99999", -1, NULL, NULL, 0, 0, NULL },
	{ "sip:alice@host:", -1, NULL, NULL, 0, 0, NULL },
	{ "sip:a@h;transport=sctp", -1, NULL, NULL, 0, 0, NULL },
	{ "sips:x@h;transport=udp", -1, NULL, NULL, 0, 0, NULL },
	{ "sip:a@", -1, NULL, NULL, 0, 0, NULL },
	{ "<sip:a@ho/st>", -1, NULL, NULL, 0, 0, NULL },
	{ "<sip:a@[::1>", -1, NULL, NULL, 0, 0, NULL },
	{ "", -1, NULL, NULL, 0, 0, NULL },
};

/* ---- loopback responders ---- */

struct responder {
	int fd;
	bool tcp;
	int drop;                       /* UDP: ignore this many requests first */
	bool stray;                     /* UDP: send a wrong-branch 200 before the real answer */
	int code;                       /* 0 = never answer */
	int got;                        /* requests received */
	char first[4096];               /* first request */
	int port;
};

static int bind_lo(int type, int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, type, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	getsockname(fd, (struct sockaddr *)&a, &l);
	*port = ntohs(a.sin_port);
	if (type == SOCK_STREAM)
		listen(fd, 8);
	/* Longer than any gap between retransmissions (T1 doubling up to T2 =
	 * 4 s): a 1 s timeout raced the third send, 1 s after the second. */
	struct timeval tv = { 6, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Response echoing the request's Via, From, To, Call-ID, CSeq. */
static size_t answer(const char *req, int code, const char *branch_override, char *out, size_t outlen)
{
	size_t o = (size_t)snprintf(out, outlen, "SIP/2.0 %d %s\r\n", code, code == 200 ? "OK" : code == 100 ?
				    "Trying" : "Call/Transaction Does Not Exist");
	const char *p = strstr(req, "\r\n") + 2;
	while (*p && strncmp(p, "\r\n", 2)) {
		const char *e = strstr(p, "\r\n");
		if (!strncmp(p, "Via:", 4) && branch_override)
			o += (size_t)snprintf(out + o, outlen - o, "Via: SIP/2.0/UDP 127.0.0.1:1;branch=%s\r\n",
					      branch_override);
		else if (!strncmp(p, "Via:", 4) || !strncmp(p, "From:", 5) || !strncmp(p, "To:", 3) ||
			 !strncmp(p, "Call-ID:", 8) || !strncmp(p, "CSeq:", 5))
			o += (size_t)snprintf(out + o, outlen - o, "%.*s\r\n", (int)(e - p), p);
		p = e + 2;
	}
	o += (size_t)snprintf(out + o, outlen - o, "Content-Length: 0\r\n\r\n");
	return o;
}

static void *responder_run(void *arg)
{
	struct responder *r = arg;
	char buf[4096], out[4096];
	if (r->tcp) {
		int c = accept(r->fd, NULL, NULL);
		if (c < 0)
			return NULL;
		size_t n = 0;
		ssize_t k;
		while (n < sizeof(buf) - 1 && (k = recv(c, buf + n, sizeof(buf) - 1 - n, 0)) > 0) {
			n += (size_t)k;
			buf[n] = '\0';
			if (strstr(buf, "\r\n\r\n"))
				break;
		}
		r->got++;
		sp_strlcpy(r->first, buf, sizeof(r->first));
		size_t l = answer(buf, 100, NULL, out, sizeof(out));
		send(c, out, l, 0);
		usleep(50000);
		l = answer(buf, r->code, NULL, out, sizeof(out));
		send(c, out, l, 0);
		usleep(100000);
		close(c);
		return NULL;
	}
	for (;;) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t k = recvfrom(r->fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
		if (k <= 0)
			return NULL;
		buf[k] = '\0';
		if (r->got++ == 0)
			sp_strlcpy(r->first, buf, sizeof(r->first));
		if (!r->code || r->got <= r->drop)
			continue;
		if (r->stray) {
			size_t l = answer(buf, 200, "z9hG4bK-not-mine", out, sizeof(out));
			sendto(r->fd, out, l, 0, (struct sockaddr *)&from, fl);
		}
		size_t l = answer(buf, r->code, NULL, out, sizeof(out));
		sendto(r->fd, out, l, 0, (struct sockaddr *)&from, fl);
	}
}

static void target(struct notify_target *t, const char *contact)
{
	char err[256];
	memset(t, 0, sizeof(*t));
	sp_strlcpy(t->mac, "001565aabbcc", sizeof(t->mac));
	sp_strlcpy(t->event, "check-sync;reboot=false", sizeof(t->event));
	if (sip_uri_target(contact, &t->contact, err, sizeof(err)) < 0)
		printf("# %s\n", err);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	char err[256], contact[128];
	struct sip_uri u;

	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		int rc = sip_uri_target(uris[i].in, &u, err, sizeof(err));
		if (uris[i].rc < 0) {
			ok(rc < 0 && err[0], "refused '%s' (%s)", uris[i].in, rc < 0 ? err : "accepted");
			continue;
		}
		ok(rc == 0 && !strcmp(u.user, uris[i].user) && !strcmp(u.host, uris[i].host) &&
		   u.port == uris[i].port && (int)sip_uri_transport(&u) == uris[i].tr && !strcmp(u.text, uris[i].text),
		   "parsed '%s' -> user '%s' host '%s' port %d transport %d", uris[i].in, u.user, u.host, u.port,
		   (int)sip_uri_transport(&u));
	}
	ok(sip_hostport_parse("127.0.0.1:5070", &u, err, sizeof(err)) == 0 && u.port == 5070 &&
	   sip_uri_transport(&u) == SIP_UDP && !strcmp(u.host, "127.0.0.1"), "--via HOST:PORT");
	ok(sip_hostport_parse("sip:proxy.example:5080;transport=tcp", &u, err, sizeof(err)) == 0 &&
	   u.port == 5080 && sip_uri_transport(&u) == SIP_TCP, "--via as a SIP URI with transport");
	ok(sip_hostport_parse("[::1]:5060", &u, err, sizeof(err)) == 0 && !strcmp(u.host, "::1"), "--via [v6]:port");

	/* The request text, exactly as PEERS.md shows it, plus Route via a proxy. */
	{
		struct notify_target t;
		struct buf b;
		struct sip_uri via;
		target(&t, "<sip:alice@127.0.0.1:5100;transport=udp>");
		sip_hostport_parse("127.0.0.1:5070", &via, err, sizeof(err));
		buf_init(&b, 4096);
		notify_build(&t, &via, SIP_UDP, "127.0.0.1", 5101, "z9hG4bK-1", "1", "1@127.0.0.1", &b);
		is_str(b.data,
		       "NOTIFY sip:alice@127.0.0.1:5100;transport=udp SIP/2.0\r\n"
		       "Via: SIP/2.0/UDP 127.0.0.1:5101;branch=z9hG4bK-1;rport\r\n"
		       "Max-Forwards: 70\r\n"
		       "Route: <sip:127.0.0.1:5070;lr>\r\n"
		       "From: <sip:provisioning@127.0.0.1>;tag=1\r\n"
		       "To: <sip:alice@127.0.0.1:5100>\r\n"
		       "Call-ID: 1@127.0.0.1\r\n"
		       "CSeq: 1 NOTIFY\r\n"
		       "Contact: <sip:provisioning@127.0.0.1:5101;transport=udp>\r\n"
		       "Event: check-sync;reboot=false\r\n"
		       "Subscription-State: terminated;reason=timeout\r\n"
		       "User-Agent: sipprov/" SP_VERSION "\r\n"
		       "Content-Length: 0\r\n\r\n", "NOTIFY text with Route");
		buf_release(&b);
	}

	struct notify_opts o;
	pthread_t th;

	/* UDP: the phone drops two copies and answers the third (at ~1.5 s). */
	{
		struct responder r = { .drop = 2, .code = 200, .stray = true };
		struct notify_target t;
		r.fd = bind_lo(SOCK_DGRAM, &r.port);
		pthread_create(&th, NULL, responder_run, &r);
		snprintf(contact, sizeof(contact), "<sip:alice@127.0.0.1:%d;transport=udp>", r.port);
		target(&t, contact);
		notify_opts_init(&o);
		double t0 = now_s();
		ok(notify_run(&t, 1, &o, err, sizeof(err)) == 0, "udp run");
		double dt = now_s() - t0;
		is_str(notify_result_name(t.result), "200", "udp: 200 after retransmissions (%s)", t.detail);
		is_int(t.sends, 3, "udp: three sends (0, T1, 3*T1)");
		/* Lower bound only: load can delay the answer, never hasten it. */
		ok(dt > 1.4, "udp: answered at the third send (0, T1, 3*T1), after %.2f s", dt);
		ok(strstr(r.first, "Event: check-sync;reboot=false\r\n") != NULL, "udp: phone got the Event header");
		pthread_join(th, NULL);
		close(r.fd);
	}

	/* UDP never answered: a socket that drops everything. */
	{
		struct responder r = { .code = 0 };
		struct notify_target t;
		r.fd = bind_lo(SOCK_DGRAM, &r.port);
		snprintf(contact, sizeof(contact), "sip:bob@127.0.0.1:%d", r.port);
		target(&t, contact);
		notify_opts_init(&o);
		o.timeout_ms = 4000;
		double t0 = now_s();
		notify_run(&t, 1, &o, err, sizeof(err));
		double dt = now_s() - t0;
		usleep(100000);
		struct timeval tv = { 0, 100000 };
		setsockopt(r.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		char buf[4096];
		int got = 0;
		while (recv(r.fd, buf, sizeof(buf), 0) > 0)
			got++;
		is_str(notify_result_name(t.result), "timeout", "udp silent: timeout (%s)", t.detail);
		is_int(t.sends, 4, "udp silent: sends at 0, 0.5, 1.5, 3.5 s within a 4 s timeout");
		is_int(got, 4, "udp silent: the socket received 4 copies");
		ok(dt >= 3.9 && dt < 4.6, "udp silent: gave up at the timeout, %.2f s", dt);
		close(r.fd);
	}

	/* TCP: 100 Trying then 481. */
	{
		struct responder r = { .tcp = true, .code = 481 };
		struct notify_target t;
		r.fd = bind_lo(SOCK_STREAM, &r.port);
		pthread_create(&th, NULL, responder_run, &r);
		snprintf(contact, sizeof(contact), "<sip:carol@127.0.0.1:%d;transport=tcp>", r.port);
		target(&t, contact);
		notify_opts_init(&o);
		notify_run(&t, 1, &o, err, sizeof(err));
		is_str(notify_result_name(t.result), "481", "tcp: 481 after 100 (%s)", t.detail);
		is_int(t.code, 481, "tcp: code");
		ok(strstr(r.first, "Via: SIP/2.0/TCP 127.0.0.1:") != NULL, "tcp: Via says TCP");
		pthread_join(th, NULL);
		close(r.fd);
	}

	/* TCP refused: nothing listens there. */
	{
		int port, fd = bind_lo(SOCK_STREAM, &port);
		struct notify_target t;
		close(fd);
		snprintf(contact, sizeof(contact), "<sip:dan@127.0.0.1:%d;transport=tcp>", port);
		target(&t, contact);
		notify_opts_init(&o);
		notify_run(&t, 1, &o, err, sizeof(err));
		is_str(notify_result_name(t.result), "other", "tcp refused: other");
		ok(strstr(t.detail, "refused") != NULL, "tcp refused: detail '%s'", t.detail);
	}

	/* Through an outbound proxy: sent to the proxy, Request-URI = contact. */
	{
		struct responder r = { .code = 200 };
		struct notify_target t;
		struct sip_uri via;
		r.fd = bind_lo(SOCK_DGRAM, &r.port);
		pthread_create(&th, NULL, responder_run, &r);
		target(&t, "<sip:erin@192.0.2.55:5060>");
		snprintf(contact, sizeof(contact), "127.0.0.1:%d", r.port);
		sip_hostport_parse(contact, &via, err, sizeof(err));
		notify_opts_init(&o);
		o.via = &via;
		notify_run(&t, 1, &o, err, sizeof(err));
		is_str(notify_result_name(t.result), "200", "via proxy: 200");
		ok(!strncmp(r.first, "NOTIFY sip:erin@192.0.2.55:5060 SIP/2.0\r\n", 41), "via proxy: Request-URI is the contact");
		char route[96];
		snprintf(route, sizeof(route), "Route: <sip:127.0.0.1:%d;lr>\r\n", r.port);
		ok(strstr(r.first, route) != NULL, "via proxy: %.*s", (int)strlen(route) - 2, route);
		shutdown(r.fd, SHUT_RDWR);
		pthread_join(th, NULL);
		close(r.fd);
	}

	/* Rate bound: 20 targets at 100/s take at least 0.19 s; all answered. */
	{
		struct responder r = { .code = 200 };
		struct notify_target t[20];
		r.fd = bind_lo(SOCK_DGRAM, &r.port);
		pthread_create(&th, NULL, responder_run, &r);
		for (int i = 0; i < 20; i++) {
			snprintf(contact, sizeof(contact), "sip:u%d@127.0.0.1:%d", i, r.port);
			target(&t[i], contact);
		}
		notify_opts_init(&o);
		o.rate = 100;
		o.concurrency = 4;
		double t0 = now_s();
		notify_run(t, 20, &o, err, sizeof(err));
		double dt = now_s() - t0;
		int n200 = 0;
		for (int i = 0; i < 20; i++)
			n200 += t[i].result == NR_OK;
		is_int(n200, 20, "rate: all 20 answered");
		ok(dt >= 0.185 && dt < 1.0, "rate: 20 at 100/s took %.3f s", dt);
		shutdown(r.fd, SHUT_RDWR);
		pthread_join(th, NULL);
		close(r.fd);
	}
	return tap_done();
}
