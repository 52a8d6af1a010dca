/*
 * hep.c: HEP v3 decoder over one datagram.  Chunks may come in any order;
 * unknown ones are skipped by their length.  Every length is checked
 * against the bytes actually present before anything is read, so lying or
 * truncated packets are rejected, never over-read.  No allocation, no I/O.
 */
#include <arpa/inet.h>
#include <string.h>

#include "hep.h"
#include "core/sipprov.h"

#define HEP_HDR   6
#define CHUNK_HDR 6

static unsigned rd16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int fail(const char **reason, const char *why)
{
	if (reason)
		*reason = why;
	return -1;
}

/* Constant-time comparison of the auth key chunk with the configured key. */
static bool key_equal(const uint8_t *got, size_t glen, const char *want)
{
	size_t wlen = strlen(want);
	unsigned diff = glen != wlen;
	for (size_t i = 0; i < wlen; i++)
		diff |= (unsigned)(want[i] ^ (i < glen ? got[i] : 0));
	return diff == 0;
}

int hep_decode(const uint8_t *buf, size_t len, const char *auth_key, struct hep_packet *p,
	       const char **reason)
{
	const uint8_t *key = NULL;
	size_t keylen = 0;
	bool have_key = false, have_src4 = false, have_dst4 = false, have_src6 = false, have_dst6 = false;
	uint8_t src[16], dst[16];

	memset(p, 0, sizeof(*p));
	if (len < HEP_HDR)
		return fail(reason, "truncated");
	if (memcmp(buf, "HEP3", 4) && memcmp(buf, "EEP3", 4))
		return fail(reason, "bad_magic");
	size_t total = rd16(buf + 4);
	if (total != len || total < HEP_HDR || total == 0xffff)
		return fail(reason, "bad_length");
	for (size_t off = HEP_HDR; off < total;) {
		if (total - off < CHUNK_HDR)
			return fail(reason, "truncated");
		unsigned vendor = rd16(buf + off), type = rd16(buf + off + 2);
		size_t clen = rd16(buf + off + 4);
		if (clen < CHUNK_HDR || clen > total - off || clen == 0xffff)
			return fail(reason, "bad_chunk");
		const uint8_t *v = buf + off + CHUNK_HDR;
		size_t vlen = clen - CHUNK_HDR;
		off += clen;
		if (vendor != 0)
			continue;
		switch (type) {
		case 1:
			if (vlen != 1)
				return fail(reason, "bad_chunk");
			if (v[0] == 2)
				p->family = 4;
			else if (v[0] == 10)
				p->family = 6;
			else
				return fail(reason, "family");
			break;
		case 2:
			if (vlen != 1)
				return fail(reason, "bad_chunk");
			if (v[0] != 17 && v[0] != 6 && v[0] != 132 && v[0] != 22)
				return fail(reason, "proto");
			p->proto = v[0];
			break;
		case 3: case 4:
			if (vlen != 4)
				return fail(reason, "bad_chunk");
			memcpy(type == 3 ? src : dst, v, 4);
			*(type == 3 ? &have_src4 : &have_dst4) = true;
			break;
		case 5: case 6:
			if (vlen != 16)
				return fail(reason, "bad_chunk");
			memcpy(type == 5 ? src : dst, v, 16);
			*(type == 5 ? &have_src6 : &have_dst6) = true;
			break;
		case 7: case 8:
			if (vlen != 2)
				return fail(reason, "bad_chunk");
			*(type == 7 ? &p->src_port : &p->dst_port) = rd16(v);
			break;
		case 9: case 10:
			if (vlen != 4)
				return fail(reason, "bad_chunk");
			*(type == 9 ? &p->ts_sec : &p->ts_usec) = rd32(v);
			break;
		case 11:
			if (vlen != 1)
				return fail(reason, "bad_chunk");
			p->proto_type = v[0];
			break;
		case 12:
			/* 4 bytes per the draft; some agents send 2. */
			if (vlen == 4)
				p->capture_id = rd32(v);
			else if (vlen == 2)
				p->capture_id = rd16(v);
			else
				return fail(reason, "bad_chunk");
			break;
		case 14:
			key = v;
			keylen = vlen;
			have_key = true;
			break;
		case 15:
			if (vlen == 0)
				return fail(reason, "no_payload");
			p->payload = (const char *)v;
			p->payload_len = vlen;
			break;
		case 16:
			/* Compressed payloads are not inflated: no SIP to read. */
			break;
		default:
			break;          /* 13 keep-alive, 17 correlation id, future types */
		}
	}
	if (auth_key && *auth_key && (!have_key || !key_equal(key, keylen, auth_key)))
		return fail(reason, "auth");
	if (!p->payload)
		return fail(reason, "no_payload");
	if (p->family == 0)
		p->family = (have_src6 || have_dst6) ? 6 : 4;
	if (p->family == 4 && (have_src6 || have_dst6) && !(have_src4 || have_dst4))
		return fail(reason, "family");
	if (p->family == 6 && (have_src4 || have_dst4) && !(have_src6 || have_dst6))
		return fail(reason, "family");
	int af = p->family == 6 ? AF_INET6 : AF_INET;
	if (p->family == 6 ? have_src6 : have_src4)
		inet_ntop(af, src, p->src_ip, sizeof(p->src_ip));
	if (p->family == 6 ? have_dst6 : have_dst4)
		inet_ntop(af, dst, p->dst_ip, sizeof(p->dst_ip));
	return 0;
}

const char *hep_reason_series(const char *reason)
{
	static const struct { const char *reason, *series; } map[] = {
#define R(x) { x, "sipprov_hep_packets_total{result=\"rejected\",reason=\"" x "\"}" }
		R("truncated"), R("bad_magic"), R("bad_length"), R("bad_chunk"), R("no_payload"),
		R("auth"), R("family"), R("proto"), R("not_sip"), R("source"),
#undef R
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].reason, reason) == 0)
			return map[i].series;
	return "sipprov_hep_packets_total{result=\"rejected\",reason=\"other\"}";
}
