/*
 * tests/unit/hep.c: HEP v3 decoding of packets built byte by byte: Kamailio
 * and sngrep chunk orders, IPv6, TLS (22), auth key, and malformed packets
 * that must be rejected without reading past the datagram.
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "core/sipprov.h"
#include "daemon/daemon.h"
#include "sip/sip.h"

struct pkt { uint8_t b[2048]; size_t n; };

static void put8(struct pkt *p, unsigned v) { p->b[p->n++] = (uint8_t)v; }
static void put16(struct pkt *p, unsigned v) { put8(p, v >> 8); put8(p, v & 0xff); }

static void start(struct pkt *p, const char *magic)
{
	p->n = 0;
	memcpy(p->b, magic, 4);
	p->n = 4;
	put16(p, 0);
}
static void chunk(struct pkt *p, unsigned type, const void *v, size_t n)
{
	put16(p, 0);
	put16(p, type);
	put16(p, (unsigned)(n + 6));
	memcpy(p->b + p->n, v, n);
	p->n += n;
}
static void chunk8(struct pkt *p, unsigned type, unsigned v) { uint8_t x = (uint8_t)v; chunk(p, type, &x, 1); }
static void chunk16(struct pkt *p, unsigned type, unsigned v) { uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v }; chunk(p, type, x, 2); }
static void chunk32(struct pkt *p, unsigned type, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	chunk(p, type, x, 4);
}
static void finish(struct pkt *p)
{
	p->b[4] = (uint8_t)(p->n >> 8);
	p->b[5] = (uint8_t)p->n;
}

static const char *SIP = "REGISTER sip:example.test SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 REGISTER\r\n\r\n";
static const uint8_t IP_A[4] = { 127, 0, 0, 1 }, IP_B[4] = { 10, 1, 2, 3 };

/* Kamailio's order: 1,2,3,4,7,8,9,10,11,12,[17],[14],15 */
static void kamailio(struct pkt *p, const char *key, unsigned proto)
{
	start(p, "HEP3");
	chunk8(p, 1, 2);
	chunk8(p, 2, proto);
	chunk(p, 3, IP_A, 4);
	chunk(p, 4, IP_B, 4);
	chunk16(p, 7, 5070);
	chunk16(p, 8, 5060);
	chunk32(p, 9, 1700000000);
	chunk32(p, 10, 123456);
	chunk8(p, 11, 1);
	chunk32(p, 12, 2001);
	chunk(p, 17, "corr-1", 6);
	if (key)
		chunk(p, 14, key, strlen(key));
	chunk(p, 15, SIP, strlen(SIP));
	finish(p);
}

static int dec(const struct pkt *p, const char *key, struct hep_packet *h, const char **why)
{
	/* Copy into an exact-size heap block so ASan catches any over-read; it
	 * lives until the next call because h->payload points into it. */
	static uint8_t *b;
	free(b);
	b = malloc(p->n ? p->n : 1);
	memcpy(b, p->b, p->n);
	*why = "";
	return hep_decode(b, p->n, key, h, why);
}

