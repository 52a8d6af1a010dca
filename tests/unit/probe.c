/*
 * probe.c (unit): the bounded network probes against loopback peers made
 * here: a UDP responder thread (answers OPTIONS, challenges REGISTER), a
 * UDP socket that never answers, a closed TCP port, a TCP listener that
 * never speaks, and a name that cannot resolve.  No internet needed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "ops/ops.h"
#include "core/sipprov.h"

static long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int bound_socket(int type, int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, type, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &l) < 0)
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

struct responder {
	int fd;
	/* mu guards the rest: the probe may retransmit while the test reads
	 * what the responder saw (a datagram orders nothing for TSan). */
	pthread_mutex_t mu;
	int drop_first;      /* ignore this many requests (tests retransmission) */
	int seen;
	int saw_auth;
	char last_via[256];
};

static int rs_saw_auth(struct responder *rs)
{
	pthread_mutex_lock(&rs->mu);
	int n = rs->saw_auth;
	pthread_mutex_unlock(&rs->mu);
	return n;
}

static void rs_last_via(struct responder *rs, char *out, size_t n)
{
	pthread_mutex_lock(&rs->mu);
	sp_strlcpy(out, rs->last_via, n);
	pthread_mutex_unlock(&rs->mu);
}

/* Copy the headers a response must echo, answer per method. */
static void *responder_run(void *arg)
{
	struct responder *rs = arg;
	char in[4096], out[4096], h[512];
	struct sockaddr_storage from;
	for (;;) {
		struct pollfd p = { .fd = rs->fd, .events = POLLIN };
		if (poll(&p, 1, 5000) <= 0)
			return NULL;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(rs->fd, in, sizeof(in) - 1, 0, (struct sockaddr *)&from, &fl);
		if (n <= 0)
			return NULL;
		in[n] = '\0';
		if (!strncmp(in, "QUIT", 4))
			return NULL;
		pthread_mutex_lock(&rs->mu);
		rs->seen++;
		bool drop = rs->drop_first > 0;
		if (drop)
			rs->drop_first--;
		pthread_mutex_unlock(&rs->mu);
		if (drop)
			continue;
		struct buf b;
		buf_init(&b, sizeof(out));
		bool reg = !strncmp(in, "REGISTER ", 9);
		bool authz = sipmsg_header(in, (size_t)n, "Authorization", h, sizeof(h)) == 1;
		if (authz) {
			pthread_mutex_lock(&rs->mu);
			rs->saw_auth++;
			pthread_mutex_unlock(&rs->mu);
		}
		if (reg && !authz)
			buf_adds(&b, "SIP/2.0 401 Unauthorized\r\n");
		else if (reg)
			buf_adds(&b, "SIP/2.0 403 Forbidden Wrong Password\r\n");
		else
			buf_adds(&b, "SIP/2.0 200 OK\r\n");
		const char *hs[] = { "Via", "From", "To", "Call-ID", "CSeq" };
		for (size_t i = 0; i < 5; i++)
			if (sipmsg_header(in, (size_t)n, hs[i], h, sizeof(h)) == 1) {
				buf_printf(&b, "%s: %s\r\n", hs[i], h);
				if (i == 0) {
					pthread_mutex_lock(&rs->mu);
					sp_strlcpy(rs->last_via, h, sizeof(rs->last_via));
					pthread_mutex_unlock(&rs->mu);
				}
			}
		if (reg && !authz)
			buf_adds(&b, "WWW-Authenticate: Digest realm=\"example.test\", nonce=\"abc123\", qop=\"auth\"\r\n");
		buf_adds(&b, "Content-Length: 0\r\n\r\n");
		/* a provisional first, which the probe must skip */
		sendto(rs->fd, "SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\n", 41, 0, (struct sockaddr *)&from, fl);
		sendto(rs->fd, b.data, b.len, 0, (struct sockaddr *)&from, fl);
		buf_release(&b);
	}
}

