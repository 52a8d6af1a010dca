/*
 * tests/unit/sipmsg.c: the SIP parser on real REGISTER transactions
 * (Kamailio/linphone/sipp shapes), compact names, folding, case, LF-only,
 * and inputs it must refuse.
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "sip/sip.h"
#include "core/sipprov.h"

static int parse(const char *s, struct sipmsg *m)
{
	char err[128] = "";
	int rc = sipmsg_parse(s, strlen(s), m, err, sizeof(err));
	if (rc < 0)
		printf("# parse error: %s\n", err);
	return rc;
}

static const char *REG1 =
	"REGISTER sip:example.test SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport\r\n"
	"Max-Forwards: 70\r\n"
	"From: \"Alice\" <sip:alice@example.test>;tag=abc\r\n"
	"To: \"Alice\" <sip:alice@example.test>\r\n"
	"Call-ID: 7f3a@127.0.0.1\r\n"
	"CSeq: 20 REGISTER\r\n"
	"Contact: <sip:alice@127.0.0.1:5070;transport=udp>;expires=600;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-001565AABBCC>\"\r\n"
	"Expires: 3600\r\n"
	"User-Agent: Yealink SIP-T46G 28.72.0.1 00:15:65:aa:bb:cc\r\n"
	"Content-Length: 0\r\n\r\n";

static const char *REG2 =
	"REGISTER sip:example.test SIP/2.0\r\n"
	"Via: SIP/2.0/TLS [2001:db8::5]:5061;branch=z9hG4bK-2\r\n"
	"From: <sip:alice@example.test>;tag=abc\r\n"
	"To: <sip:alice@example.test>\r\n"
	"Call-ID: 7f3a@127.0.0.1\r\n"
	"CSeq: 21 REGISTER\r\n"
	"Authorization: Digest realm=\"example.test\", nonce=\"x,y\", uri=\"sip:example.test\",\r\n"
	"  response=\"0123\", username=\"a1xyzauth\", algorithm=MD5\r\n"
	"Contact: <sip:alice@[2001:db8::5]:5061;transport=tls>\r\n"
	"Content-Length: 0\r\n\r\n";

static const char *OK200 =
	"SIP/2.0 200 OK\r\n"
	"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-2;rport=5070\r\n"
	"From: <sip:alice@example.test>;tag=abc\r\n"
	"To: <sip:alice@example.test>;tag=kam1\r\n"
	"Call-ID: 7f3a@127.0.0.1\r\n"
	"CSeq: 21 REGISTER\r\n"
	"Contact: <sip:alice@127.0.0.1:5070>;expires=300\r\n"
	"Server: kamailio (5.6.3 (x86_64/linux))\r\n"
	"Content-Length: 0\r\n\r\n";

static void test_register(void)
{
	struct sipmsg m;
	is_int(parse(REG1, &m), 0, "REGISTER parses");
	ok(m.request, "is a request");
	is_str(m.method, "REGISTER", "method");
	is_str(m.ruri.host, "example.test", "request-URI host");
	is_str(m.via_transport, "udp", "via transport");
	is_str(m.via_host, "127.0.0.1", "via host");
	is_int(m.via_port, 5070, "via port");
	is_str(m.from.user, "alice", "from user");
	is_str(m.to.user, "alice", "to user");
	is_str(m.to.host, "example.test", "to host");
	is_str(m.call_id, "7f3a@127.0.0.1", "call-id");
	is_int(m.cseq, 20, "cseq number");
	is_str(m.cseq_method, "REGISTER", "cseq method");
	is_str(m.contact, "sip:alice@127.0.0.1:5070;transport=udp", "contact uri");
	is_int(m.contact_uri.port, 5070, "contact port");
	is_str(m.contact_uri.transport, "udp", "contact transport param");
	is_str(m.instance, "urn:uuid:00000000-0000-1000-8000-001565AABBCC", "+sip.instance");
	is_int(m.contact_expires, 600, "contact expires");
	is_int(m.expires, 3600, "Expires header");
	is_str(m.user_agent, "Yealink SIP-T46G 28.72.0.1 00:15:65:aa:bb:cc", "user agent");
	is_str(m.auth_username, "", "no credentials on first REGISTER");

	is_int(parse(REG2, &m), 0, "REGISTER with credentials parses");
	is_str(m.auth_username, "a1xyzauth", "digest username through a folded line and a quoted comma");
	is_str(m.via_transport, "tls", "via tls");
	is_str(m.via_host, "2001:db8::5", "via ipv6 host");
	is_int(m.via_port, 5061, "via ipv6 port");
	is_str(m.contact_uri.host, "2001:db8::5", "contact ipv6 host");
	is_int(m.contact_expires, -1, "no contact expires");
	is_int(m.expires, -1, "no Expires header");

	is_int(parse(OK200, &m), 0, "200 parses");
	ok(!m.request, "is a response");
	is_int(m.code, 200, "status 200");
	is_str(m.method, "REGISTER", "method from CSeq");
	is_int(m.cseq, 21, "cseq of response");
	is_int(m.contact_expires, 300, "granted expiry");
}

static void test_responses(void)
{
	struct sipmsg m;
	const char *codes[] = { "401 Unauthorized", "403 Forbidden", "404 Not Found", "407 Proxy Authentication Required" };
	const int want[] = { 401, 403, 404, 407 };
	for (size_t i = 0; i < 4; i++) {
		char msg[512];
		snprintf(msg, sizeof(msg),
			 "SIP/2.0 %s\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\n"
			 "From: <sip:bob@example.test>;tag=1\r\nTo: <sip:bob@example.test>;tag=2\r\n"
			 "Call-ID: c%zu\r\nCSeq: 1 REGISTER\r\n%sContent-Length: 0\r\n\r\n", codes[i], i,
			 want[i] == 401 ? "WWW-Authenticate: Digest realm=\"example.test\", nonce=\"abc\"\r\n" : "");
		is_int(parse(msg, &m), 0, "%d parses", want[i]);
		is_int(m.code, want[i], "status %d", want[i]);
	}
}

static void test_forms(void)
{
	struct sipmsg m;
	/* compact names, odd case, LF only, folded Via, addr-spec without <> */
	const char *c =
		"REGISTER sips:Example.TEST:5061 SIP/2.0\n"
		"v: SIP/2.0/tcp\n"
		"\t10.0.0.9:5080;branch=z9hG4bK\n"
		"F: sip:carol@example.test;tag=9\n"
		"t: sip:carol@example.test\n"
		"I: compact-1\n"
		"cSeQ:   7   REGISTER\n"
		"M: <sip:carol@10.0.0.9:5080;transport=tcp>;Expires=120\n"
		"uSER-aGENT: Fanvil X4 2.10.2.6887 0c383e07e16c\n"
		"proxy-authorization: Digest username=carolid,realm=\"x\"\n"
		"l: 0\n\n";
	is_int(parse(c, &m), 0, "compact form parses");
	is_str(m.ruri.scheme, "sips", "sips scheme");
	is_str(m.ruri.host, "example.test", "host lowercased");
	is_int(m.ruri.port, 5061, "request-URI port");
	is_str(m.via_transport, "tcp", "folded via transport");
	is_str(m.via_host, "10.0.0.9", "folded via host");
	is_int(m.via_port, 5080, "folded via port");
	is_str(m.from.user, "carol", "addr-spec from");
	is_str(m.to.host, "example.test", "addr-spec to host (tag not in it)");
	is_str(m.call_id, "compact-1", "i: call-id");
	is_int(m.cseq, 7, "cseq with spaces");
	is_int(m.contact_expires, 120, "Expires param any case");
	is_str(m.user_agent, "Fanvil X4 2.10.2.6887 0c383e07e16c", "user-agent any case");
	is_str(m.auth_username, "carolid", "unquoted proxy-authorization username");

	/* Only the top Via counts, even with several in one header. */
	const char *v2 = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a.test:1, SIP/2.0/TCP b.test:2\r\n"
			 "Via: SIP/2.0/TLS c.test\r\nCall-ID: x\r\nCSeq: 2 REGISTER\r\n\r\n";
	is_int(parse(v2, &m), 0, "multi-via parses");
	is_str(m.via_host, "a.test", "top via host");
	is_int(m.via_port, 1, "top via port");

	/* A "username" inside another parameter's value must not match. */
	const char *a = "REGISTER sip:x.test SIP/2.0\r\nCall-ID: y\r\nCSeq: 3 REGISTER\r\n"
			"Authorization: Digest realm=\"username=evil\", xusername=\"no\", username=\"good\"\r\n\r\n";
	is_int(parse(a, &m), 0, "auth parses");
	is_str(m.auth_username, "good", "username param, not a lookalike");

	/* tel: and user with password part */
	is_int(sip_uri_parse("sip:bob:secret@h.test:5070;transport=TLS", 40, &m.to, NULL, 0), 0, "uri with password");
	is_str(m.to.user, "bob", "password dropped");
	is_str(m.to.transport, "tls", "transport param lowercased");
	is_int(sip_uri_parse("http://x", 8, &m.to, NULL, 0), -1, "http scheme refused");
	is_int(sip_uri_parse("sip:a@h:99999", 13, &m.to, NULL, 0), -1, "port out of range refused");
	/* tel: URI at the very end of an unterminated buffer (found by the fuzzer). */
	char *tel = malloc(7);
	memcpy(tel, "tel:+49", 7);
	is_int(sip_uri_parse(tel, 7, &m.to, NULL, 0), 0, "unterminated tel uri");
	is_str(m.to.user, "+49", "tel number");
	free(tel);
	is_int(sip_uri_parse("<sip:a@[::1]:5060>", 18, &m.to, NULL, 0), 0, "ipv6 uri");
	is_str(m.to.host, "::1", "ipv6 uri host");
}

