/*
 * tests/unit/sipuri.c: the one SIP URI parser, table-driven: the forms
 * phones, registrars and admins write, and hostile inputs it must refuse
 * without reading past its length.  Then the send-to checks on top of it
 * (sip_uri_target, sip_hostport_parse).
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "sip/sip.h"
#include "core/sipprov.h"

static const struct {
	const char *in;
	const char *scheme, *user, *host;
	int port;
	const char *transport, *maddr, *text;
} cases[] = {
	{ "sip:alice@example.test", "sip", "alice", "example.test", 0, "", "", "sip:alice@example.test" },
	{ "SIP:Alice@Example.TEST:5070", "sip", "Alice", "example.test", 5070, "", "", "SIP:Alice@Example.TEST:5070" },
	{ "sips:bob@h.test", "sips", "bob", "h.test", 0, "", "", "sips:bob@h.test" },
	{ "sip:10.0.0.1", "sip", "", "10.0.0.1", 0, "", "", "sip:10.0.0.1" },
	{ "sip:u@[2001:db8::1]:5061;transport=TLS", "sip", "u", "2001:db8::1", 5061, "tls", "", NULL },
	{ "sip:[::ffff:10.1.2.3]", "sip", "", "::ffff:10.1.2.3", 0, "", "", NULL },
	{ "sip:a:secret@h.test", "sip", "a", "h.test", 0, "", "", "sip:a:secret@h.test" },
	{ "sip:a@h.test;maddr=239.1.1.1;ttl=5;lr", "sip", "a", "h.test", 0, "", "239.1.1.1", NULL },
	{ "sip:a@h.test;transport=tcp?Subject=x&Call-ID=y", "sip", "a", "h.test", 0, "tcp", "", NULL },
	{ "sip:h.test?x=a@evil.test", "sip", "", "h.test", 0, "", "", NULL },   /* '@' in headers */
	{ "\"Bob, Jr <x>\" <sip:bob@h.test:5062;transport=udp>;expires=60", "sip", "bob", "h.test", 5062, "udp",
	  "", "sip:bob@h.test:5062;transport=udp" },
	{ "  <sip:c@h.test>  ", "sip", "c", "h.test", 0, "", "", "sip:c@h.test" },
	{ "tel:+49-30-1234;phone-context=x", "tel", "+49-30-1234", "", 0, "", "", NULL },
	{ "sip:a@host_name.test", "sip", "a", "host_name.test", 0, "", "", NULL },
	{ "sip:%61lice@h.test", "sip", "%61lice", "h.test", 0, "", "", NULL },   /* escapes kept */
	{ "sip:u@h:1", "sip", "u", "h", 1, "", "", NULL },
	{ "sip:u@h:65535", "sip", "u", "h", 65535, "", "", NULL },
};

static const char *const refused[] = {
	"", "   ", "<>", "sip:", "sip:a@", "sip:@h",
	"http://x", "mailto:a@b", "sipx:a@b", ":a@b",
	"sip:a@h:0", "sip:a@h:65536", "sip:a@h:99999999999", "sip:a@h:",
	"sip:a@h:5x", "sip:a@h:-1", "sip:a@h:+5",
	"<sip:a@h", "sip:a@[::1", "sip:a@[]", "sip:a@[zz::1]",
	"sip:a@[1.2.3.4]", "sip:a@[::1]x",
	"sip:a@ho/st", "sip:a@h st", "sip:a@h\tst", "sip:a@h\r\nVia: x",
	"sip:a@h\x01", "sip:a\x7f@h", "sip:a@h\xc3\xa9", "sip:a\"b@h",
	"sip:a@h>", "tel:", "tel:;x=1",
};

/* The parser on a copy of exactly len bytes (no NUL after: ASan sees an
 * overread). */
static int parse_exact(const char *s, size_t len, struct sip_uri *u, char *err, size_t errlen)
{
	char *copy = malloc(len ? len : 1);
	memcpy(copy, s, len);
	int rc = sip_uri_parse(copy, len, u, err, errlen);
	free(copy);
	return rc;
}

static void test_table(void)
{
	struct sip_uri u;
	char err[160];
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char shown[64];
		size_t n = 0;
		err[0] = '\0';
		int rc = parse_exact(refused[i], strlen(refused[i]), &u, err, sizeof(err));
		for (const char *p = refused[i]; *p && n + 5 < sizeof(shown); p++)
			n += (size_t)snprintf(shown + n, sizeof(shown) - n, (unsigned char)*p < 0x20 ||
					      (unsigned char)*p >= 0x7f ? "\\x%02x" : "%c", (unsigned char)*p);
		shown[n] = '\0';
		ok(rc < 0 && err[0], "refused '%s' (%s)", shown, rc < 0 ? err : "accepted");
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse_exact(cases[i].in, strlen(cases[i].in), &u, err, sizeof(err));
		ok(rc == 0 && !strcmp(u.scheme, cases[i].scheme) && !strcmp(u.user, cases[i].user) &&
		   !strcmp(u.host, cases[i].host) && u.port == cases[i].port &&
		   !strcmp(u.transport, cases[i].transport) && !strcmp(u.maddr, cases[i].maddr) &&
		   (!cases[i].text || !strcmp(u.text, cases[i].text)),
		   "'%s' -> %s user '%s' host '%s' port %d transport '%s' maddr '%s' (%s)", cases[i].in, u.scheme,
		   u.user, u.host, u.port, u.transport, u.maddr, rc < 0 ? err : "ok");
	}
}