static void target(struct probe_target *t, const char *host, int port, const char *tr, long ms)
{
	memset(t, 0, sizeof(*t));
	sp_strlcpy(t->host, host, sizeof(t->host));
	t->port = port;
	sp_strlcpy(t->transport, tr, sizeof(t->transport));
	sp_strlcpy(t->domain, "example.test", sizeof(t->domain));
	sp_strlcpy(t->user, "alice", sizeof(t->user));
	t->timeout_ms = ms;
}

/* What the probes read from a response, through the one message parser. */
static void test_parse(void)
{
	const char *m = "SIP/2.0 404 Domain Not Served\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\n"
			"i: abc@host\r\nl: 0\r\nCSeq: 1 OPTIONS\r\nWWW-Authenticate: Digest realm=\"r\"\r\n\r\n";
	struct sipmsg sm;
	char v[128], err[128];
	ok(sipmsg_parse(m, strlen(m), &sm, err, sizeof(err)) == 0, "status line parses");
	is_int(sm.code, 404, "code 404");
	is_str(sm.reason, "Domain Not Served", "reason phrase");
	is_str(sm.via_branch, "z9hG4bKx", "top Via branch");
	ok(sipmsg_header(m, strlen(m), "Call-ID", v, sizeof(v)) == 1 && !strcmp(v, "abc@host"),
	   "compact 'i' found as Call-ID");
	ok(sipmsg_header(m, strlen(m), "content-length", v, sizeof(v)) == 1 && !strcmp(v, "0"),
	   "compact 'l' found as Content-Length");
	ok(sipmsg_header(m, strlen(m), "Contact", v, sizeof(v)) == 0, "absent header not found");
	const char *http = "HTTP/1.1 200 OK\r\nCall-ID: a\r\nCSeq: 1 OPTIONS\r\n\r\n";
	const char *two = "SIP/2.0 99 x\r\nCall-ID: a\r\nCSeq: 1 OPTIONS\r\n\r\n";
	const char *four = "SIP/2.0 2000 x\r\nCall-ID: a\r\nCSeq: 1 OPTIONS\r\n\r\n";
	ok(sipmsg_parse(http, strlen(http), &sm, err, sizeof(err)) < 0, "HTTP is not SIP");
	ok(sipmsg_parse(two, strlen(two), &sm, err, sizeof(err)) < 0, "two-digit code refused");
	ok(sipmsg_parse(four, strlen(four), &sm, err, sizeof(err)) < 0, "four-digit code refused");
}

