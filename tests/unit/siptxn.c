/*
 * tests/unit/siptxn.c: the client transaction layer against loopback peers:
 * a silent UDP socket counting Timer E copies within Timer F (Trying, and
 * Proceeding after a 100), Timer K absorbing a retransmitted 200, responses
 * with a foreign branch or CSeq method ignored, TCP framing (keep-alive,
 * split writes, a body), a silent TCP peer bounded by the timeout, and sipp
 * as a real UAS over UDP and TCP.  Counts and order, not tight wall-clock.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "sip/sip.h"
#include "core/sipprov.h"

extern char **environ;

static int bound(int type, int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, type, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(fd, (struct sockaddr *)&a, &l) < 0)
		return -1;
	*port = ntohs(a.sin_port);
	if (type == SOCK_STREAM)
		listen(fd, 4);
	return fd;
}

static int build(void *arg, const char *lhost, int lport, const char *branch, struct buf *b)
{
	const char *method = arg;
	buf_printf(b, "%s sip:uas@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=%s;rport\r\n"
		   "Max-Forwards: 70\r\nFrom: <sip:test@127.0.0.1>;tag=t1\r\nTo: <sip:uas@127.0.0.1>\r\n"
		   "Call-ID: %s-call@127.0.0.1\r\nCSeq: 1 %s\r\n%sContent-Length: 0\r\n\r\n", method, lhost, lport,
		   branch, branch, method,
		   !strcmp(method, "NOTIFY") ? "Event: check-sync\r\nSubscription-State: terminated\r\n" : "");
	return 0;
}

/* A response to req: its Via/From/To/Call-ID/CSeq, with overrides. */
static size_t answer(const char *req, size_t len, int code, const char *branch, const char *cseq, char *out,
		     size_t outlen)
{
	char via[512], from[256], to[256], cid[256], cs[64];
	struct sipmsg m;
	sipmsg_parse(req, len, &m, NULL, 0);
	sipmsg_header(req, len, "Via", via, sizeof(via));
	sipmsg_header(req, len, "From", from, sizeof(from));
	sipmsg_header(req, len, "To", to, sizeof(to));
	sipmsg_header(req, len, "Call-ID", cid, sizeof(cid));
	sipmsg_header(req, len, "CSeq", cs, sizeof(cs));
	if (branch) {
		char *b = strstr(via, "branch=");
		snprintf(b + 7, sizeof(via) - (size_t)(b + 7 - via), "%s", branch);
	}
	return (size_t)snprintf(out, outlen, "SIP/2.0 %d %s\r\nVia: %s\r\nFrom: %s\r\nTo: %s;tag=u1\r\n"
				"Call-ID: %s\r\nCSeq: %s\r\nContent-Length: 0\r\n\r\n", code, code == 100 ? "Trying" : "OK",
				via, from, to, cid, cseq ? cseq : cs);
}

/* ---- UDP peer in a thread ---- */

enum udp_mode { U_SILENT, U_TRYING_ONCE, U_FINAL_TWICE, U_WRONG_THEN_RIGHT };

struct udp_peer {
	int fd;
	enum udp_mode mode;
	int got;
	int64_t at[32];                 /* arrival, ms after the first */
	int identical;                  /* copies byte-identical to the first */
	int stamped;                    /* copies with a kernel timestamp */
	bool stop;
};