static void test_good(void)
{
	struct pkt p;
	struct hep_packet h;
	const char *why;

	kamailio(&p, NULL, 17);
	is_int(dec(&p, NULL, &h, &why), 0, "kamailio order decodes");
	is_int(h.family, 4, "family ipv4");
	is_int(h.proto, 17, "proto udp");
	is_str(h.src_ip, "127.0.0.1", "src ip");
	is_str(h.dst_ip, "10.1.2.3", "dst ip");
	is_int(h.src_port, 5070, "src port");
	is_int(h.dst_port, 5060, "dst port");
	is_int(h.ts_sec, 1700000000, "seconds");
	is_int(h.ts_usec, 123456, "microseconds");
	is_int(h.capture_id, 2001, "capture id");
	is_int(h.proto_type, 1, "proto type sip");
	is_int(h.payload_len, strlen(SIP), "payload length");
	ok(h.payload && memcmp(h.payload, SIP, strlen(SIP)) == 0, "payload bytes");

	kamailio(&p, NULL, 22);
	is_int(dec(&p, NULL, &h, &why), 0, "protocol 22 (tls) decodes");
	is_int(h.proto, 22, "proto 22 kept");

	/* sngrep: EEP3, ports before addresses, capture id in host (LE) order. */
	start(&p, "EEP3");
	chunk16(&p, 7, 40000);
	chunk16(&p, 8, 5060);
	chunk8(&p, 1, 2);
	chunk8(&p, 2, 6);
	chunk(&p, 4, IP_A, 4);
	chunk(&p, 3, IP_B, 4);
	chunk32(&p, 12, 0x01000000);      /* capture id 1, byte-swapped */
	chunk32(&p, 9, 1);
	chunk(&p, 15, SIP, strlen(SIP));
	chunk8(&p, 11, 1);
	finish(&p);
	is_int(dec(&p, NULL, &h, &why), 0, "sngrep order decodes");
	is_str(h.src_ip, "10.1.2.3", "sngrep src ip");
	is_int(h.src_port, 40000, "sngrep src port");
	is_int(h.proto, 6, "sngrep tcp");
	is_int(h.capture_id, 0x01000000, "byte-swapped capture id read as sent");

	/* IPv6 */
	uint8_t s6[16] = { 0 }, d6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	s6[15] = 1;
	d6[15] = 0x42;
	start(&p, "HEP3");
	chunk8(&p, 1, 10);
	chunk8(&p, 2, 17);
	chunk(&p, 5, s6, 16);
	chunk(&p, 6, d6, 16);
	chunk16(&p, 7, 5062);
	chunk16(&p, 8, 5060);
	chunk(&p, 15, SIP, strlen(SIP));
	finish(&p);
	is_int(dec(&p, NULL, &h, &why), 0, "ipv6 decodes");
	is_int(h.family, 6, "family ipv6");
	is_str(h.src_ip, "::1", "ipv6 src");
	is_str(h.dst_ip, "2001:db8::42", "ipv6 dst");

	/* Unknown vendor chunk and unknown vendor-0 type are skipped. */
	start(&p, "HEP3");
	put16(&p, 0x0009); put16(&p, 0x0101); put16(&p, 9); put8(&p, 1); put8(&p, 2); put8(&p, 3);
	chunk(&p, 99, "xyz", 3);
	chunk8(&p, 1, 2);
	chunk(&p, 15, SIP, strlen(SIP));
	finish(&p);
	is_int(dec(&p, NULL, &h, &why), 0, "unknown chunks skipped by length");
	ok(h.payload_len == strlen(SIP), "payload after unknown chunks");

	/* Auth key */
	kamailio(&p, "s3cret", 17);
	is_int(dec(&p, "s3cret", &h, &why), 0, "right auth key accepted");
	is_int(dec(&p, "s3creT", &h, &why), -1, "wrong auth key rejected");
	is_str(why, "auth", "reason auth");
	is_int(dec(&p, "s3cret!", &h, &why), -1, "longer configured key rejected");
	kamailio(&p, "s3c", 17);
	is_int(dec(&p, "s3cret", &h, &why), -1, "shorter sent key rejected");
	kamailio(&p, NULL, 17);
	is_int(dec(&p, "s3cret", &h, &why), -1, "missing auth key rejected");
	is_str(why, "auth", "reason auth (missing)");
	kamailio(&p, "whatever", 17);
	is_int(dec(&p, NULL, &h, &why), 0, "key sent but none configured: accepted");
}

struct bad { const char *name; const char *reason; };

