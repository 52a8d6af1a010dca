/*
 * tls-sign.c: what bounds a full HTTPS handshake per request (issue 18).
 * The server's part of a TLS 1.2/1.3 full handshake is one signature with
 * the certificate's key (plus an ECDHE key exchange that both libraries do
 * alike).  sipprovd terminates TLS with GnuTLS (inside libmicrohttpd),
 * nginx with OpenSSL: this signs the same 32-byte digest with the same key
 * through both for SECONDS each and prints signatures per second, one line
 * per library:
 *   tls-sign KEYFILE.pem SECONDS
 * Build: cc -O2 tls-sign.c -lgnutls -lcrypto
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double gnutls_rate(const char *pem, size_t len, double secs)
{
	gnutls_privkey_t k;
	gnutls_datum_t in = { (unsigned char *)pem, (unsigned)len }, sig;
	unsigned char msg[32] = { 1 };
	gnutls_datum_t data = { msg, sizeof(msg) };
	if (gnutls_privkey_init(&k) < 0 || gnutls_privkey_import_x509_raw(k, &in, GNUTLS_X509_FMT_PEM, NULL, 0) < 0) {
		fprintf(stderr, "gnutls: cannot load the key\n");
		exit(1);
	}
	long n = 0;
	double t0 = now(), t;
	do {
		if (gnutls_privkey_sign_data(k, GNUTLS_DIG_SHA256, 0, &data, &sig) < 0) {
			fprintf(stderr, "gnutls: sign failed\n");
			exit(1);
		}
		gnutls_free(sig.data);
		n++;
	} while ((t = now() - t0) < secs);
	gnutls_privkey_deinit(k);
	return n / t;
}

static double openssl_rate(const char *path, double secs)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	if (!k) {
		fprintf(stderr, "openssl: cannot load the key\n");
		exit(1);
	}
	unsigned char msg[32] = { 1 }, sig[1024];
	long n = 0;
	double t0 = now(), t;
	do {
		size_t sl = sizeof(sig);
		EVP_MD_CTX *c = EVP_MD_CTX_new();
		if (!c || EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, k) != 1 ||
		    EVP_DigestSign(c, sig, &sl, msg, sizeof(msg)) != 1) {
			fprintf(stderr, "openssl: sign failed\n");
			exit(1);
		}
		EVP_MD_CTX_free(c);
		n++;
	} while ((t = now() - t0) < secs);
	EVP_PKEY_free(k);
	return n / t;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: tls-sign KEYFILE.pem SECONDS\n");
		return 2;
	}
	double secs = atof(argv[2]);
	FILE *f = fopen(argv[1], "r");
	static char pem[16384];
	size_t len = f ? fread(pem, 1, sizeof(pem) - 1, f) : 0;
	if (f)
		fclose(f);
	if (!len) {
		fprintf(stderr, "cannot read %s\n", argv[1]);
		return 1;
	}
	gnutls_global_init();
	printf("gnutls %.0f\n", gnutls_rate(pem, len, secs));
	printf("openssl %.0f\n", openssl_rate(argv[1], secs));
	return 0;
}