static void test_hostile(void)
{
	struct sip_uri u;
	char err[160];
	static char big[4096];

	/* Overlong parts are refused, never truncated into something else. */
	memcpy(big, "sip:", 4);
	memset(big + 4, 'a', 300);
	memcpy(big + 304, "@h.test", 7);
	ok(parse_exact(big, 311, &u, err, sizeof(err)) < 0, "300-byte user refused (%s)", err);
	memcpy(big, "sip:a@", 6);
	memset(big + 6, 'h', 300);
	ok(parse_exact(big, 306, &u, err, sizeof(err)) < 0, "300-byte host refused (%s)", err);
	memset(big + 4, 'x', sizeof(big) - 4);
	memcpy(big, "sip:", 4);
	ok(parse_exact(big, sizeof(big), &u, err, sizeof(err)) < 0, "4 KB URI refused (%s)", err);
	memcpy(big, "sip:a@h;transport=", 18);
	memset(big + 18, 't', 100);
	ok(parse_exact(big, 118, &u, err, sizeof(err)) < 0, "100-byte transport refused (%s)", err);
	/* An embedded NUL ends nothing early: the length rules. */
	ok(parse_exact("sip:a@h\0evil", 12, &u, err, sizeof(err)) < 0, "NUL inside the URI refused");
	/* Every prefix of a full name-addr parses or fails cleanly. */
	const char *full = "\"A \\\"q\\\" <b>\" <sips:user:pw@[2001:db8::5]:5061;transport=tls;maddr=x.test?h=v>;tag=1";
	int fine = 0;
	size_t len = strlen(full);
	for (size_t cut = 0; cut <= len; cut++) {
		int rc = parse_exact(full, cut, &u, err, sizeof(err));
		fine += rc == 0 || rc == -1;
	}
	is_int(fine, (long long)len + 1, "every prefix handled");
	is_int(parse_exact(full, len, &u, err, sizeof(err)), 0, "quoted '<' and '\"' in the display name");
	is_str(u.host, "2001:db8::5", "host from the real <...>");
	is_str(u.maddr, "x.test", "maddr");
	/* NULL err is allowed. */
	ok(sip_uri_parse("x", 1, &u, NULL, 0) < 0, "NULL err buffer");
}

static void test_target(void)
{
	struct sip_uri u;
	char err[256];
	ok(sip_uri_target("sips:x@h.test;transport=udp", &u, err, sizeof(err)) < 0 && strstr(err, "sips:"),
	   "sips over udp refused: %s", err);
	ok(sip_uri_target("sip:a@h.test;transport=sctp", &u, err, sizeof(err)) < 0 && strstr(err, "sctp"),
	   "unsupported transport named: %s", err);
	ok(sip_uri_target("tel:+1234", &u, err, sizeof(err)) < 0 && strstr(err, "tel:"), "tel: is not a target: %s", err);
	ok(sip_uri_target("sips:x@h.test", &u, err, sizeof(err)) == 0 && sip_uri_transport(&u) == SIP_TLS &&
	   sip_uri_port(&u) == 5061, "sips: is tls on 5061");
	ok(sip_uri_target("sip:x@h.test;transport=TCP", &u, err, sizeof(err)) == 0 && sip_uri_transport(&u) == SIP_TCP &&
	   sip_uri_port(&u) == 5060, "transport=TCP is tcp on 5060");
	ok(sip_hostport_parse("proxy.test", &u, err, sizeof(err)) == 0 && !strcmp(u.host, "proxy.test") && u.port == 0,
	   "--via HOST");
	ok(sip_hostport_parse("[2001:db8::9]:5070", &u, err, sizeof(err)) == 0 && !strcmp(u.host, "2001:db8::9") &&
	   u.port == 5070, "--via [v6]:PORT");
	ok(sip_hostport_parse("h.test:0", &u, err, sizeof(err)) < 0 && strstr(err, "h.test:0"), "--via port 0 refused: %s", err);
	ok(sip_hostport_parse("h.test;transport=tls", &u, err, sizeof(err)) == 0 && sip_uri_transport(&u) == SIP_TLS,
	   "--via HOST;transport=tls");
	is_int(sip_transport_parse("TLS"), SIP_TLS, "transport names any case");
	is_int(sip_transport_parse("ws"), -1, "ws is not spoken here");
}

int main(void)
{
	test_table();
	test_hostile();
	test_target();
	return tap_done();
}