static void test_bad(void)
{
	struct pkt p, good;
	struct hep_packet h;
	const char *why;
	int n = 0;

	kamailio(&good, NULL, 17);
#define BAD(desc, want) do { n++; int rc_ = dec(&p, NULL, &h, &why); \
	ok(rc_ == -1 && strcmp(why, want) == 0, "malformed: %s (got %s)", desc, why); } while (0)

	p = good; p.n = 0; BAD("empty datagram", "truncated");
	p = good; p.n = 5; BAD("5 bytes", "truncated");
	p = good; memcpy(p.b, "HEP2", 4); BAD("HEP2 magic", "bad_magic");
	p = good; memcpy(p.b, "hep3", 4); BAD("lowercase magic", "bad_magic");
	p = good; p.b[4] = 0; p.b[5] = 3; BAD("total < 6", "bad_length");
	p = good; p.b[4] = 0xff; p.b[5] = 0xff; BAD("total 65535", "bad_length");
	p = good; p.b[5]++; BAD("total past the end", "bad_length");
	p = good; p.b[5]--; BAD("total shorter than datagram", "bad_length");
	p = good; p.n -= 1; BAD("datagram cut by one byte", "bad_length");
	/* Chunk length problems: first chunk header at offset 6. */
	p = good; p.b[10] = 0; p.b[11] = 0; BAD("zero-length chunk", "bad_chunk");
	p = good; p.b[10] = 0; p.b[11] = 5; BAD("chunk length 5 (< header)", "bad_chunk");
	p = good; p.b[10] = 0xff; p.b[11] = 0xff; BAD("chunk length 65535", "bad_chunk");
	p = good; p.b[10] = 0x07; p.b[11] = 0xd0; BAD("chunk length past the end", "bad_chunk");
	/* A truncated packet whose total is fixed up to match: chunk runs off. */
	p = good; p.n -= 10; finish(&p); BAD("payload chunk truncated, total fixed", "bad_chunk");
	p = good; p.n = 6 + 3; finish(&p); BAD("half a chunk header", "truncated");
	p = good; p.n = 6 + 6 + 1 + 2; finish(&p); BAD("odd truncation inside chunk header", "truncated");
	start(&p, "HEP3"); finish(&p); BAD("header only, no chunks", "no_payload");
	start(&p, "HEP3"); chunk8(&p, 1, 2); chunk16(&p, 7, 1); finish(&p); BAD("no payload chunk", "no_payload");
	start(&p, "HEP3"); chunk8(&p, 1, 2); chunk(&p, 15, "", 0); finish(&p); BAD("empty payload chunk", "no_payload");
	start(&p, "HEP3"); chunk8(&p, 1, 3); chunk(&p, 15, SIP, 10); finish(&p); BAD("family 3", "family");
	start(&p, "HEP3"); chunk8(&p, 2, 99); chunk(&p, 15, SIP, 10); finish(&p); BAD("ip protocol 99", "proto");
	start(&p, "HEP3"); chunk(&p, 3, IP_A, 3); chunk(&p, 15, SIP, 10); finish(&p); BAD("ipv4 address of 3 bytes", "bad_chunk");
	start(&p, "HEP3"); chunk(&p, 5, IP_A, 4); chunk(&p, 15, SIP, 10); finish(&p); BAD("ipv6 address of 4 bytes", "bad_chunk");
	start(&p, "HEP3"); chunk8(&p, 7, 1); chunk(&p, 15, SIP, 10); finish(&p); BAD("port of 1 byte", "bad_chunk");
	start(&p, "HEP3"); chunk16(&p, 9, 1); chunk(&p, 15, SIP, 10); finish(&p); BAD("seconds of 2 bytes", "bad_chunk");
	start(&p, "HEP3"); chunk(&p, 1, "\x02\x02", 2); chunk(&p, 15, SIP, 10); finish(&p); BAD("family of 2 bytes", "bad_chunk");
	start(&p, "HEP3"); chunk(&p, 12, "abc", 3); chunk(&p, 15, SIP, 10); finish(&p); BAD("capture id of 3 bytes", "bad_chunk");
	start(&p, "HEP3"); chunk8(&p, 1, 2); { static const uint8_t z16[16]; chunk(&p, 6, z16, 16); } chunk(&p, 15, SIP, 10); finish(&p); BAD("family 4 with only ipv6 addresses", "family");
	/* Length field lies about a later chunk. */
	start(&p, "HEP3"); chunk8(&p, 1, 2); put16(&p, 0); put16(&p, 15); put16(&p, 200); memcpy(p.b + p.n, "REGI", 4); p.n += 4; finish(&p);
	BAD("payload length lies", "bad_chunk");
	/* Vendor chunk with length 0 after a good one. */
	start(&p, "HEP3"); chunk(&p, 15, SIP, 10); put16(&p, 7); put16(&p, 1); put16(&p, 0); finish(&p);
	BAD("vendor chunk with length 0", "bad_chunk");
	ok(n >= 20, "at least 20 malformed packets (%d)", n);

	/* Every truncation of a good packet is refused (the total no longer
	 * matches); with the total fixed up, none reads out of bounds (ASan). */
	int refused = 0;
	for (size_t cut = 0; cut < good.n; cut++) {
		p = good;
		p.n = cut;
		refused += dec(&p, NULL, &h, &why) == -1;
		if (cut >= 6) {
			finish(&p);
			(void)dec(&p, NULL, &h, &why);
		}
	}
	is_int(refused, (long long)good.n, "every truncation refused");
	is_str(hep_reason_series("auth"), "sipprov_hep_packets_total{result=\"rejected\",reason=\"auth\"}", "reason series");
}

