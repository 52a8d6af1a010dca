/*
 * daemon.h: the daemon layer's public API (sipprovd's HTTP server, device
 * authentication, HEP intake), for main.c and the tests.  The ops layer
 * and the CLI never include it.
 */
#ifndef SP_DAEMON_H
#define SP_DAEMON_H
#include "core/sipprov.h"
#include "sip/sip.h"
#include "http.h"
#include "api.h"
#include "auth.h"
#include "nonce.h"
#include "hep.h"
#include "tls_peer.h"
#include "tls_certs.h"
#include "firmware_http.h"
#include "phonebook_http.h"
#include "check.h"
#endif
