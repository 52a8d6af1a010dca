/*
 * tls_peer.c: mutual TLS for device routes.  Verifies the certificate a
 * client sent (GnuTLS, against the tls_client_ca bundle libmicrohttpd
 * loaded) and finds the one MAC named in its subject (CN, OU or
 * serialNumber).  It does not load CAs or decide policy (auth.c does).
 * GnuTLS parses the certificate too: it is the library that received and
 * verified it, so the subject we read is the one whose chain was checked,
 * with no second X.509 parser in the request path.
 */
#include <stdio.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include "tls_peer.h"
#include "core/sipprov.h"

static bool is_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_alnum(int c)
{
	return is_hex(c) || (c >= 'g' && c <= 'z') || (c >= 'G' && c <= 'Z');
}

/* Does a MAC start at s[i]: 12 hex, or 6 pairs joined by one of ':' '-',
 * or 3 quads joined by '.'?  Writes the normalized MAC; returns the length
 * matched, 0 if none. */
static size_t mac_at(const char *s, size_t i, size_t n, char out[SP_MAC_LEN + 1])
{
	static const struct { size_t len, group; } forms[] = { { 12, 0 }, { 17, 2 }, { 14, 4 } };
	for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
		size_t len = forms[f].len, group = forms[f].group, k = 0;
		char sep = 0;
		if (i + len > n)
			continue;
		bool good = true;
		for (size_t j = 0; j < len && good; j++) {
			char ch = s[i + j];
			if (group && (j + 1) % (group + 1) == 0) {
				if (!sep)
					sep = ch;
				good = ch == sep && (group == 2 ? (ch == ':' || ch == '-') : ch == '.');
			} else if (is_hex((unsigned char)ch)) {
				out[k++] = (char)(ch | 0x20);
			} else {
				good = false;
			}
		}
		/* The MAC must stand alone: no hex digit or separator run-on after it. */
		if (good && k == SP_MAC_LEN && !(i + len < n && (is_alnum((unsigned char)s[i + len]) ||
							      s[i + len] == ':' || s[i + len] == '.'))) {
			out[SP_MAC_LEN] = '\0';
			return len;
		}
	}
	return 0;
}

int tls_subject_mac(const char *value, char mac[SP_MAC_LEN + 1])
{
	char cand[SP_MAC_LEN + 1];
	size_t n = strlen(value);
	int found = 0;
	for (size_t i = 0; i < n; i++) {
		/* A MAC starts after a non-hex character ("SEP0015..." counts). */
		if (i > 0 && (is_hex((unsigned char)value[i - 1]) || value[i - 1] == ':' || value[i - 1] == '.'))
			continue;
		size_t len = mac_at(value, i, n, cand);
		if (!len)
			continue;
		if (!strcmp(cand, "000000000000") || !strcmp(cand, "ffffffffffff"))
			continue;
		if (found && strcmp(cand, mac))
			return -1;
		memcpy(mac, cand, sizeof(cand));
		found = 1;
		i += len - 1;
	}
	return found;
}

int tls_subject_mac_add(const char *value, char mac[SP_MAC_LEN + 1], int *found)
{
	char one[SP_MAC_LEN + 1];
	int r = tls_subject_mac(value, one);
	if (r < 0 || (r == 1 && *found && strcmp(one, mac)))
		return -1;
	if (r == 1) {
		memcpy(mac, one, sizeof(one));
		*found = 1;
	}
	return 0;
}

/* Collect the MAC from every CN, OU and serialNumber of the subject. */
static int subject_mac(gnutls_x509_crt_t crt, char mac[SP_MAC_LEN + 1], char *dn, size_t dnlen)
{
	static const char *const oids[] = { GNUTLS_OID_X520_COMMON_NAME, GNUTLS_OID_X520_ORGANIZATIONAL_UNIT_NAME,
					     "2.5.4.5" /* serialNumber */ };
	char val[256];
	int found = 0;
	size_t sz = dnlen;
	if (gnutls_x509_crt_get_dn(crt, dn, &sz) < 0)
		sp_strlcpy(dn, "?", dnlen);
	for (size_t o = 0; o < sizeof(oids) / sizeof(oids[0]); o++) {
		for (unsigned idx = 0; idx < 8; idx++) {
			sz = sizeof(val);
			if (gnutls_x509_crt_get_dn_by_oid(crt, oids[o], idx, 0, val, &sz) < 0)
				break;
			if (tls_subject_mac_add(val, mac, &found) < 0)
				return -1;
		}
	}
	return found;
}

enum tls_peer_result tls_peer_mac(struct MHD_Connection *c, char mac[SP_MAC_LEN + 1], char *why, size_t whylen)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t s = ci ? (gnutls_session_t)ci->tls_session : NULL;
	unsigned int status = 0, ncerts = 0;
	gnutls_x509_crt_t crt = NULL;
	enum tls_peer_result res = TLS_PEER_INVALID;
	char dn[512];

	mac[0] = '\0';
	if (!s) {
		sp_err(why, whylen, "not a TLS connection");
		return TLS_PEER_NONE;
	}
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &ncerts);
	if (!certs || ncerts == 0) {
		sp_err(why, whylen, "no client certificate");
		return TLS_PEER_NONE;
	}
	/* Chain to a tls_client_ca root, dates, signatures, and (when the
	 * certificate names purposes) TLS client use. */
	gnutls_typed_vdata_st vd = { .type = GNUTLS_DT_KEY_PURPOSE_OID,
				     .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, .size = 0 };
	int rc = gnutls_certificate_verify_peers(s, &vd, 1, &status);
	if (rc < 0) {
		sp_err(why, whylen, "client certificate not verified: %s", gnutls_strerror(rc));
		return TLS_PEER_INVALID;
	}
	if (gnutls_x509_crt_init(&crt) < 0 || gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) < 0) {
		sp_err(why, whylen, "client certificate does not parse");
		goto out;
	}
	if (status) {
		gnutls_datum_t txt = { NULL, 0 };
		size_t sz = sizeof(dn);
		if (gnutls_x509_crt_get_dn(crt, dn, &sz) < 0)
			sp_strlcpy(dn, "?", sizeof(dn));
		gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &txt, 0);
		char de[160];
		sp_err(why, whylen, "client certificate '%s' rejected: %s", sp_log_escape(dn, de, sizeof(de)),
		       txt.data ? (char *)txt.data : "?");
		gnutls_free(txt.data);
		goto out;
	}
	int m = subject_mac(crt, mac, dn, sizeof(dn));
	if (m <= 0) {
		char de[160];
		sp_err(why, whylen, "client certificate '%s' %s", sp_log_escape(dn, de, sizeof(de)),
		       m < 0 ? "names more than one MAC" : "names no MAC (generic vendor certificate)");
		mac[0] = '\0';
		res = TLS_PEER_NO_MAC;
		goto out;
	}
	res = TLS_PEER_OK;
out:
	if (crt)
		gnutls_x509_crt_deinit(crt);
	return res;
}
