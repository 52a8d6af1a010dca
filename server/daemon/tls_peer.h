/*
 * tls_peer.h: the client certificate of a device-facing TLS connection:
 * verified against tls_client_ca, and the MAC its subject names.
 */
#ifndef SP_TLS_PEER_H
#define SP_TLS_PEER_H
#include "core/sipprov.h"

struct MHD_Connection;

enum tls_peer_result {
	TLS_PEER_OK,                        /* verified, mac[] holds the one MAC named */
	TLS_PEER_NONE,                      /* plain HTTP, or no certificate sent */
	TLS_PEER_INVALID,                   /* untrusted CA, expired, bad signature, wrong purpose */
	TLS_PEER_NO_MAC,                    /* verified, but a generic (no MAC) or ambiguous subject */
};

/* Inspect the connection's client certificate.  On anything but
 * TLS_PEER_OK, 'why' says what was wrong (for the admin log). */
enum tls_peer_result tls_peer_mac(struct MHD_Connection *c, char mac[SP_MAC_LEN + 1], char *why, size_t whylen);

/* The MAC named in one subject attribute value ("001565aabbcc",
 * "00:15:65:AA:BB:CC", "SEP001565AABBCC", "Yealink 0015.65aa.bbcc"):
 * 1 found (normalized into mac), 0 none, -1 two different MACs.  All-zero
 * and broadcast MACs do not count (generic certificates use them). */
int tls_subject_mac(const char *value, char mac[SP_MAC_LEN + 1]);
/* One more subject attribute value for the certificate's MAC: found (0
 * or 1) and mac carry what the earlier ones named; -1 when this value
 * names two MACs or another MAC than mac. */
int tls_subject_mac_add(const char *value, char mac[SP_MAC_LEN + 1], int *found);
#endif
