/*
 * tls_certs.c: the HTTPS server certificates (one per role: the phone
 * listener's, the admin listener's), each an atomically published set
 * (chain + key).  SIGHUP loads a new set and publishes it; handshakes
 * that already picked the old one keep using it, so no connection drops.
 * GnuTLS never frees what a retrieve_function2 hands out, so every set
 * loaded stays allocated until tls_certs_release at shutdown (one per
 * renewal: a few per year).  It does not verify client certificates
 * (tls_peer.c) nor read the configuration.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "tls_certs.h"

#define CHAIN_MAX 8

struct certset {
	gnutls_pcert_st pcert[CHAIN_MAX];
	unsigned n;
	gnutls_privkey_t key;
	char serial[64];
	int64_t not_after;
	struct certset *older;              /* every set ever published, newest first */
};

static _Atomic(struct certset *) current[TLS_ROLES];
/* The configuration keys each role's files come from, for the errors. */
static const char *const cert_key[TLS_ROLES] = { "tls_cert", "admin_tls_cert" };
static const char *const key_key[TLS_ROLES] = { "tls_key", "admin_tls_key" };
static pthread_mutex_t load_mu = PTHREAD_MUTEX_INITIALIZER;

static void certset_free(struct certset *cs)
{
	if (!cs)
		return;
	for (unsigned i = 0; i < cs->n; i++)
		gnutls_pcert_deinit(&cs->pcert[i]);
	if (cs->key)
		gnutls_privkey_deinit(cs->key);
	free(cs);
}

static int read_file(const char *path, gnutls_datum_t *d, char *err, size_t errlen)
{
	int rc = gnutls_load_file(path, d);
	if (rc < 0)
		return sp_err(err, errlen, "cannot read '%s': %s", path, gnutls_strerror(rc));
	return 0;
}

/* The key matches the leaf when their public-key ids are equal. */
static bool key_matches(gnutls_x509_crt_t leaf, gnutls_x509_privkey_t key)
{
	unsigned char a[64], b[64];
	size_t na = sizeof(a), nb = sizeof(b);
	if (gnutls_x509_crt_get_key_id(leaf, GNUTLS_KEYID_USE_SHA256, a, &na) < 0 ||
	    gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, b, &nb) < 0)
		return false;
	return na == nb && memcmp(a, b, na) == 0;
}

