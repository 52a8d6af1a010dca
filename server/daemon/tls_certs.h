/*
 * tls_certs.h: the server certificates the HTTPS listeners present, loaded
 * from tls_cert / tls_key (phones) and admin_tls_cert / admin_tls_key
 * (the admin listener) and swapped on SIGHUP without a restart.
 */
#ifndef SP_TLS_CERTS_H
#define SP_TLS_CERTS_H
#include <gnutls/abstract.h>
#include "core/sipprov.h"

enum tls_role { TLS_PHONE, TLS_ADMIN, TLS_ROLES };

/* Read and check cert_file (PEM chain, leaf first) and key_file (PEM key):
 * both parse, the key matches the leaf, the leaf is within its validity.
 * On success it becomes the certificate new handshakes see; the previous
 * one stays valid for sessions that hold it (freed by tls_certs_release).
 * On failure nothing changes: -1 with err. */
int tls_certs_load(enum tls_role r, const char *cert_file, const char *key_file, char *err, size_t errlen);
/* The same checks without publishing anything (sipprovd -n). */
int tls_certs_check(enum tls_role r, const char *cert_file, const char *key_file, char *err, size_t errlen);
/* For MHD_OPTION_HTTPS_CERT_CALLBACK: hand out the role's current certificate. */
gnutls_certificate_retrieve_function2 tls_certs_retrieve, tls_certs_retrieve_admin;
/* Serial of the role's current leaf as hex ("" before the first load). */
void tls_certs_serial(enum tls_role r, char *out, size_t size);
/* Unix time the role's current leaf expires; 0 before the first load. */
int64_t tls_certs_not_after(enum tls_role r);
/* Free every certificate of the role ever loaded, after its listener stopped. */
void tls_certs_release(enum tls_role r);
#endif