int main(void)
{
	struct probe_target t;
	struct probe_result r;
	struct probe_auth auth = { "alice", "secret" };
	char out[512];
	int port;
	long t0;

	test_parse();

	/* DNS */
	ok(probe_dns("localhost", 2000, out, sizeof(out)) > 0, "localhost resolves: %s", out);
	ok(probe_dns("nonexistent.invalid", 2000, out, sizeof(out)) <= 0, "nonexistent.invalid fails");
	ok(strstr(out, "nonexistent.invalid") != NULL, "DNS error names the host: %s", out);
	target(&t, "nonexistent.invalid", 5060, "udp", 2000);
	ok(probe_sip(&t, "OPTIONS", NULL, &r) < 0 && r.status == PROBE_DNS, "probe to an unresolvable host is a DNS failure");

	/* UDP responder */
	struct responder rs = { .drop_first = 1, .mu = PTHREAD_MUTEX_INITIALIZER };
	char via[256];
	pthread_t th;
	rs.fd = bound_socket(SOCK_DGRAM, &port);
	ok(rs.fd >= 0, "responder bound on udp %d", port);
	pthread_create(&th, NULL, responder_run, &rs);
	target(&t, "127.0.0.1", port, "udp", 3000);
	t0 = mono_ms();
	ok(probe_sip(&t, "OPTIONS", NULL, &r) == 0, "UDP OPTIONS answered: %s", r.text);
	is_int(r.code, 200, "200 OK (the 100 Trying was skipped)");
	ok(r.sends == 2, "first request dropped, answered after a retransmission (sends %d)", r.sends);
	ok(mono_ms() - t0 >= 450, "retransmission came after T1 (%ld ms)", mono_ms() - t0);
	rs_last_via(&rs, via, sizeof(via));
	ok(strncmp(via, "SIP/2.0/UDP 127.0.0.1:", 22) == 0 && strstr(via, ";branch=z9hG4bK"),
	   "Via has the local address and a z9hG4bK branch: %s", via);

	ok(probe_sip(&t, "REGISTER", NULL, &r) == 0 && r.code == 401, "unauthenticated REGISTER gets 401");
	is_int(rs_saw_auth(&rs), 0, "no credentials sent without auth");
	ok(probe_sip(&t, "REGISTER", &auth, &r) == 0, "authenticated REGISTER answered");
	is_int(r.first_code, 401, "challenge seen first");
	is_int(r.code, 403, "final code is the answer to the credentials");
	is_int(rs_saw_auth(&rs), 1, "credentials sent once");
	sendto(rs.fd, "QUIT", 4, 0, NULL, 0);
	{
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int q = socket(AF_INET, SOCK_DGRAM, 0);
		sendto(q, "QUIT", 4, 0, (struct sockaddr *)&a, sizeof(a));
		close(q);
	}
	pthread_join(th, NULL);
	close(rs.fd);

	/* UDP blackhole: bound, never read */
	int bh = bound_socket(SOCK_DGRAM, &port);
	target(&t, "127.0.0.1", port, "udp", 1200);
	t0 = mono_ms();
	ok(probe_sip(&t, "OPTIONS", NULL, &r) < 0 && r.status == PROBE_TIMEOUT, "silent UDP port times out: %s", r.text);
	long el = mono_ms() - t0;
	ok(el >= 1150 && el < 1700, "within the bound (%ld ms for 1200)", el);
	is_int(r.sends, 2, "retransmitted at T1 (0, 500 ms; next at 1500 is past the bound)");
	close(bh);

	/* UDP closed port: ICMP port unreachable on loopback */
	bh = bound_socket(SOCK_DGRAM, &port);
	close(bh);
	target(&t, "127.0.0.1", port, "udp", 2000);
	ok(probe_sip(&t, "OPTIONS", NULL, &r) < 0 && r.status == PROBE_REFUSED, "closed UDP port: %s", r.text);

	/* TCP refused */
	int tc = bound_socket(SOCK_STREAM, &port);
	close(tc);
	target(&t, "127.0.0.1", port, "tcp", 2000);
	t0 = mono_ms();
	ok(probe_sip(&t, "OPTIONS", NULL, &r) < 0 && r.status == PROBE_REFUSED, "TCP connect refused: %s", r.text);
	ok(mono_ms() - t0 < 500, "refusal is immediate");
	target(&t, "127.0.0.1", port, "tls", 2000);
	ok(probe_sip(&t, "OPTIONS", NULL, &r) < 0 && r.status == PROBE_REFUSED, "TLS to a closed port is refused");

	/* TCP listener that never answers */
	tc = bound_socket(SOCK_STREAM, &port);
	listen(tc, 4);
	target(&t, "127.0.0.1", port, "tcp", 800);
	t0 = mono_ms();
	ok(probe_sip(&t, "OPTIONS", NULL, &r) < 0 && r.status == PROBE_TIMEOUT, "silent TCP peer times out: %s", r.text);
	el = mono_ms() - t0;
	ok(el >= 750 && el < 1300, "within the bound (%ld ms for 800)", el);
	target(&t, "127.0.0.1", port, "tls", 800);
	t0 = mono_ms();
	ok(probe_sip(&t, "OPTIONS", NULL, &r) < 0 && r.status == PROBE_TIMEOUT, "TLS handshake to a silent peer times out: %s", r.text);
	el = mono_ms() - t0;
	ok(el >= 750 && el < 1300, "within the bound (%ld ms for 800)", el);
	close(tc);

	target(&t, "127.0.0.1", 5060, "sctp", 800);
	ok(probe_sip(&t, "OPTIONS", NULL, &r) < 0 && r.status == PROBE_ERROR, "unknown transport refused");
	return tap_done();
}
