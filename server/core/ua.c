/*
 * ua.c: User-Agent parser: vendor, model, firmware and MAC from the strings
 * desk phones and softphones send (samples in PEERS.md).  Works on a bounded
 * copy (UA_MAX bytes), so it never reads past the input's NUL nor its cap.
 * It identifies nothing by itself: the URL and device record decide; this
 * only adds evidence for fetch logs, drift matching and tickets.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "sipprov.h"

#define UA_MAX 512

static void put(char *dst, size_t size, const char *src, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && src[i] && o + 1 < size; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[o] = '\0';
}

static bool is_hex(char c)
{
	return isxdigit((unsigned char)c) != 0;
}

static bool is_alnum(char c)
{
	return isalnum((unsigned char)c) != 0;
}

/* First MAC in s: 12 hex digits standing alone, or six hex pairs joined by
 * ':' or '-'.  Returns true and fills out[13]. */
static bool find_mac(const char *s, char out[13])
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && is_alnum(s[i - 1]))
			continue;
		size_t j = i;
		while (j < n && is_hex(s[j]))
			j++;
		if (j - i == 12 && (j == n || !is_alnum(s[j]))) {
			char tmp[13];
			memcpy(tmp, s + i, 12);
			tmp[12] = '\0';
			if (mac_normalize(tmp, out) == 0)
				return true;
		}
		if (i + 17 <= n && (s[i + 2] == ':' || s[i + 2] == '-')) {
			char sep = s[i + 2], tmp[18];
			bool good = true;
			for (size_t k = 0; k < 17 && good; k++)
				good = (k % 3 == 2) ? s[i + k] == sep : is_hex(s[i + k]);
			if (good && (i + 17 == n || !is_alnum(s[i + 17]))) {
				memcpy(tmp, s + i, 17);
				tmp[17] = '\0';
				if (mac_normalize(tmp, out) == 0)
					return true;
			}
		}
	}
	return false;
}

/* Length of the token at p, up to any of stop or the end. */
static size_t span_to(const char *p, const char *stop)
{
	return strcspn(p, stop);
}

/* Space-separated words of s (s is modified). */
static size_t words(char *s, char **w, size_t max)
{
	size_t n = 0;
	char *save = NULL, *t;
	for (t = strtok_r(s, " \t", &save); t && n < max; t = strtok_r(NULL, " \t", &save))
		w[n++] = t;
	return n;
}

static const char *ci_find(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (const char *p = hay; *p; p++)
		if (strncasecmp(p, needle, n) == 0)
			return p;
	return NULL;
}

static void set_vendor(struct ua_info *out, const char *v)
{
	sp_strlcpy(out->vendor, v, sizeof(out->vendor));
}

/* "Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37", "Fanvil X4 2.10.2.6887 0c383e07e16c":
 * vendor, model, firmware as the next two words. */
static void vendor_words(const char *ua, struct ua_info *out, const char *strip)
{
	char tmp[UA_MAX], *w[8];
	size_t n;
	sp_strlcpy(tmp, ua, sizeof(tmp));
	n = words(tmp, w, 8);
	if (n > 1) {
		const char *m = w[1];
		if (strip && strncasecmp(m, strip, strlen(strip)) == 0 && m[strlen(strip)])
			m += strlen(strip);
		put(out->model, sizeof(out->model), m, strlen(m));
	}
	if (n > 2 && isdigit((unsigned char)w[2][0]))
		put(out->firmware, sizeof(out->firmware), w[2], strlen(w[2]));
}

/* "FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 Type/Application" */
static void polycom(const char *p, struct ua_info *out)
{
	const char *dash = strchr(p, '-'), *ua = ci_find(p, "-UA/");
	size_t tok = span_to(p, " ");
	if (dash && ua && dash < ua && (size_t)(ua - p) < tok)
		put(out->model, sizeof(out->model), dash + 1, (size_t)(ua - dash - 1));
	if (ua && (size_t)(ua - p) < tok)
		put(out->firmware, sizeof(out->firmware), ua + 4, span_to(ua + 4, " ;)"));
}

/* "Grandstream Model HW GXP2135 SW 1.0.7.97 DevId 000b828aa872" or the SIP
 * form "Grandstream GXP2135 1.0.7.97". */
static void grandstream(const char *ua, struct ua_info *out)
{
	char tmp[UA_MAX], *w[16];
	size_t n;
	sp_strlcpy(tmp, ua, sizeof(tmp));
	n = words(tmp, w, 16);
	for (size_t i = 0; i + 1 < n; i++) {
		if (!strcmp(w[i], "HW"))
			put(out->model, sizeof(out->model), w[i + 1], strlen(w[i + 1]));
		else if (!strcmp(w[i], "SW"))
			put(out->firmware, sizeof(out->firmware), w[i + 1], strlen(w[i + 1]));
	}
	if (!out->model[0])
		vendor_words(ua, out, NULL);
}