/* Parse and check one pair into a new set; NULL with err on any problem. */
static struct certset *certset_read(enum tls_role r, const char *cert_file, const char *key_file, char *err,
				    size_t errlen)
{
	gnutls_datum_t cd = { NULL, 0 }, kd = { NULL, 0 };
	gnutls_x509_crt_t *crts = NULL;
	unsigned ncrt = 0;
	gnutls_x509_privkey_t xkey = NULL;
	struct certset *cs = xcalloc(1, sizeof(*cs)), *done = NULL;
	const char *ck = cert_key[r], *kk = key_key[r];
	int g;

	if (read_file(cert_file, &cd, err, errlen) < 0 || read_file(key_file, &kd, err, errlen) < 0)
		goto out;
	if ((g = gnutls_x509_crt_list_import2(&crts, &ncrt, &cd, GNUTLS_X509_FMT_PEM, 0)) < 0 || !ncrt) {
		sp_err(err, errlen, "%s '%s': %s", ck, cert_file, g < 0 ? gnutls_strerror(g) : "no certificate");
		goto out;
	}
	if (ncrt > CHAIN_MAX) {
		sp_err(err, errlen, "%s '%s': more than %d certificates", ck, cert_file, CHAIN_MAX);
		goto out;
	}
	if ((g = gnutls_x509_privkey_init(&xkey)) < 0 ||
	    (g = gnutls_x509_privkey_import2(xkey, &kd, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		sp_err(err, errlen, "%s '%s': %s", kk, key_file, gnutls_strerror(g));
		goto out;
	}
	if (!key_matches(crts[0], xkey)) {
		sp_err(err, errlen, "%s '%s' does not match the certificate in '%s'", kk, key_file, cert_file);
		goto out;
	}
	time_t na = gnutls_x509_crt_get_expiration_time(crts[0]);
	time_t nb = gnutls_x509_crt_get_activation_time(crts[0]);
	time_t now = time(NULL);
	if (na != (time_t)-1 && na < now) {
		sp_err(err, errlen, "%s '%s' expired", ck, cert_file);
		goto out;
	}
	if (nb != (time_t)-1 && nb > now + 300) {
		sp_err(err, errlen, "%s '%s' is not valid yet", ck, cert_file);
		goto out;
	}
	for (unsigned i = 0; i < ncrt; i++) {
		if ((g = gnutls_pcert_import_x509(&cs->pcert[i], crts[i], 0)) < 0) {
			sp_err(err, errlen, "%s '%s': %s", ck, cert_file, gnutls_strerror(g));
			goto out;
		}
		cs->n++;
	}
	if ((g = gnutls_privkey_init(&cs->key)) < 0 ||
	    (g = gnutls_privkey_import_x509(cs->key, xkey, GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE)) < 0) {
		sp_err(err, errlen, "%s '%s': %s", kk, key_file, gnutls_strerror(g));
		goto out;
	}
	xkey = NULL;                        /* now owned by cs->key */
	unsigned char ser[40];
	size_t ns = sizeof(ser);
	if (gnutls_x509_crt_get_serial(crts[0], ser, &ns) == 0)
		for (size_t i = 0; i < ns && 2 * i + 2 < sizeof(cs->serial); i++)
			snprintf(cs->serial + 2 * i, 3, "%02X", ser[i]);
	cs->not_after = na == (time_t)-1 ? 0 : (int64_t)na;
	done = cs;
	cs = NULL;
out:
	certset_free(cs);
	if (xkey)
		gnutls_x509_privkey_deinit(xkey);
	for (unsigned i = 0; i < ncrt; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	if (kd.data) {
		secret_wipe(kd.data, kd.size);
		gnutls_free(kd.data);
	}
	gnutls_free(cd.data);
	return done;
}

int tls_certs_check(enum tls_role r, const char *cert_file, const char *key_file, char *err, size_t errlen)
{
	struct certset *cs = certset_read(r, cert_file, key_file, err, errlen);
	certset_free(cs);
	return cs ? 0 : -1;
}

int tls_certs_load(enum tls_role r, const char *cert_file, const char *key_file, char *err, size_t errlen)
{
	struct certset *cs = certset_read(r, cert_file, key_file, err, errlen);
	if (!cs)
		return -1;
	pthread_mutex_lock(&load_mu);
	cs->older = atomic_load(&current[r]);
	atomic_store(&current[r], cs);
	pthread_mutex_unlock(&load_mu);
	return 0;
}

static int retrieve(enum tls_role r, gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
	struct certset *cs = atomic_load(&current[r]);
	if (!cs)
		return -1;
	*pcert = cs->pcert;
	*pcert_length = cs->n;
	*privkey = cs->key;
	return 0;
}

int tls_certs_retrieve(gnutls_session_t s, const gnutls_datum_t *req_ca_rdn, int nreqs,
		       const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
		       unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
	(void)s, (void)req_ca_rdn, (void)nreqs, (void)pk_algos, (void)pk_algos_length;
	return retrieve(TLS_PHONE, pcert, pcert_length, privkey);
}

int tls_certs_retrieve_admin(gnutls_session_t s, const gnutls_datum_t *req_ca_rdn, int nreqs,
			     const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
			     unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
	(void)s, (void)req_ca_rdn, (void)nreqs, (void)pk_algos, (void)pk_algos_length;
	return retrieve(TLS_ADMIN, pcert, pcert_length, privkey);
}

void tls_certs_serial(enum tls_role r, char *out, size_t size)
{
	struct certset *cs = atomic_load(&current[r]);
	sp_strlcpy(out, cs ? cs->serial : "", size);
}

int64_t tls_certs_not_after(enum tls_role r)
{
	struct certset *cs = atomic_load(&current[r]);
	return cs ? cs->not_after : 0;
}

void tls_certs_release(enum tls_role r)
{
	pthread_mutex_lock(&load_mu);
	struct certset *cs = atomic_exchange(&current[r], NULL);
	pthread_mutex_unlock(&load_mu);
	while (cs) {
		struct certset *next = cs->older;
		certset_free(cs);
		cs = next;
	}
}
