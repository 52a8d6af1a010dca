/*
 * tls_certs.h: the server certificate the HTTPS listener presents, loaded
 * from tls_cert / tls_key and swapped on SIGHUP without a restart.
 */
#ifndef SP_TLS_CERTS_H
#define SP_TLS_CERTS_H
#include <gnutls/abstract.h>
#include "core/sipprov.h"

/* Read and check cert_file (PEM chain, leaf first) and key_file (PEM key):
 * both parse, the key matches the leaf, the leaf is within its validity.
 * On success it becomes the certificate new handshakes see; the previous
 * one stays valid for sessions that hold it (freed by tls_certs_release).
 * On failure nothing changes: -1 with err. */
int tls_certs_load(const char *cert_file, const char *key_file, char *err, size_t errlen);
/* For MHD_OPTION_HTTPS_CERT_CALLBACK: hands out the current certificate. */
gnutls_certificate_retrieve_function2 tls_certs_retrieve;
/* Serial of the current leaf as hex ("" before the first load). */
void tls_certs_serial(char *out, size_t size);
/* Unix time the current leaf expires; 0 before the first load. */
int64_t tls_certs_not_after(void);
/* Free every certificate ever loaded.  Only after the listener stopped. */
void tls_certs_release(void);
#endif