static void *udp_run(void *arg)
{
	struct udp_peer *p = arg;
	char first[4096], in[4096], out[4096];
	size_t firstlen = 0;
	int64_t t0 = 0;
	for (;;) {
		/* Stop only once told to and nothing is left to read. */
		struct pollfd pf = { .fd = p->fd, .events = POLLIN };
		if (poll(&pf, 1, 100) <= 0) {
			if (__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE))
				break;
			continue;
		}
		/* The kernel's arrival stamp (SO_TIMESTAMPNS), not when this
		 * thread got to run: on loopback that is the send time. */
		struct sockaddr_storage from;
		char cbuf[CMSG_SPACE(sizeof(struct timespec))];
		struct iovec iov = { .iov_base = in, .iov_len = sizeof(in) };
		struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		ssize_t n = recvmsg(p->fd, &mh, 0);
		socklen_t fl = mh.msg_namelen;
		if (n <= 0)
			continue;
		int64_t now = -1;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;
				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
			}
		p->stamped += now >= 0;
		if (p->got == 0) {
			t0 = now;
			memcpy(first, in, (size_t)n);
			firstlen = (size_t)n;
		}
		if (p->got < 32)
			p->at[p->got] = now - t0;
		p->identical += (size_t)n == firstlen && !memcmp(in, first, firstlen);
		p->got++;
		size_t l = 0;
		if (p->mode == U_TRYING_ONCE && p->got == 1) {
			l = answer(in, (size_t)n, 100, NULL, NULL, out, sizeof(out));
		} else if (p->mode == U_FINAL_TWICE && p->got == 1) {
			l = answer(in, (size_t)n, 200, NULL, NULL, out, sizeof(out));
			sendto(p->fd, out, l, 0, (struct sockaddr *)&from, fl);   /* and its retransmission */
		} else if (p->mode == U_WRONG_THEN_RIGHT) {
			if (p->got == 1) {
				l = answer(in, (size_t)n, 200, "z9hG4bK-someone-else", NULL, out, sizeof(out));
				sendto(p->fd, out, l, 0, (struct sockaddr *)&from, fl);
				l = answer(in, (size_t)n, 200, NULL, "1 INVITE", out, sizeof(out));
			} else {
				l = answer(in, (size_t)n, 200, NULL, NULL, out, sizeof(out));
			}
		}
		if (l)
			sendto(p->fd, out, l, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

static void udp_case(enum udp_mode mode, struct sip_dest *d, struct sip_txn *x, struct udp_peer *p)
{
	pthread_t th;
	int port;
	memset(p, 0, sizeof(*p));
	p->mode = mode;
	p->fd = bound(SOCK_DGRAM, &port);
	int one = 1;
	setsockopt(p->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	pthread_create(&th, NULL, udp_run, p);
	d->host = "127.0.0.1";
	d->port = port;
	d->tr = SIP_UDP;
	sip_txn_run(x, d, build, "OPTIONS");
	usleep(100000);                 /* the last copy reaches the peer */
	__atomic_store_n(&p->stop, true, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	close(p->fd);
}

/* Offsets of Timer E copies strictly before Timer F: T1 doubling to T2,
 * or (proceeding after the first copy's 100) the first E then every T2. */
static int schedule(int t1, int t2, int f, bool proceeding, int64_t *at, int max)
{
	int n = 0;
	int64_t t = 0, iv = t1;
	while (t < f && n < max) {
		at[n++] = t;
		if (proceeding && n >= 2)
			iv = t2;
		t += iv;
		if (!proceeding)
			iv = iv * 2 > t2 ? t2 : iv * 2;
	}
	return n;
}

static void test_timer_e(void)
{
	struct sip_dest d = { .t1_ms = 50, .t2_ms = 400 };   /* Timer F = 64*T1 = 3.2 s */
	struct sip_txn *x = xcalloc(1, sizeof(*x));
	struct udp_peer p;
	int64_t want[32];
	int n = schedule(50, 400, 64 * 50, false, want, 32);

	udp_case(U_SILENT, &d, x, &p);
	is_int(n, 11, "Timer E: 0, 50, 150, 350, 750, then every 400 ms up to 3150: 11 copies before Timer F");
	is_int(x->result, SIP_TX_TIMEOUT, "silent peer: Timer F fires (%s)", x->why);
	is_int(x->sends, n, "the transaction counted %d sends", x->sends);
	is_int(p.got, n, "the silent peer received %d copies", p.got);
	is_int(p.identical, p.got, "every retransmission is byte-identical to the first");
	is_int(p.stamped, p.got, "every copy has its kernel arrival time");
	int early = 0;
	for (int i = 0; i < p.got && i < n; i++)
		early += p.at[i] + 5 < want[i];   /* load delays a copy, nothing hastens one */
	is_int(early, 0, "no copy before its Timer E offset (doubling from T1, capped at T2)");
	ok(x->elapsed_ms >= 64 * 50, "gave up at Timer F, not before (%ld ms)", x->elapsed_ms);
	sip_txn_release(x);

	/* A 100 to the first copy: Proceeding, Timer E every T2. */
	n = schedule(50, 400, 64 * 50, true, want, 32);
	udp_case(U_TRYING_ONCE, &d, x, &p);
	is_int(n, 9, "proceeding: 0, 50, then every 400 ms up to 2850: 9 copies");
	is_int(x->provisional, 1, "the 100 was seen");
	is_int(x->state, SIP_TXS_PROCEEDING, "state proceeding at Timer F");
	is_int(x->result, SIP_TX_TIMEOUT, "still a timeout without a final");
	is_int(p.got, n, "the peer received %d copies at T2 spacing", p.got);
	early = 0;
	for (int i = 0; i < p.got && i < n; i++)
		early += p.at[i] + 5 < want[i];
	is_int(early, 0, "no copy before its offset");
	sip_txn_release(x);
	free(x);
}

static void test_timer_k_and_matching(void)
{
	struct sip_dest d = { .t1_ms = 100, .t4_ms = 300 };
	struct sip_txn *x = xcalloc(1, sizeof(*x));
	struct udp_peer p;
	pthread_t th;
	int port;

	/* 200 and its retransmission: the second is absorbed under Timer K. */
	memset(&p, 0, sizeof(p));
	p.mode = U_FINAL_TWICE;
	p.fd = bound(SOCK_DGRAM, &port);
	pthread_create(&th, NULL, udp_run, &p);
	d.host = "127.0.0.1";
	d.port = port;
	d.tr = SIP_UDP;
	ok(sip_txn_run(x, &d, build, "OPTIONS") == 0 && x->resp.code == 200, "final 200");
	is_int(x->state, SIP_TXS_COMPLETED, "completed: Timer K running");
	ok(sip_txn_fd(x) >= 0, "the socket stays open under Timer K");
	while (!sip_txn_over(x)) {
		struct pollfd pf = { .fd = sip_txn_fd(x), .events = sip_txn_events(x) };
		int64_t w = sip_txn_wake(x) - sip_now_ms();
		int rc = poll(&pf, 1, w < 0 ? 0 : (int)w);
		sip_txn_step(x, rc > 0 ? pf.revents : 0);
	}
	is_int(x->absorbed, 1, "the retransmitted 200 was absorbed");
	is_int(x->state, SIP_TXS_TERMINATED, "terminated when Timer K fired");
	is_str(x->resp.to_tag, "u1", "the final's To tag");
	__atomic_store_n(&p.stop, true, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	close(p.fd);
	sip_txn_release(x);

	/* Foreign branch and foreign CSeq method are not ours. */
	udp_case(U_WRONG_THEN_RIGHT, &d, x, &p);
	is_int(x->result, SIP_TX_FINAL, "answered in the end");
	is_int(x->sends, 2, "the two wrong answers to the first copy were ignored: answered at the retransmission");
	is_str(x->resp.cseq_method, "OPTIONS", "the matching response's CSeq method");
	sip_txn_release(x);
	free(x);
}

/* ---- TCP ---- */

struct tcp_peer {
	int fd;
	bool silent;
};

static void *tcp_run(void *arg)
{
	struct tcp_peer *p = arg;
	char in[4096], out[4096];
	size_t n = 0;
	ssize_t k;
	int c = accept(p->fd, NULL, NULL);
	if (c < 0)
		return NULL;
	while (n < sizeof(in) - 1 && (k = recv(c, in + n, sizeof(in) - 1 - n, 0)) > 0) {
		n += (size_t)k;
		if (memmem(in, n, "\r\n\r\n", 4))
			break;
	}
	if (!p->silent) {
		size_t l = answer(in, n, 200, NULL, NULL, out, sizeof(out));
		char *cl = strstr(out, "Content-Length: 0");
		memcpy(cl, "Content-Length: 3\r\n\r\nabc", 24);
		l = (size_t)(cl - out) + 24;
		send(c, "\r\n\r\n", 4, 0);                 /* keep-alive first (RFC 5626) */
		send(c, out, 20, 0);                        /* then the response in two writes */
		usleep(50000);
		send(c, out + 20, l - 20, 0);
	}
	usleep(p->silent ? 1500000 : 200000);
	close(c);
	return NULL;
}

static void test_tcp(void)
{
	struct sip_dest d = { .host = "127.0.0.1", .tr = SIP_TCP, .timeout_ms = 3000 };
	struct sip_txn *x = xcalloc(1, sizeof(*x));
	struct tcp_peer p = { 0 };
	pthread_t th;

	p.fd = bound(SOCK_STREAM, &d.port);
	pthread_create(&th, NULL, tcp_run, &p);
	ok(sip_txn_run(x, &d, build, "OPTIONS") == 0, "tcp: final response (%s)", x->why);
	is_int(x->resp.code, 200, "tcp: 200 framed across a keep-alive and two writes");
	is_int(x->resp.content_length, 3, "tcp: its body counted by Content-Length");
	is_int(x->state, SIP_TXS_TERMINATED, "tcp: no Timer K on a reliable transport");
	is_int(x->sends, 1, "tcp: sent once, never retransmitted");
	pthread_join(th, NULL);
	close(p.fd);
	sip_txn_release(x);

	p.silent = true;
	p.fd = bound(SOCK_STREAM, &d.port);
	pthread_create(&th, NULL, tcp_run, &p);
	d.timeout_ms = 400;
	ok(sip_txn_run(x, &d, build, "OPTIONS") < 0 && x->result == SIP_TX_TIMEOUT, "tcp silent: timeout");
	is_int(x->state, SIP_TXS_TRYING, "tcp silent: connected and sent, no answer");
	ok(x->elapsed_ms >= 400, "tcp silent: waited the bound (%ld ms)", x->elapsed_ms);
	pthread_join(th, NULL);
	close(p.fd);
	sip_txn_release(x);

	/* Nothing listens: refused at once. */
	int fd = bound(SOCK_STREAM, &d.port);
	close(fd);
	ok(sip_txn_run(x, &d, build, "OPTIONS") < 0 && x->result == SIP_TX_REFUSED, "tcp: refused (%s)", x->why);
	sip_txn_release(x);
	free(x);
}

/* ---- sipp as the UAS ---- */

static void test_sipp(const char *tflag, enum sip_transport tr)
{
	struct sip_dest d = { .host = "127.0.0.1", .tr = tr, .timeout_ms = 5000 };
	struct sip_txn *x = xcalloc(1, sizeof(*x));
	char port[8];
	pid_t pid;
	int fd = bound(tr == SIP_UDP ? SOCK_DGRAM : SOCK_STREAM, &d.port), status = -1;
	close(fd);
	snprintf(port, sizeof(port), "%d", d.port);
	char *argv[] = { "sipp", "-sf", "tests/peers/notify_uas.xml", "-i", "127.0.0.1", "-p", port, "-t",
			 (char *)tflag, "-m", "1", "-nostdin", "-timeout", "20s", "-timeout_error", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	int rc = posix_spawnp(&pid, "sipp", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	ok(rc == 0, "sipp started as UAS on %s %d", sip_transport_name(tr), d.port);
	if (rc != 0) {
		free(x);
		return;
	}
	/* sipp needs a moment to bind; a UDP copy or a TCP connect before
	 * that is retried by the transaction (UDP) or here (TCP refused). */
	for (int i = 0; i < 20; i++) {
		usleep(150000);
		sip_txn_run(x, &d, build, "NOTIFY");
		sip_txn_release(x);
		if (x->result != SIP_TX_REFUSED)
			break;
	}
	is_int(x->result, SIP_TX_FINAL, "sipp %s: final response (%s)", sip_transport_name(tr), x->why);
	is_int(x->resp.code, 200, "sipp %s: 200", sip_transport_name(tr));
	ok(strstr(x->resp.to_tag, "SIPpTag01") != NULL, "sipp %s: its To tag '%s'", sip_transport_name(tr),
	   x->resp.to_tag);
	ok(!strncmp(x->resp.via_branch, "z9hG4bK", 7), "sipp %s: branch echoed '%s'", sip_transport_name(tr),
	   x->resp.via_branch);
	if (waitpid(pid, &status, 0) == pid)
		is_int(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0, "sipp %s exited 0: scenario complete",
		       sip_transport_name(tr));
	else
		ok(0, "sipp exit status");
	free(x);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_timer_e();
	test_timer_k_and_matching();
	test_tcp();
	test_sipp("u1", SIP_UDP);
	test_sipp("t1", SIP_TCP);
	return tap_done();
}
