/*
 * bootstorm.c: a boot storm's load, phone by phone, as desk phones do it:
 * a new TCP (and TLS) connection per request, the common file, then the
 * MAC file, answered 401 with a digest challenge, then the MAC file again
 * with the MD5 digest response computed from the challenge's real nonce
 * (and, as phones do, once more with the new nonce when the answer is 401
 * stale=true).
 * Threads play phones concurrently; it reports phones provisioned per
 * second, the fleet's time and per-phone boot latency.  With --no-auth it
 * makes the same number of requests without credentials (nginx's case).
 * With --resume a phone offers its first connection's TLS session on the
 * next ones (as a TLS stack that caches its session does); without it
 * every connection is a full handshake.  With --tls12 it offers TLS 1.2
 * at most (many desk phones' TLS stacks).  It reports the TLS version the
 * server chose, so two servers are compared on the same protocol.  With
 * --save DIR it writes each phone's provisioned MAC file (and the common
 * file) into DIR: the files nginx serves in the comparison, fetched as
 * fast as the server gives them.
 * Benchmark tool only: not linked into anything that ships.
 *
 * bootstorm HOST PORT PHONES THREADS MACFMT PASSWORD COMMON MACFILE [--tls] [--tls12] [--resume] [--no-auth]
 *           [--save DIR]
 *   MACFMT    printf format of phone i's MAC, e.g. 0015%08x (i + 0x10000000, even i)
 *   COMMON    the common file, e.g. y000000000000.cfg ("-" for none)
 *   MACFILE   the per-phone file with {mac}, e.g. {mac}.cfg
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *host, *macfmt, *password, *common, *macfile, *save_dir;
static _Thread_local const char *save_path;     /* --save: where this request's 200 body goes */
static atomic_long save_failed;
static int port, nthreads;
static long phones;
static bool tls, tls12, noauth, resume;
static _Atomic(const char *) tls_version = "-";  /* what the server chose (a static string) */
static atomic_long resumed;
static _Thread_local SSL_SESSION *phone_sess;   /* --resume: this thread's phone's session */
static SSL_CTX *ctx;
static atomic_long next_phone, ok_phones, failed_phones, requests, stale_retries;
static double *lat;                     /* per-phone boot time, seconds */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void md5hex(const char *s, char out[33])
{
	unsigned char d[16];
	unsigned n = 0;
	EVP_Digest(s, strlen(s), d, &n, EVP_md5(), NULL);
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* --save: the body after the head into save_dir/save_path. */
static void save_body(const char *resp, size_t got, bool wrapped)
{
	const char *b = strstr(resp, "\r\n\r\n");
	char file[4096];
	snprintf(file, sizeof(file), "%s/%s", save_dir, save_path);
	int fd = wrapped || !b ? -1 : open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t len = b ? got - (size_t)(b + 4 - resp) : 0;
	if (fd < 0 || write(fd, b + 4, len) != (ssize_t)len) {
		fprintf(stderr, "bootstorm: cannot save %s%s\n", file, wrapped ? ": over 16 KiB" : "");
		atomic_fetch_add(&save_failed, 1);
	}
	if (fd >= 0)
		close(fd);
}

/* One request on a new connection: status, and the first MD5 challenge's
 * nonce and opaque when there is one.  -1 on a transport error. */
static int request(const char *path, const char *auth, char *nonce, size_t nlen, char *opaque, size_t olen,
		   char *stale, size_t slen)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char req[2048], resp[16384];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, status = -1;
	SSL *ssl = NULL;
	size_t got = 0;
	bool wrapped = false;
	inet_pton(AF_INET, host, &sa.sin_addr);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	if (tls) {
		ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		if (phone_sess)
			SSL_set_session(ssl, phone_sess);
		if (SSL_connect(ssl) != 1)
			goto out;
		if (SSL_session_reused(ssl))
			atomic_fetch_add(&resumed, 1);
		atomic_store(&tls_version, SSL_get_version(ssl));
	}
	int n = snprintf(req, sizeof(req), "GET /%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: bootstorm\r\n%s%s%s"
			 "Connection: close\r\n\r\n", path, host, auth ? "Authorization: " : "", auth ? auth : "",
			 auth ? "\r\n" : "");
	if ((tls ? SSL_write(ssl, req, n) : (int)write(fd, req, (size_t)n)) != n)
		goto out;
	for (;;) {
		int r = tls ? SSL_read(ssl, resp + got, (int)(sizeof(resp) - 1 - got))
			    : (int)read(fd, resp + got, sizeof(resp) - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == sizeof(resp) - 1) {
			got = 0;                /* the body does not matter, only the head */
			wrapped = true;
		}
	}
	resp[got] = '\0';
	if (save_path && !strncmp(resp, "HTTP/1.1 200", 12))
		save_body(resp, got, wrapped);
	if (resume && ssl && !phone_sess)
		phone_sess = SSL_get1_session(ssl);     /* after the reply: a TLS 1.3 ticket has come */
	if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1)
		status = -1;
	const char *w = strstr(resp, "WWW-Authenticate: Digest");
	if (w && nonce) {
		const char *p = strstr(w, "nonce=\""), *o = strstr(w, "opaque=\"");
		if (p)
			snprintf(nonce, nlen, "%.*s", (int)strcspn(p + 7, "\""), p + 7);
		if (o)
			snprintf(opaque, olen, "%.*s", (int)strcspn(o + 8, "\""), o + 8);
		const char *st = strstr(w, "stale=");
		if (st && stale) {
			st += 6 + (st[6] == '"');   /* stale=true or stale="true" */
			snprintf(stale, slen, "%.*s", (int)strcspn(st, "\",\r\n "), st);
		}
	}
