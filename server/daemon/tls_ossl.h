/*
 * tls_ossl.h: TLS for the phone listener of our own (https_listen with
 * phone_server = own) through OpenSSL: the server context (tls_cert,
 * tls_key, tls_client_ca), swapped on SIGHUP without dropping a
 * connection, and the client certificate of a connection for mutual TLS.
 * libmicrohttpd's listeners keep GnuTLS (tls_certs.c, tls_peer.c).
 */
#ifndef SP_TLS_OSSL_H
#define SP_TLS_OSSL_H
#include <stddef.h>
#include "core/sipprov.h"
#include "tls_peer.h"

struct ssl_st;

/* Build a context from the files (TLS 1.2 and 1.3; client certificates
 * requested, and verified against client_ca, when it is not ""; sessions
 * resumed when resume) and make it the one new connections get.
 * Connections that hold the previous one keep it.  On failure nothing
 * changes: -1 with err. */
int tls_ossl_load(const char *cert_file, const char *key_file, const char *client_ca, bool resume, char *err,
		  size_t errlen);
/* A server session for the accepted socket fd, on the current context;
 * NULL when none is loaded or out of memory. */
struct ssl_st *tls_ossl_new(int fd);
/* Drop the current context (after the listener stopped). */
void tls_ossl_release(void);
/* tls_peer_mac for a connection of ours: the client certificate, checked
 * against tls_client_ca during the handshake, and the MAC it names. */
enum tls_peer_result tls_ossl_peer_mac(struct ssl_st *ssl, char mac[SP_MAC_LEN + 1], char *why, size_t whylen);
#endif