static struct observation emitted[16];
static int nemitted;

static void emit(const struct observation *o, void *arg)
{
	(void)arg;
	if (nemitted < 16)
		emitted[nemitted++] = *o;
}

#define REQ_FMT "REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5070\r\n" \
	"To: <sip:alice@Example.test>\r\nFrom: <sip:alice@example.test>;tag=9\r\n" \
	"Call-ID: %s\r\nCSeq: %ld REGISTER\r\nUser-Agent: T\r\nExpires: 3600\r\n\r\n"
#define REQ_AUTH_FMT "REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5070\r\n" \
	"To: <sip:alice@example.test>\r\nCall-ID: %s\r\nCSeq: %ld REGISTER\r\n" \
	"Authorization: Digest username=\"a1auth\", realm=\"x\"\r\n\r\n"
static const char *REQ = "r", *REQ_AUTH = "a";

static void feed(struct hep_corr *c, const struct hep_packet *p, const char *fmt, const char *callid, long cseq,
		 int code, int64_t now)
{
	char msg[1024];
	struct sipmsg m;
	char err[128];
	if (code)
		snprintf(msg, sizeof(msg), "SIP/2.0 %d X\r\nVia: SIP/2.0/UDP 10.0.0.1:5070\r\nTo: <sip:alice@example.test>;tag=1\r\n"
			 "Call-ID: %s\r\nCSeq: %ld REGISTER\r\nContact: <sip:alice@10.0.0.1:5070>;expires=120\r\n\r\n", code, callid, cseq);
	else
		snprintf(msg, sizeof(msg), fmt == REQ_AUTH ? REQ_AUTH_FMT : REQ_FMT, callid, cseq);
	if (sipmsg_parse(msg, strlen(msg), &m, err, sizeof(err)) < 0)
		printf("# parse: %s\n", err);
	hep_corr_feed(c, p, &m, now);
}



/* One raw SIP message through the correlator, as the listener does: the
 * packet's payload is the message (P-Registrar-Error is read from it). */
static void feed_raw(struct hep_corr *c, struct hep_packet *p, const char *msg, int64_t now)
{
	struct sipmsg m;
	char err[128];
	p->payload = msg;
	p->payload_len = strlen(msg);
	if (sipmsg_parse(msg, strlen(msg), &m, err, sizeof(err)) < 0)
		printf("# parse: %s\n", err);
	hep_corr_feed(c, p, &m, now);
}

/* What the registrar said travels with the observation; diagnose's own
 * probes are marked as such before they reach drift. */