out:
	atomic_fetch_add(&requests, 1);
	if (ssl) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	close(fd);
	return status;
}

static int answer(const char *mac, const char *path, char *nonce, char *opaque);

static bool boot(long i)
{
	char mac[32], path[256], nonce[256] = "", opaque[256] = "";
	snprintf(mac, sizeof(mac), macfmt, (unsigned)(0x10000000L + 2 * i));
	const char *m = strstr(macfile, "{mac}");
	snprintf(path, sizeof(path), "%.*s%s%s", (int)(m - macfile), macfile, mac, m + 5);
	save_path = save_dir && i == 0 ? common : NULL;
	if (strcmp(common, "-") && request(common, NULL, NULL, 0, NULL, 0, NULL, 0) != 200)
		return false;
	save_path = NULL;
	if (noauth)   /* the same three requests, nothing checked: the limit */
		return request(path, NULL, NULL, 0, NULL, 0, NULL, 0) == 200 && request(path, NULL, NULL, 0, NULL, 0, NULL, 0) == 200;
	if (request(path, NULL, nonce, sizeof(nonce), opaque, sizeof(opaque), NULL, 0) != 401 || !nonce[0])
		return false;
	for (int attempt = 0;; attempt++) {
		int st = answer(mac, path, nonce, opaque);
		if (st == 200)
			return true;
		if (st != 401 || attempt == 2 || !nonce[0])
			return false;
		atomic_fetch_add(&stale_retries, 1);
	}
}

/* The authenticated request; on 401 stale=true, nonce and opaque become
 * the new challenge's (and nonce stays "" otherwise). */