static void test_bad(void)
{
	struct sipmsg m;
	const char *bad[] = {
		"",
		"\r\n\r\n",
		"REGISTER sip:x SIP/2.0\r\nCSeq: 1 REGISTER\r\n\r\n",             /* no Call-ID */
		"REGISTER sip:x SIP/2.0\r\nCall-ID: a\r\n\r\n",                   /* no CSeq */
		"REGISTER sip:x SIP/3.0\r\nCall-ID: a\r\nCSeq: 1 REGISTER\r\n\r\n",
		"SIP/2.0 2000 OK\r\nCall-ID: a\r\nCSeq: 1 REGISTER\r\n\r\n",
		"SIP/2.0 99 Odd\r\nCall-ID: a\r\nCSeq: 1 REGISTER\r\n\r\n",
		"register sip:x SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 REGISTER\r\n\r\n",
		"REGISTER http://x SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 REGISTER\r\n\r\n",
		"REGISTER sip:x SIP/2.0\r\n continued\r\nCall-ID: a\r\nCSeq: 1 REGISTER\r\n\r\n",
		"REGISTER sip:x SIP/2.0\r\nNoColonHere\r\nCall-ID: a\r\nCSeq: 1 REGISTER\r\n\r\n",
		"REGISTER sip:x SIP/2.0\r\nCall-ID: a\r\nCSeq: 99999999999 REGISTER\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[128];
		ok(sipmsg_parse(bad[i], strlen(bad[i]), &m, err, sizeof(err)) == -1, "refused bad message %zu (%s)", i, err);
	}
	/* Header count and length caps. */
	static char big[80000];
	size_t n = (size_t)snprintf(big, sizeof(big), "REGISTER sip:x SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 REGISTER\r\n");
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "X-H%d: v\r\n", i);
	char err[128];
	ok(sipmsg_parse(big, n, &m, err, sizeof(err)) == -1, "too many headers refused (%s)", err);
	n = (size_t)snprintf(big, sizeof(big), "REGISTER sip:x SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 REGISTER\r\nUser-Agent: ");
	memset(big + n, 'A', 5000);
	n += 5000;
	ok(sipmsg_parse(big, n, &m, err, sizeof(err)) == -1, "overlong header refused (%s)", err);
	/* Binary bytes in a kept field are neutralised. */
	const char bin[] = "REGISTER sip:x SIP/2.0\r\nCall-ID: a\x01\x7f" "b\r\nCSeq: 1 REGISTER\r\n\r\n";
	is_int(sipmsg_parse(bin, sizeof(bin) - 1, &m, err, sizeof(err)), 0, "binary call-id parses");
	is_str(m.call_id, "a??b", "control bytes replaced");
	/* Every prefix of a real message parses or fails cleanly (ASan). */
	size_t len = strlen(REG2);
	int fine = 0;
	for (size_t cut = 0; cut <= len; cut++) {
		char *copy = malloc(cut ? cut : 1);
		memcpy(copy, REG2, cut);
		int rc = sipmsg_parse(copy, cut, &m, err, sizeof(err));
		fine += rc == 0 || rc == -1;
		free(copy);
	}
	is_int(fine, (long long)len + 1, "every prefix handled");
}