static void test_corr_reason(void)
{
	struct hep_packet p;
	memset(&p, 0, sizeof(p));
	p.proto = 17;
	sp_strlcpy(p.src_ip, "10.0.0.1", sizeof(p.src_ip));
	struct hep_corr *c = hep_corr_new(4, 1000, emit, NULL);
	nemitted = 0;
	feed_raw(c, &p, "REGISTER sip:example.test SIP/2.0\r\nTo: <sip:bob@example.test>\r\nCall-ID: r1\r\n"
		 "CSeq: 1 REGISTER\r\nUser-Agent: MicroSIP/3.21\r\n\r\n", 0);
	feed_raw(c, &p, "SIP/2.0 503 Service Unavailable\r\nTo: <sip:bob@example.test>;tag=1\r\nCall-ID: r1\r\n"
		 "CSeq: 1 REGISTER\r\nP-Registrar-Error: Too many registered contacts\r\n\r\n", 1);
	feed_raw(c, &p, "REGISTER sip:example.test SIP/2.0\r\nTo: <sip:bob@example.test>\r\nCall-ID: r2\r\n"
		 "CSeq: 1 REGISTER\r\n\r\n", 2);
	feed_raw(c, &p, "SIP/2.0 403 Forbidden\r\nTo: <sip:bob@example.test>;tag=1\r\nCall-ID: r2\r\n"
		 "CSeq: 1 REGISTER\r\nReason: SIP;cause=403;text=\"Account Disabled\"\r\n\r\n", 3);
	feed_raw(c, &p, "REGISTER sip:example.test SIP/2.0\r\nTo: <sip:bob@example.test>\r\n"
		 "Call-ID: " SP_PROBE_CALLID_PREFIX "77@sipprov\r\nCSeq: 1 REGISTER\r\n"
		 "User-Agent: " SP_PROBE_UA_PREFIX "1.0\r\n\r\n", 4);
	feed_raw(c, &p, "SIP/2.0 401 Unauthorized\r\nTo: <sip:bob@example.test>;tag=1\r\n"
		 "Call-ID: " SP_PROBE_CALLID_PREFIX "77@sipprov\r\nCSeq: 1 REGISTER\r\n\r\n", 5);
	hep_corr_expire(c, 5000);
	is_int(nemitted, 3, "three observations");
	is_str(emitted[0].reason, "Service Unavailable", "reason phrase kept");
	is_str(emitted[0].reason_detail, "P-Registrar-Error: Too many registered contacts", "P-Registrar-Error kept");
	is_str(emitted[0].source, "hep", "a phone's REGISTER is source hep");
	is_str(emitted[1].reason_detail, "Reason: SIP;cause=403;text=\"Account Disabled\"", "Reason header kept");
	is_str(emitted[2].source, "probe", "diagnose's marked REGISTER is source probe");
	is_int(emitted[2].code, 401, "its unanswered challenge is kept as 401");
	is_str(emitted[2].reason, "Unauthorized", "with the challenge's reason phrase");
	hep_corr_free(c);
}

