/*
 * unit/ua.c: every User-Agent sample from PEERS.md (plus Linphone and the
 * SIP forms of Snom/Grandstream) parses to the right vendor, model,
 * firmware and MAC; unknown and hostile strings give empty fields.
 */
#include <string.h>

#include "tap.h"
#include "core/sipprov.h"

static const struct {
	const char *ua;
	const char *vendor, *model, *firmware, *mac;
} cases[] = {
	{ "Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37", "yealink", "T46G", "28.72.0.1", "0015654aa937" },
	{ "Yealink SIP-T58A 58.80.0.25 001565f429a4", "yealink", "T58A", "58.80.0.25", "001565f429a4" },
	{ "FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 Type/Application", "polycom", "VVX_400", "4.1.4.7430", "" },
	{ "Grandstream Model HW GXP2135 SW 1.0.7.97 DevId 000b828aa872", "grandstream", "GXP2135", "1.0.7.97",
	  "000b828aa872" },
	{ "Cisco/SPA508G-7.4.4 (0002FDFF2103)(CBT141400UK)", "cisco", "SPA508G", "7.4.4", "0002fdff2103" },
	{ "Cisco-CP-8841-3PCC/11.0 (00562b043615)", "cisco", "CP-8841-3PCC", "11.0", "00562b043615" },
	{ "Mozilla/4.0 (compatible; snom710-SIP 8.7.5.35 1.1.5-IFX-05.01.12 000413741767)", "snom", "710", "8.7.5.35",
	  "000413741767" },
	{ "Fanvil X4 2.10.2.6887 0c383e07e16c", "fanvil", "X4", "2.10.2.6887", "0c383e07e16c" },
	{ "Mitel6940 MAC:14-00-E9-1B-45-24 V:6.4.0.140-SIP", "mitel", "6940", "6.4.0.140", "1400e91b4524" },
	{ "Gigaset N870 IP PRO/83.V2.11.0+build.a546b91;7C2F80E0D605", "gigaset", "N870 IP PRO",
	  "83.V2.11.0+build.a546b91", "7c2f80e0d605" },
	{ "Linphonec/5.1.65 (Debian) LinphoneCore/5.1.65", "linphone", "Linphonec", "5.1.65", "" },
	{ "Linphonec/5.1.65", "linphone", "Linphonec", "5.1.65", "" },
	{ "Linphone Desktop/5.2.0 (Debian GNU/Linux 12) LinphoneSDK/5.2.0", "linphone", "Linphone Desktop", "5.2.0", "" },
	{ "snomD785/10.1.54.13", "snom", "D785", "10.1.54.13", "" },
	{ "Grandstream GXP2170 1.0.11.3", "grandstream", "GXP2170", "1.0.11.3", "" },
	{ "Unknown", "", "", "", "" },
	{ "", "", "", "", "" },
	{ "curl/7.88.1", "", "", "", "" },
	/* A MAC-looking run inside a longer hex word is not a MAC. */
	{ "Fanvil X4 2.10 0c383e07e16c99", "fanvil", "X4", "2.10", "" },
	{ "Cisco", "", "", "", "" },
};

int main(void)
{
	struct ua_info u;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = ua_parse(cases[i].ua, &u);
		is_int(rc, cases[i].vendor[0] != '\0', "rc for '%s'", cases[i].ua);
		is_str(u.vendor, cases[i].vendor, "vendor of '%s'", cases[i].ua);
		is_str(u.model, cases[i].model, "model of '%s'", cases[i].ua);
		is_str(u.firmware, cases[i].firmware, "firmware of '%s'", cases[i].ua);
		is_str(u.mac, cases[i].mac, "mac of '%s'", cases[i].ua);
	}
	is_int(ua_parse(NULL, &u), 0, "NULL is unknown");
	is_str(u.vendor, "", "NULL leaves vendor empty");

	/* A long agent: fields stay bounded and the parse does not overrun. */
	char big[4096];
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "Yealink ", 8);
	is_int(ua_parse(big, &u), 1, "overlong Yealink UA still recognised");
	is_int(strlen(u.model), sizeof(u.model) - 1, "model truncated to its field");
	/* Control bytes never reach the fields. */
	ua_parse("Fanvil X\001\n4 1.0", &u);
	ok(!strchr(u.model, '\001') && !strchr(u.model, '\n'), "control bytes replaced in model '%s'", u.model);
	return tap_done();
}