static int answer(const char *mac, const char *path, char *nonce, char *opaque)
{
	char a1[512], a2[512], h1[33], h2[33], resp[33], cnonce[17], all[1024], auth[1536], stale[8] = "";
	unsigned char rnd[8];
	RAND_bytes(rnd, sizeof(rnd));
	for (int k = 0; k < 8; k++)
		snprintf(cnonce + 2 * k, 3, "%02x", rnd[k]);
	snprintf(a1, sizeof(a1), "%s:sipprov:%s", mac, password);
	snprintf(a2, sizeof(a2), "GET:/%s", path);
	md5hex(a1, h1);
	md5hex(a2, h2);
	snprintf(all, sizeof(all), "%s:%s:00000001:%s:auth:%s", h1, nonce, cnonce, h2);
	md5hex(all, resp);
	snprintf(auth, sizeof(auth), "Digest username=\"%s\", realm=\"sipprov\", nonce=\"%s\", uri=\"/%s\", "
		 "response=\"%s\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"%s\"%s%s%s", mac, nonce, path, resp,
		 cnonce, opaque[0] ? ", opaque=\"" : "", opaque, opaque[0] ? "\"" : "");
	nonce[0] = '\0';
	save_path = save_dir ? path : NULL;
	int st = request(path, auth, nonce, 256, opaque, 256, stale, sizeof(stale));
	save_path = NULL;
	if (strcasecmp(stale, "true"))
		nonce[0] = '\0';
	return st;
}

static void *phone_thread(void *arg)
{
	(void)arg;
	long i;
	while ((i = atomic_fetch_add(&next_phone, 1)) < phones) {
		double t0 = now();
		bool ok = boot(i);
		SSL_SESSION_free(phone_sess);           /* the next phone starts without one */
		phone_sess = NULL;
		lat[i] = now() - t0;
		atomic_fetch_add(ok ? &ok_phones : &failed_phones, 1);
	}
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 9) {
		fprintf(stderr, "usage: bootstorm HOST PORT PHONES THREADS MACFMT PASSWORD COMMON MACFILE [--tls] "
				"[--tls12] [--resume] [--no-auth] [--save DIR]\n");
		return 2;
	}
	host = argv[1], port = atoi(argv[2]), phones = atol(argv[3]), nthreads = atoi(argv[4]);
	macfmt = argv[5], password = argv[6], common = argv[7], macfile = argv[8];
	for (int i = 9; i < argc; i++)
		tls |= !strcmp(argv[i], "--tls"), tls12 |= !strcmp(argv[i], "--tls12"), noauth |= !strcmp(argv[i], "--no-auth"),
		resume |= !strcmp(argv[i], "--resume"), save_dir = !strcmp(argv[i], "--save") && i + 1 < argc ? argv[++i] : save_dir;
	if (!strstr(macfile, "{mac}") || phones < 1 || nthreads < 1) {
		fprintf(stderr, "bootstorm: MACFILE needs {mac}; PHONES and THREADS at least 1\n");
		return 2;
	}
	if (tls) {
		ctx = SSL_CTX_new(TLS_client_method());
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);   /* every connection a full handshake */
		if (tls12)
			SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
	}
	lat = calloc((size_t)phones, sizeof(*lat));
	pthread_t *t = calloc((size_t)nthreads, sizeof(*t));
	double t0 = now();
	for (int i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, phone_thread, NULL);
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	double dt = now() - t0;
	qsort(lat, (size_t)phones, sizeof(*lat), cmp);
	printf("phones %ld ok %ld failed %ld stale_retries %ld resumed %ld requests %ld seconds %.2f phones_per_s %.0f requests_per_s %.0f "
	       "boot_p50_ms %.1f boot_p99_ms %.1f tls_version %s\n", phones, atomic_load(&ok_phones), atomic_load(&failed_phones),
	       atomic_load(&stale_retries), atomic_load(&resumed), atomic_load(&requests), dt, atomic_load(&ok_phones) / dt, atomic_load(&requests) / dt,
	       lat[phones / 2] * 1e3, lat[phones * 99 / 100] * 1e3, atomic_load(&tls_version));
	free(lat);
	free(t);
	if (ctx)
		SSL_CTX_free(ctx);
	return atomic_load(&failed_phones) || atomic_load(&save_failed) ? 1 : 0;
}