static void test_corr(void)
{
	struct hep_packet p;
	memset(&p, 0, sizeof(p));
	p.proto = 22;
	sp_strlcpy(p.src_ip, "10.0.0.1", sizeof(p.src_ip));
	p.src_port = 5070;
	p.dst_port = 5061;
	struct hep_corr *c = hep_corr_new(4, 1000, emit, NULL);

	/* REGISTER, 401, REGISTER with credentials, 200: one observation. */
	nemitted = 0;
	feed(c, &p, REQ, "c1", 1, 0, 0);
	feed(c, &p, NULL, "c1", 1, 100, 1);
	feed(c, &p, NULL, "c1", 1, 401, 2);
	is_int(nemitted, 0, "401 waits for the retry");
	feed(c, &p, REQ_AUTH, "c1", 2, 0, 3);
	feed(c, &p, NULL, "c1", 2, 200, 4);
	is_int(nemitted, 1, "retried 401 + 200: one observation");
	is_int(emitted[0].code, 200, "code 200");
	is_str(emitted[0].auth_username, "a1auth", "auth username from the retry");
	is_str(emitted[0].transport, "tls", "HEP proto 22 means tls");
	is_int(emitted[0].port, 5061, "destination port");
	is_int(emitted[0].expires, 120, "granted expiry from the 200");
	is_int(hep_corr_pending(c), 0, "nothing pending");

	/* Retransmission, then 403. */
	feed(c, &p, REQ, "c2", 5, 0, 10);
	feed(c, &p, REQ, "c2", 5, 0, 11);
	feed(c, &p, NULL, "c2", 4, 403, 12);
	is_int(nemitted, 1, "response with another CSeq is not matched");
	feed(c, &p, NULL, "c2", 5, 403, 13);
	is_int(nemitted, 2, "403 emitted once");
	is_int(emitted[1].code, 403, "code 403");
	is_str(emitted[1].registrar, "example.test", "registrar from To, lowercased");
	is_int(emitted[1].expires, 3600, "requested expiry kept on failure");

	/* No response: 408 after the timeout; unanswered challenge: 401. */
	feed(c, &p, REQ, "c3", 1, 0, 100);
	feed(c, &p, REQ, "c4", 1, 0, 200);
	feed(c, &p, NULL, "c4", 1, 407, 300);
	hep_corr_expire(c, 1099);
	is_int(nemitted, 2, "nothing before the deadline");
	hep_corr_expire(c, 1100);
	is_int(nemitted, 3, "timeout emits");
	is_int(emitted[2].code, 408, "no response is 408");
	hep_corr_expire(c, 1300);
	is_int(nemitted, 4, "unanswered challenge emits");
	is_int(emitted[3].code, 407, "with its 407");

	/* A new CSeq while the previous got no answer: the old one is 408. */
	feed(c, &p, REQ, "c5", 1, 0, 2000);
	feed(c, &p, REQ, "c5", 2, 0, 2001);
	is_int(nemitted, 5, "superseded request emitted");
	is_int(emitted[4].code, 408, "as no response");

	/* The retry with credentials before the copy of the challenge: a
	 * registrar of several processes (Kamailio) sends HEP from each, so
	 * copies can arrive out of order.  Still one observation, the 200. */
	feed(c, &p, REQ, "c6", 1, 0, 2001);
	feed(c, &p, REQ_AUTH, "c6", 2, 0, 2001);
	feed(c, &p, NULL, "c6", 1, 401, 2001);
	feed(c, &p, NULL, "c6", 2, 200, 2001);
	is_int(nemitted, 6, "retry seen before its challenge: one observation");
	is_int(emitted[5].code, 200, "the retry's 200, not a 408 for the first");
	is_str(emitted[5].auth_username, "a1auth", "with the retry's auth username");

	/* Bounded: the oldest is evicted, not emitted. */
	feed(c, &p, REQ, "d1", 1, 0, 2002);
	feed(c, &p, REQ, "d2", 1, 0, 2003);
	feed(c, &p, REQ, "d3", 1, 0, 2004);
	feed(c, &p, REQ, "d4", 1, 0, 2005);
	is_int(hep_corr_pending(c), 4, "capped at 4 pending");
	feed(c, &p, NULL, "c5", 2, 200, 2006);
	is_int(nemitted, 6, "evicted transaction's response is unmatched");
	/* Non-REGISTER traffic is ignored. */
	struct sipmsg m;
	char err[64];
	const char *inv = "INVITE sip:b@x SIP/2.0\r\nCall-ID: i\r\nCSeq: 1 INVITE\r\n\r\n";
	sipmsg_parse(inv, strlen(inv), &m, err, sizeof(err));
	is_int(hep_corr_feed(c, &p, &m, 2007), 0, "INVITE ignored");
	hep_corr_flush(c);
	is_int(nemitted, 10, "flush emits what is pending");
	is_int(emitted[9].code, 0, "flushed without an answer: code 0");
	hep_corr_free(c);
}

int main(void)
{
	test_good();
	test_bad();
	test_corr();
	test_corr_reason();
	struct pkt none = { .n = 0 };
	struct hep_packet h;
	const char *why;
	dec(&none, NULL, &h, &why);     /* frees the last copy */
	return tap_done();
}