/* What the client transaction layer and the probes read. */
static void test_client_fields(void)
{
	struct sipmsg m;
	const char *r =
		"SIP/2.0 407 Proxy Authentication Required\r\n"
		"v: SIP/2.0/TLS 10.0.0.1:5061;rport=5061;branch=z9hG4bK-abc;received=10.0.0.1\r\n"
		"f: \"A\" <sip:a@x.test>;tag=ft1\r\nt: <sip:a@x.test>;tag=tt2\r\ni: c1\r\nCSeq: 2 REGISTER\r\n"
		"Proxy-Authenticate: Digest realm=\"x\", nonce=\"n1\", algorithm=SHA-512-256\r\n"
		"Proxy-Authenticate: Digest realm=\"x.test\", nonce=\"n,2\", opaque=\"o\", algorithm=SHA-256, qop=\"auth,auth-int\"\r\n"
		"Reason: SIP ;cause=403 ;text=\"Account Disabled\", Q.850;cause=21\r\n"
		"l: 3\r\n\r\nabc";
	is_int(parse(r, &m), 0, "407 with two challenges parses");
	is_str(m.reason, "Proxy Authentication Required", "reason phrase");
	is_str(m.via_branch, "z9hG4bK-abc", "top Via branch among other params");
	is_str(m.from_tag, "ft1", "From tag");
	is_str(m.to_tag, "tt2", "To tag");
	ok(m.challenge.present && m.challenge.proxy, "Proxy-Authenticate challenge");
	is_str(m.challenge.algorithm, "SHA-256", "an unusable algorithm gives way to a later usable challenge");
	is_str(m.challenge.nonce, "n,2", "quoted nonce with a comma");
	is_str(m.challenge.realm, "x.test", "realm of that challenge");
	is_str(m.challenge.opaque, "o", "opaque");
	is_str(m.challenge.qop, "auth,auth-int", "qop list");
	is_str(m.reason_proto, "SIP", "Reason protocol");
	is_int(m.reason_cause, 403, "Reason cause");
	is_str(m.reason_text, "Account Disabled", "Reason text");
	is_int(m.content_length, 3, "compact Content-Length");
	const char *w = "SIP/2.0 401\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\n"
			"WWW-Authenticate: Digest realm=\"r\", nonce=\"n\"\r\n"
			"WWW-Authenticate: Digest realm=\"r2\", nonce=\"n2\"\r\n\r\n";
	is_int(parse(w, &m), 0, "status line without a reason phrase");
	is_int(m.code, 401, "its code");
	ok(m.challenge.present && !m.challenge.proxy && !strcmp(m.challenge.nonce, "n"),
	   "first usable WWW-Authenticate kept (algorithm absent = MD5)");
	const char *nd = "SIP/2.0 401 X\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nWWW-Authenticate: Basic realm=\"r\"\r\n\r\n";
	is_int(parse(nd, &m), 0, "Basic challenge parses");
	ok(!m.challenge.present, "but is not a Digest challenge");

	/* Stream framing. */
	const char *two = "\r\n\r\nSIP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nhiSIP/2.0 100 Trying\r\n\r\n";
	size_t tl = strlen(two), second = (size_t)(strstr(two, "SIP/2.0 100") - two);
	is_int(sipmsg_frame(two, tl, 8192), (long long)second, "first message: keep-alive, headers and a 2-byte body");
	is_int(sipmsg_frame(two + second, tl - second, 8192), (long long)(tl - second), "second message without a body");
	is_int(sipmsg_frame(two, 30, 8192), 0, "incomplete headers: need more");
	is_int(sipmsg_frame(two, 42, 8192), 0, "incomplete body: need more");
	is_int(sipmsg_frame(two, 30, 30), -1, "headers that cannot end within max");
	const char *bad = "SIP/2.0 200 OK\r\nl: 99999\r\n\r\n";
	is_int(sipmsg_frame(bad, strlen(bad), 8192), -1, "a body larger than max");
	const char *neg = "SIP/2.0 200 OK\r\nl: -1\r\n\r\n";
	is_int(sipmsg_frame(neg, strlen(neg), 8192), -1, "a negative Content-Length");
}

int main(void)
{
	test_client_fields();
	test_register();
	test_responses();
	test_forms();
	test_bad();
	return tap_done();
}