/* "Cisco/SPA508G-7.4.4 (0002FDFF2103)(CBT141400UK)", "Cisco-CP-8841-3PCC/11.0 (00562b043615)" */
static void cisco(const char *p, struct ua_info *out)
{
	size_t tok = span_to(p, " (");
	if (p[5] == '/') {
		const char *m = p + 6, *end = p + tok, *cut = NULL;
		for (const char *q = m; q < end; q++)
			if (*q == '-' && isdigit((unsigned char)q[1])) {
				cut = q;
				break;
			}
		if (cut) {
			put(out->model, sizeof(out->model), m, (size_t)(cut - m));
			put(out->firmware, sizeof(out->firmware), cut + 1, (size_t)(end - cut - 1));
		} else {
			put(out->model, sizeof(out->model), m, (size_t)(end - m));
		}
	} else {
		const char *m = p + 6, *slash = memchr(m, '/', tok > 6 ? tok - 6 : 0);
		if (slash) {
			put(out->model, sizeof(out->model), m, (size_t)(slash - m));
			put(out->firmware, sizeof(out->firmware), slash + 1, (size_t)(p + tok - slash - 1));
		} else if (tok > 6) {
			put(out->model, sizeof(out->model), m, tok - 6);
		}
	}
}

/* "snom710-SIP 8.7.5.35 ..." (HTTP, inside a Mozilla UA) or "snomD785/10.1.54.13" (SIP). */
static void snom(const char *p, struct ua_info *out)
{
	const char *m = p + 4;
	size_t n = span_to(m, "-/ ;)");
	put(out->model, sizeof(out->model), m, n);
	if (m[n] == '/') {
		put(out->firmware, sizeof(out->firmware), m + n + 1, span_to(m + n + 1, " ;)"));
	} else if (m[n] == '-') {
		const char *f = m + n + span_to(m + n, " ");
		while (*f == ' ')
			f++;
		if (isdigit((unsigned char)*f))
			put(out->firmware, sizeof(out->firmware), f, span_to(f, " ;)"));
	}
}

/* "Mitel6940 MAC:14-00-E9-1B-45-24 V:6.4.0.140-SIP" */
static void mitel(const char *p, struct ua_info *out)
{
	const char *m = p + 5, *v;
	put(out->model, sizeof(out->model), m, span_to(m, " /"));
	if ((v = strstr(p, " V:")) != NULL) {
		size_t n = span_to(v + 3, " ");
		if (n > 4 && strncasecmp(v + 3 + n - 4, "-SIP", 4) == 0)
			n -= 4;
		put(out->firmware, sizeof(out->firmware), v + 3, n);
	}
}

/* "Gigaset N870 IP PRO/83.V2.11.0+build.a546b91;7C2F80E0D605" */
static void gigaset(const char *p, struct ua_info *out)
{
	const char *m = p + 7, *slash;
	while (*m == ' ')
		m++;
	slash = m + span_to(m, "/;");
	put(out->model, sizeof(out->model), m, (size_t)(slash - m));
	if (*slash == '/')
		put(out->firmware, sizeof(out->firmware), slash + 1, span_to(slash + 1, "; "));
}

/* "Linphonec/5.1.65 (Debian) ...", "Linphone Desktop/5.2.0 (...)", "LinphoneAndroid/4.6 ..." */
static void linphone(const char *p, struct ua_info *out)
{
	size_t n = span_to(p, "/(");
	while (n && p[n - 1] == ' ')
		n--;
	put(out->model, sizeof(out->model), p, n);
	if (p[n] == '/')
		put(out->firmware, sizeof(out->firmware), p + n + 1, span_to(p + n + 1, " ;)"));
}

int ua_parse(const char *in, struct ua_info *out)
{
	char ua[UA_MAX];
	const char *p;
	bool mac_ok = true;

	memset(out, 0, sizeof(*out));
	if (!in)
		return 0;
	/* Bounded copy: nothing below looks past ua's NUL. */
	put(ua, sizeof(ua), in, strnlen(in, sizeof(ua) - 1));
	if ((p = ci_find(ua, "yealink")) == ua) {
		set_vendor(out, "yealink");
		vendor_words(ua, out, "SIP-");
	} else if ((p = ci_find(ua, "polycom")) != NULL) {
		set_vendor(out, "polycom");
		polycom(p, out);
	} else if ((p = ci_find(ua, "grandstream")) != NULL) {
		set_vendor(out, "grandstream");
		grandstream(p, out);
	} else if ((p = ci_find(ua, "cisco")) != NULL && (p[5] == '/' || p[5] == '-')) {
		set_vendor(out, "cisco");
		cisco(p, out);
	} else if ((p = ci_find(ua, "snom")) != NULL && is_alnum(p[4]) &&
		   (p == ua || !isalpha((unsigned char)p[-1]))) {
		set_vendor(out, "snom");
		snom(p, out);
	} else if ((p = ci_find(ua, "fanvil")) == ua) {
		set_vendor(out, "fanvil");
		vendor_words(ua, out, NULL);
	} else if ((p = ci_find(ua, "mitel")) != NULL) {
		set_vendor(out, "mitel");
		mitel(p, out);
	} else if ((p = ci_find(ua, "gigaset")) != NULL) {
		set_vendor(out, "gigaset");
		gigaset(p, out);
	} else if ((p = ci_find(ua, "linphone")) != NULL) {
		set_vendor(out, "linphone");
		linphone(p, out);
		mac_ok = false;         /* softphones carry no MAC; digits in the UA are versions */
	}
	if (mac_ok && !find_mac(ua, out->mac))
		out->mac[0] = '\0';
	return out->vendor[0] != '\0';
}
