/*
 * tls_ossl.c: the OpenSSL server context of the phone listener of our
 * own, and its client certificates.  A context is immutable once
 * published: SIGHUP builds a new one and swaps the pointer under a mutex;
 * every session holds a reference to the context it started on, so the
 * old one is freed when its last connection closes.  Client certificates
 * are requested and checked against tls_client_ca by OpenSSL during the
 * handshake, but a failure does not end it: the verdict is kept in the
 * session and auth.c decides per request (as with libmicrohttpd).
 * Certificate files are checked first by tls_certs.c (http.c calls it),
 * which also keeps the serial and expiry that metrics and health show.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls_ossl.h"

#define SESSION_CACHE 8192             /* TLS 1.2 session ids kept (OpenSSL's default: 20480) */

static SSL_CTX *current;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static int ossl_err(char *err, size_t errlen, const char *what, const char *path)
{
	char e[256] = "unknown error";
	unsigned long code = ERR_get_error();
	if (code)
		ERR_error_string_n(code, e, sizeof(e));
	ERR_clear_error();
	return sp_err(err, errlen, "%s '%s': %s", what, path, e);
}

/* Keep the handshake going whatever the client certificate: the result
 * stays in the session (SSL_get_verify_result) for auth.c. */
static int verify_keep(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	(void)x;
	return 1;
}

/* An encrypted key is refused, never prompted for on a terminal. */
static int no_passphrase(char *buf, int size, int rw, void *u)
{
	(void)buf;
	(void)size;
	(void)rw;
	(void)u;
	return 0;
}

int tls_ossl_load(const char *cert_file, const char *key_file, const char *client_ca, bool resume, char *err,
		  size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return ossl_err(err, errlen, "TLS context for", cert_file);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* Renegotiation is a way to make the server sign again for free. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Idle keep-alive connections give their buffers back (as nginx does). */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	/* One read takes what the socket has, not a record's header then its
	 * body: 4 reads fewer per resumed connection (phone_listen.c reads a
	 * TLS connection until WANT_READ for it). */
	SSL_CTX_set_read_ahead(ctx, 1);
	/* Resumption (a phone fetching its next file skips the signature):
	 * session ids and TLS 1.3 tickets; the id context is required once
	 * client certificates are asked for. */
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"sipprov", 7);
	/* Session ids are kept in memory (tickets are not): a bound, and
	 * still a few seconds of a storm's phones at thousands a second. */
	SSL_CTX_sess_set_cache_size(ctx, SESSION_CACHE);
	if (!resume) {
		/* tls_resumption = no: every handshake a full one */
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(ctx, 0);
	}
	int rc = -1;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1)
		ossl_err(err, errlen, "tls_cert", cert_file);
	else if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1)
		ossl_err(err, errlen, "tls_key", key_file);
	else if (SSL_CTX_check_private_key(ctx) != 1)
		ossl_err(err, errlen, "tls_key does not match tls_cert", key_file);
	else if (client_ca[0] && SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1)
		ossl_err(err, errlen, "tls_client_ca", client_ca);
	else
		rc = 0;
	if (rc == 0 && client_ca[0]) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(client_ca);
		if (names)
			SSL_CTX_set_client_CA_list(ctx, names);   /* phones pick their certificate by it */
		ERR_clear_error();
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_keep);
	}
	if (rc < 0) {
		SSL_CTX_free(ctx);
		return -1;
	}
	pthread_mutex_lock(&mu);
	SSL_CTX *old = current;
	current = ctx;
	pthread_mutex_unlock(&mu);
	SSL_CTX_free(old);                  /* sessions on it hold their own reference */
	return 0;
}

struct ssl_st *tls_ossl_new(int fd)
{
	SSL *ssl = NULL;
	pthread_mutex_lock(&mu);
	if (current)
		ssl = SSL_new(current);
	pthread_mutex_unlock(&mu);
	if (ssl && SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		ssl = NULL;
	}
	if (ssl)
		SSL_set_accept_state(ssl);
	ERR_clear_error();
	return ssl;
}

void tls_ossl_release(void)
{
	pthread_mutex_lock(&mu);
	SSL_CTX_free(current);
	current = NULL;
	pthread_mutex_unlock(&mu);
}

/* The subject as RFC 2253 text, for the log. */
static void subject_text(X509_NAME *n, char *dn, size_t dnlen)
{
	BIO *b = BIO_new(BIO_s_mem());
	int len = b ? X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) : -1;
	if (len < 0 || BIO_read(b, dn, (int)dnlen - 1) < 0)
		sp_strlcpy(dn, "?", dnlen);
	else
		dn[len < (int)dnlen ? len : (int)dnlen - 1] = '\0';
	BIO_free(b);
}

/* The one MAC in every CN, OU and serialNumber of the subject: 1 found,
 * 0 none, -1 two different ones (tls_peer.c's rule). */
static int subject_mac(X509_NAME *n, char mac[SP_MAC_LEN + 1])
{
	static const int nids[] = { NID_commonName, NID_organizationalUnitName, NID_serialNumber };
	int found = 0;
	for (size_t k = 0; k < sizeof(nids) / sizeof(nids[0]); k++) {
		int pos = -1, seen = 0;
		while ((pos = X509_NAME_get_index_by_NID(n, nids[k], pos)) >= 0 && seen++ < 8) {
			unsigned char *utf = NULL;
			int len = ASN1_STRING_to_UTF8(&utf, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, pos)));
			if (len < 0)
				continue;
			char val[256];
			sp_strlcpy(val, (const char *)utf, (size_t)len + 1 < sizeof(val) ? (size_t)len + 1 : sizeof(val));
			OPENSSL_free(utf);
			if (tls_subject_mac_add(val, mac, &found) < 0)
				return -1;
		}
	}
	return found;
}

enum tls_peer_result tls_ossl_peer_mac(struct ssl_st *ssl, char mac[SP_MAC_LEN + 1], char *why, size_t whylen)
{
	X509 *crt = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
	char dn[512], de[160];
	mac[0] = '\0';
	if (!ssl) {
		sp_err(why, whylen, "not a TLS connection");
		return TLS_PEER_NONE;
	}
	if (!crt) {
		sp_err(why, whylen, "no client certificate");
		return TLS_PEER_NONE;
	}
	X509_NAME *subj = X509_get_subject_name(crt);
	subject_text(subj, dn, sizeof(dn));
	/* Chain to a tls_client_ca root, dates, signatures and purpose (TLS
	 * client), all checked by OpenSSL in the handshake. */
	long v = SSL_get_verify_result(ssl);
	if (v != X509_V_OK) {
		bool issuer = v == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE ||
			      v == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY || v == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT;
		sp_err(why, whylen, "client certificate '%s' rejected: %s%s", sp_log_escape(dn, de, sizeof(de)),
		       X509_verify_cert_error_string(v), issuer ? " (its issuer is not in tls_client_ca)" : "");
		return TLS_PEER_INVALID;
	}
	int m = subject_mac(subj, mac);
	if (m <= 0) {
		sp_err(why, whylen, "client certificate '%s' %s", sp_log_escape(dn, de, sizeof(de)),
		       m < 0 ? "names more than one MAC" : "names no MAC (generic vendor certificate)");
		mac[0] = '\0';
		return TLS_PEER_NO_MAC;
	}
	return TLS_PEER_OK;
}
