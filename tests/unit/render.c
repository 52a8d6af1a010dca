/*
 * render.c: every layout in templates/ rendered from a hand-built effective
 * config (two lines, hostile display name and password) for udp/tcp/tls and
 * compared byte for byte with tests/golden/LAYOUT-TRANSPORT.EXT; then every
 * output is parsed back (libxml2 / Jansson / line split) and the special
 * values must come back unchanged.  Also: line selection, common files,
 * refusal of DOCTYPE/ENTITY layouts and of line breaks in key=value values.
 *
 * Regenerate the golden files after an intended layout change with
 *   SP_GOLDEN_UPDATE=1 build/tests/render     (from the repo root)
 * and review the diff.  SIPPROV_TEMPLATES overrides the layout folder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "tap.h"
#include "core/sipprov.h"

#define DISPLAY1 "Ann <\"O'Brien\"> & Co \xe2\x98\x8e"
#define PASS1    "p<>&\"'w"
#define PASS2    "pw&amp;2\\"

static const char *layouts_dir(void)
{
	const char *d = getenv("SIPPROV_TEMPLATES");
	return d && *d ? d : "templates";
}

static void make_effective(struct effective *e, const char *transport)
{
	memset(e, 0, sizeof(*e));
	sp_strlcpy(e->tenant.slug, "acme", sizeof(e->tenant.slug));
	sp_strlcpy(e->device.mac, "001565aabbcc", sizeof(e->device.mac));
	sp_strlcpy(e->device.model, "T46G", sizeof(e->device.model));
	sp_strlcpy(e->device.label, "Front desk", sizeof(e->device.label));
	sp_strlcpy(e->template_name, "main", sizeof(e->template_name));
	e->version = e->current_version = 7;
	sp_strlcpy(e->version_label, "acme-main@v7", sizeof(e->version_label));
	e->settings = json_object();
	json_object_set_new(e->settings, "registrar", json_string("example.test"));
	json_object_set_new(e->settings, "server", json_string("sip.example.test"));
	json_object_set_new(e->settings, "transport", json_string(transport));
	json_object_set_new(e->settings, "port", json_string(strcmp(transport, "tls") ? "5060" : "5061"));
	json_object_set_new(e->settings, "expires", json_string("600"));
	json_object_set_new(e->settings, "srtp", json_string(strcmp(transport, "tls") ? "off" : "required"));
	json_object_set_new(e->settings, "ntp_server", json_string("pool.ntp.org"));
	json_object_set_new(e->settings, "timezone", json_string("Europe/Berlin"));
	json_object_set_new(e->settings, "dns_mode", json_string("a"));
	json_object_set_new(e->settings, "keepalive", json_string(strcmp(transport, "udp") ? "0" : "30"));
	if (strcmp(transport, "tcp") == 0)
		json_object_set_new(e->settings, "outbound_proxy", json_string("proxy.example.test:5070"));
	if (strcmp(transport, "tls") == 0) {
		json_object_set_new(e->settings, "vendor.realm", json_string("example.test"));
		json_object_set_new(e->settings, "backup_server", json_string("sip2.example.test"));
	}
	struct account *a = &e->accounts[0];
	a->line = 1;
	sp_strlcpy(a->display_name, DISPLAY1, sizeof(a->display_name));
	sp_strlcpy(a->extension, "1001", sizeof(a->extension));
	sp_strlcpy(a->username, "alice", sizeof(a->username));
	sp_strlcpy(a->auth_username, "a1xyzauth", sizeof(a->auth_username));
	sp_strlcpy(a->password, PASS1, sizeof(a->password));
	sp_strlcpy(a->token, "0123456789abcdef0123456789abcdef", sizeof(a->token));
	a = &e->accounts[1];
	a->line = 2;
	sp_strlcpy(a->display_name, "Bob", sizeof(a->display_name));
	sp_strlcpy(a->extension, "1002", sizeof(a->extension));
	sp_strlcpy(a->username, "bob", sizeof(a->username));
	sp_strlcpy(a->auth_username, "b2auth", sizeof(a->auth_username));
	sp_strlcpy(a->password, PASS2, sizeof(a->password));
	e->naccounts = 2;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *d = malloc(SP_BODY_MAX + 1);
	*len = fread(d, 1, SP_BODY_MAX, f);
	d[*len] = '\0';
	fclose(f);
	return d;
}

static const char *ext_of(const struct layout *l)
{
	const char *f = layout_format_name(l);
	return !strcmp(f, "xml") ? "xml" : !strcmp(f, "json") ? "json" : "cfg";
}

static void golden(const char *name, const char *data, size_t len)
{
	char path[512];
	snprintf(path, sizeof(path), "tests/golden/%s", name);
	if (getenv("SP_GOLDEN_UPDATE")) {
		FILE *f = fopen(path, "wb");
		ok(f && fwrite(data, 1, len, f) == len && fclose(f) == 0, "golden %s rewritten", name);
		return;
	}
	size_t glen = 0;
	char *g = slurp(path, &glen);
	ok(g && glen == len && memcmp(g, data, len) == 0, "%s byte-identical to golden (%zu bytes)", name, len);
	if (g && (glen != len || memcmp(g, data, len))) {
		size_t i = 0;
		while (i < len && i < glen && g[i] == data[i])
			i++;
		printf("#   first difference at byte %zu\n", i);
	}
	free(g);
}

/* Collect every text and attribute value of an XML tree. */
static void xml_values(xmlNodePtr n, struct buf *vals)
{
	for (; n; n = n->next) {
		if (n->type == XML_ELEMENT_NODE) {
			for (xmlAttrPtr a = n->properties; a; a = a->next) {
				xmlChar *v = xmlNodeListGetString(n->doc, a->children, 1);
				buf_adds(vals, v ? (const char *)v : "");
				buf_add(vals, "\x01", 1);
				xmlFree(v);
			}
			xml_values(n->children, vals);
		} else if (n->type == XML_TEXT_NODE) {
			buf_adds(vals, (const char *)n->content);
			buf_add(vals, "\x01", 1);
		}
	}
}

static bool has_value(const struct buf *vals, const char *want)
{
	char needle[512];
	snprintf(needle, sizeof(needle), "\x01%s\x01", want);
	/* vals starts with a separator too (see caller) */
	return vals->data && strstr(vals->data, needle) != NULL;
}

static void check_xml(const char *layout, const char *tag, const char *data, size_t len)
{
	xmlDocPtr doc = xmlReadMemory(data, (int)len, "out.xml", NULL, XML_PARSE_NONET);
	ok(doc != NULL, "%s: output is well-formed XML", tag);
	if (!doc)
		return;
	struct buf vals;
	buf_init(&vals, SP_BODY_MAX);
	buf_add(&vals, "\x01", 1);
	xml_values(xmlDocGetRootElement(doc), &vals);
	ok(has_value(&vals, PASS1), "%s: password 1 parses back unchanged", tag);
	ok(has_value(&vals, PASS2), "%s: password 2 (with '&amp;' and '\\') parses back unchanged", tag);
	if (!strcmp(layout, "linphone")) {
		ok(has_value(&vals, "\"Ann <\\\"O'Brien\\\"> & Co \xe2\x98\x8e\" <sip:alice@example.test>"),
		   "%s: reg_identity carries the SIP-quoted display name", tag);
		ok(has_value(&vals, "a1xyzauth") && has_value(&vals, "alice"), "%s: username and userid present", tag);
	} else {
		ok(has_value(&vals, DISPLAY1), "%s: display name parses back unchanged", tag);
	}
	xmlNodePtr c = doc->children;
	ok(c && c->type == XML_COMMENT_NODE && strstr((const char *)c->content, "acme-main@v7"),
	   "%s: version marker comment before the root", tag);
	buf_release(&vals);
	xmlFreeDoc(doc);
}

static const char *jget(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void check_json(const char *tag, const char *data)
{
	json_error_t je;
	json_t *doc = json_loads(data, 0, &je);
	ok(doc != NULL, "%s: output is valid JSON", tag);
	json_t *lines = json_object_get(doc, "lines");
	json_t *l1 = json_array_get(lines, 0), *l2 = json_array_get(lines, 1);
	is_str(jget(l1, "display_name"), DISPLAY1, "%s: display name round-trips", tag);
	is_str(jget(l1, "password"), PASS1, "%s: password 1 round-trips", tag);
	is_str(jget(l2, "password"), PASS2, "%s: password 2 round-trips", tag);
	is_str(jget(l1, "username"), "alice", "%s: username", tag);
	is_str(jget(l1, "auth_username"), "a1xyzauth", "%s: auth username", tag);
	is_str(jget(doc, "sipprov_version"), "acme-main@v7", "%s: version field", tag);
	json_decref(doc);
}

static void check_kv(const char *layout, const char *tag, const char *data)
{
	char want[256];
	if (!strcmp(layout, "yealink"))
		snprintf(want, sizeof(want), "\naccount.1.password = %s\n", PASS1);
	else
		snprintf(want, sizeof(want), "\nSIP1 Register Pswd :%s\n", PASS1);
	ok(strstr(data, want) != NULL, "%s: password line carries the raw value", tag);
	ok(strstr(data, "acme-main@v7") != NULL, "%s: names the template version", tag);
	int n = 0;
	for (const char *p = data; *p; p++)
		n += *p == '\r';
	is_int(n, 0, "%s: no CR in output", tag);
}

static void test_layouts(const struct layouts *ls)
{
	static const char *const transports[] = { "udp", "tcp", "tls" };
	char err[SP_ERR_MAX];
	for (size_t i = 0; i < layouts_count(ls); i++) {
		const struct layout *l = layouts_at(ls, i);
		const char *name = layout_name(l);
		for (size_t t = 0; t < 3; t++) {
			struct effective e;
			struct buf out, again;
			char tag[128], file[128];
			make_effective(&e, transports[t]);
			snprintf(tag, sizeof(tag), "%s/%s", name, transports[t]);
			snprintf(file, sizeof(file), "%s-%s.%s", name, transports[t], ext_of(l));
			buf_init(&out, SP_BODY_MAX);
			buf_init(&again, SP_BODY_MAX);
			int rc = render(l, &e, 0, &out, err, sizeof(err));
			ok(rc == 0, "%s: renders (%s)", tag, rc ? err : "ok");
			if (rc == 0) {
				render(l, &e, 0, &again, err, sizeof(err));
				ok(again.len == out.len && !memcmp(again.data, out.data, out.len), "%s: byte-stable", tag);
				golden(file, out.data, out.len);
				if (!strcmp(layout_format_name(l), "xml"))
					check_xml(name, tag, out.data, out.len);
				else if (!strcmp(layout_format_name(l), "json"))
					check_json(tag, out.data);
				else
					check_kv(name, tag, out.data);
				ok(strstr(out.data, "alice") && strstr(out.data, "bob"), "%s: both lines rendered", tag);
			}
			/* Line selection: only line 2. */
			buf_release(&again);
			buf_init(&again, SP_BODY_MAX);
			rc = render(l, &e, 2, &again, err, sizeof(err));
			ok(rc == 0 && strstr(again.data, "bob") && !strstr(again.data, "alice") &&
			   !strstr(again.data, "O'Brien") && !strstr(again.data, "a1xyzauth"),
			   "%s: --line 2 renders only line 2", tag);
			buf_release(&again);
			buf_init(&again, SP_BODY_MAX);
			ok(render(l, &e, 3, &again, err, sizeof(err)) < 0 && strstr(err, "no line 3"),
			   "%s: line 3 refused (%s)", tag, err);
			buf_release(&again);
			buf_release(&out);
			json_decref(e.settings);
		}
	}
}

static void test_linphone_fields(const struct layouts *ls)
{
	const struct layout *l = layouts_find(ls, "linphone");
	struct effective e;
	struct buf out;
	char err[SP_ERR_MAX];
	ok(l != NULL, "linphone layout present");
	if (!l)
		return;
	make_effective(&e, "tls");
	buf_init(&out, SP_BODY_MAX);
	ok(render(l, &e, 0, &out, err, sizeof(err)) == 0, "linphone renders");
	xmlDocPtr doc = xmlReadMemory(out.data, (int)out.len, "l.xml", NULL, XML_PARSE_NONET);
	int entries = 0, overwrite = 0;
	char user0[64] = "", userid0[64] = "", proxy0[128] = "";
	for (xmlNodePtr s = doc ? xmlDocGetRootElement(doc)->children : NULL; s; s = s->next) {
		if (s->type != XML_ELEMENT_NODE)
			continue;
		xmlChar *sn = xmlGetProp(s, BAD_CAST "name");
		for (xmlNodePtr en = s->children; en; en = en->next) {
			if (en->type != XML_ELEMENT_NODE)
				continue;
			xmlChar *n = xmlGetProp(en, BAD_CAST "name"), *ow = xmlGetProp(en, BAD_CAST "overwrite");
			xmlChar *v = xmlNodeGetContent(en);
			entries++;
			overwrite += ow && !strcmp((char *)ow, "true");
			if (!strcmp((char *)sn, "auth_info_0") && !strcmp((char *)n, "username"))
				sp_strlcpy(user0, (char *)v, sizeof(user0));
			if (!strcmp((char *)sn, "auth_info_0") && !strcmp((char *)n, "userid"))
				sp_strlcpy(userid0, (char *)v, sizeof(userid0));
			if (!strcmp((char *)sn, "proxy_0") && !strcmp((char *)n, "reg_proxy"))
				sp_strlcpy(proxy0, (char *)v, sizeof(proxy0));
			xmlFree(n);
			xmlFree(ow);
			xmlFree(v);
		}
		xmlFree(sn);
	}
	ok(entries > 10 && entries == overwrite, "linphone: all %d entries have overwrite=\"true\"", entries);
	is_str(user0, "alice", "linphone: auth_info_0 username is the SIP username");
	is_str(userid0, "a1xyzauth", "linphone: auth_info_0 userid is the auth username");
	is_str(proxy0, "<sip:sip.example.test:5061;transport=tls>", "linphone: reg_proxy server:port;transport");
	xmlFreeDoc(doc);
	/* A token URL serves one account: it becomes proxy_0 / auth_info_0. */
	buf_release(&out);
	buf_init(&out, SP_BODY_MAX);
	render(l, &e, 2, &out, err, sizeof(err));
	ok(strstr(out.data, "name=\"proxy_0\"") && strstr(out.data, "name=\"auth_info_0\"") &&
	   !strstr(out.data, "proxy_1"), "linphone: --line 2 becomes proxy_0/auth_info_0");
	buf_release(&out);
	json_decref(e.settings);
}

/* l rendered for make_effective's device with the one setting key = value:
 * whether the file holds want.  err: why not ("" when it does). */
static bool renders_with(const struct layout *l, const char *key, const char *value, const char *want,
			 char *err, size_t errlen)
{
	struct effective e;
	struct buf b;
	make_effective(&e, "udp");
	json_object_set_new(e.settings, key, json_string(value));
	buf_init(&b, SP_BODY_MAX);
	bool found = false;
	if (render(l, &e, 0, &b, err, errlen) == 0) {
		found = b.data && strstr(b.data, want);
		sp_strlcpy(err, found ? "" : "not in the file", errlen);
	}
	buf_release(&b);
	json_decref(e.settings);
	return found;
}

static void test_refusals(const struct layouts *ls)
{
	char err[SP_ERR_MAX];
	static const char head[] = "name: t\nformat: xml\ncontent-type: application/xml\n"
				   "notify-event: check-sync\nroute: {mac}.t\n---\n";
	char doc[1024];
	struct layout *l;

	snprintf(doc, sizeof(doc), "%s<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY x \"boom\">]>\n<r>&x;</r>\n", head);
	l = layout_parse_mem("t.xml", doc, strlen(doc), err, sizeof(err));
	ok(!l && strstr(err, "t.xml:8"), "DOCTYPE with ENTITY refused, naming the line (%s)", err);
	layout_free(l);
	snprintf(doc, sizeof(doc), "%s<!DOCTYPE r SYSTEM \"file:///etc/passwd\">\n<r>x</r>\n", head);
	l = layout_parse_mem("t.xml", doc, strlen(doc), err, sizeof(err));
	ok(!l && strstr(err, "DOCTYPE"), "external DOCTYPE refused (%s)", err);
	layout_free(l);
	snprintf(doc, sizeof(doc), "%s<r>&ext;</r>\n", head);
	l = layout_parse_mem("t.xml", doc, strlen(doc), err, sizeof(err));
	ok(!l && strstr(err, "t.xml:7"), "undeclared entity refused with its line (%s)", err);
	layout_free(l);
	snprintf(doc, sizeof(doc), "%s<r>\n<a>{{nosuch}}</a></r>\n", head);
	l = layout_parse_mem("t.xml", doc, strlen(doc), err, sizeof(err));
	ok(!l && strstr(err, "t.xml:8") && strstr(err, "nosuch"), "unknown variable refused with its line (%s)", err);
	layout_free(l);
	snprintf(doc, sizeof(doc), "%s<r><a>{{line.password}}</a></r>\n", head);
	l = layout_parse_mem("t.xml", doc, strlen(doc), err, sizeof(err));
	ok(!l && strstr(err, "outside a line block"), "line.* outside a line block refused (%s)", err);
	snprintf(doc, sizeof(doc), "%s<r><a>{{mac|nomap}}</a></r>\n", head);
	l = layout_parse_mem("t.xml", doc, strlen(doc), err, sizeof(err));
	ok(!l && strstr(err, "nomap"), "unknown filter refused (%s)", err);
	snprintf(doc, sizeof(doc), "%s<r><a sp-each=\"line\"><b sp-each=\"line\"/></a></r>\n", head);
	l = layout_parse_mem("t.xml", doc, strlen(doc), err, sizeof(err));
	ok(!l && strstr(err, "nested"), "nested line blocks refused (%s)", err);
	snprintf(doc, sizeof(doc), "name: t\nformat: kv\ncontent-type: text/plain\nnotify-event: x\n"
		 "route: {mac}.t\n---\n# {{version}}\n{{#each line}}\na={{line.n}}\n");
	l = layout_parse_mem("t.cfg", doc, strlen(doc), err, sizeof(err));
	ok(!l && strstr(err, "t.cfg:8") && strstr(err, "never closed"), "unclosed kv block refused (%s)", err);
	snprintf(doc, sizeof(doc), "name: t\nformat: kv\ncontent-type: text/plain\nnotify-event: x\n"
		 "route: {mac}.t\n---\na=1\n");
	l = layout_parse_mem("t.cfg", doc, strlen(doc), err, sizeof(err));
	ok(!l && strstr(err, "version"), "kv layout that never names the version refused (%s)", err);
	snprintf(doc, sizeof(doc), "name: t\nformat: json\ncontent-type: application/json\nnotify-event: x\n"
		 "route: {mac}.t\n---\n{\"v\": \"{{version}}\",\n \"a\": }\n");
	l = layout_parse_mem("t.json", doc, strlen(doc), err, sizeof(err));
	ok(!l && strstr(err, "t.json:8"), "bad JSON refused with its line (%s)", err);
	snprintf(doc, sizeof(doc), "name: t\nformat: xml\ncontent-type: a\nnotify-event: x\nroute: ../{mac}\n---\n<r/>\n");
	l = layout_parse_mem("t.xml", doc, strlen(doc), err, sizeof(err));
	ok(!l && strstr(err, "t.xml:5"), "route with '..' refused (%s)", err);

	/* An element name that merely starts with the letter N (Cisco's
	 * NAT_Keep_Alive_Enable_N_) is fine in a line block; the token N first is not. */
	snprintf(doc, sizeof(doc), "%s<r><sp-block sp-each=\"line\"><NAT_x_N_>1</NAT_x_N_></sp-block></r>\n", head);
	l = layout_parse_mem("t.xml", doc, strlen(doc), err, sizeof(err));
	ok(l != NULL, "element NAT_x_N_ accepted in a line block (%s)", l ? "ok" : err);
	layout_free(l);
	snprintf(doc, sizeof(doc), "%s<r><sp-block sp-each=\"line\"><N_x>1</N_x></sp-block></r>\n", head);
	l = layout_parse_mem("t.xml", doc, strlen(doc), err, sizeof(err));
	ok(!l && strstr(err, "N_x"), "element N_x (would start with a digit) refused (%s)", err);
	layout_free(l);
	/* host / port split host[:port] and [v6]:port. */
	{
		static const struct { const char *in, *host, *port; } hp[] = {
			{ "proxy.example.test:5070", "proxy.example.test", "5070" },
			{ "proxy.example.test", "proxy.example.test", "" },
			{ "[2001:db8::1]:5080", "[2001:db8::1]", "5080" },
			{ "2001:db8::1", "2001:db8::1", "" },
		};
		snprintf(doc, sizeof(doc), "name: t\nformat: kv\ncontent-type: text/plain\nnotify-event: x\n"
			 "route: {mac}.t\n---\n# {{version}}\nh={{outbound_proxy|host}}\np={{outbound_proxy|port|default:none}}\n");
		l = layout_parse_mem("t.cfg", doc, strlen(doc), err, sizeof(err));
		ok(l != NULL, "host/port filters compile (%s)", l ? "ok" : err);
		for (size_t i = 0; l && i < sizeof(hp) / sizeof(hp[0]); i++) {
			char want[256];
			snprintf(want, sizeof(want), "\nh=%s\np=%s\n", hp[i].host, *hp[i].port ? hp[i].port : "none");
			ok(renders_with(l, "outbound_proxy", hp[i].in, want, err, sizeof(err)),
			   "'%s' splits into host '%s' port '%s' (%s)", hp[i].in, hp[i].host, hp[i].port, err);
		}
		layout_free(l);
	}

	/* Seconds in the shapes phones take (hours, hm, hhmm, hms, hhmmss),
	 * as the printf formats they replaced wrote them. */
	{
		static const struct { const char *in, *want; } tv[] = {
			{ "3600", "1 +1 +01:00 1:0:0 01:00:00" },
			{ "19800", "5 +5:30 +05:30 5:30:0 05:30:00" },
			{ "-12600", "-3 -3:30 -03:30 -3:30:0 -03:30:00" },
			{ "0", "0 +0 +00:00 0:0:0 00:00:00" },
			{ "-45", "-0 -0 -00:00 -0:0:45 -00:00:45" },
			{ "604800", "168 +168 +168:00 168:0:0 168:00:00" },
			{ "", "    " },
		};
		snprintf(doc, sizeof(doc), "name: t\nformat: kv\ncontent-type: text/plain\nnotify-event: x\n"
			 "route: {mac}.t\n---\n# {{version}}\nt={{x.t|hours}} {{x.t|hm}} {{x.t|hhmm}} {{x.t|hms}} "
			 "{{x.t|hhmmss}}\n");
		l = layout_parse_mem("t.cfg", doc, strlen(doc), err, sizeof(err));
		ok(l != NULL, "time filters compile (%s)", l ? "ok" : err);
		for (size_t i = 0; l && i < sizeof(tv) / sizeof(tv[0]); i++) {
			char want[128];
			snprintf(want, sizeof(want), "\nt=%s\n", tv[i].want);
			ok(renders_with(l, "x.t", tv[i].in, want, err, sizeof(err)), "'%s' seconds: %s (%s)",
			   tv[i].in, tv[i].want, err);
		}
		layout_free(l);
	}

	/* key=value: a value with a line break can never reach the file. */
	const struct layout *y = layouts_find(ls, "yealink");
	struct effective e;
	struct buf out;
	make_effective(&e, "udp");
	sp_strlcpy(e.accounts[1].display_name, "Bob\naccount.9.enable = 1", sizeof(e.accounts[1].display_name));
	buf_init(&out, SP_BODY_MAX);
	ok(y && render(y, &e, 0, &out, err, sizeof(err)) < 0 && strstr(err, "line break") && out.len == 0,
	   "kv value with \\n refused, nothing written (%s)", err);
	buf_release(&out);
	sp_strlcpy(e.accounts[1].display_name, "Bob", sizeof(e.accounts[1].display_name));
	json_object_set_new(e.settings, "ntp_server", json_string("pool\r.ntp.org"));
	buf_init(&out, SP_BODY_MAX);
	ok(render(layouts_find(ls, "grandstream"), &e, 0, &out, err, sizeof(err)) < 0 && strstr(err, "ntp_server"),
	   "CR in a setting refused in XML too, naming it (%s)", err);
	buf_release(&out);
	json_object_set_new(e.settings, "ntp_server", json_string("pool.ntp.org"));
	buf_init(&out, 100);
	ok(render(layouts_find(ls, "json"), &e, 0, &out, err, sizeof(err)) < 0 && strstr(err, "too large"),
	   "output over the cap refused (%s)", err);
	buf_release(&out);
	json_decref(e.settings);
}

static void test_common(const struct layouts *ls)
{
	char err[SP_ERR_MAX];
	for (size_t i = 0; i < layouts_count(ls); i++) {
		const struct layout *l = layouts_at(ls, i);
		struct buf out;
		buf_init(&out, SP_BODY_MAX);
		int rc = render(l, NULL, 0, &out, err, sizeof(err));
		bool declares = false;          /* the unnamed "--- common" body */
		for (size_t r = 0; r < layout_route_count(l); r++) {
			int k;
			const char *pat = layout_route_at(l, r, &k);
			struct route_match mm;
			memset(&mm, 0, sizeof(mm));
			mm.kind = ROUTE_COMMON;
			sp_strlcpy(mm.pattern, pat, sizeof(mm.pattern));
			declares |= k == ROUTE_COMMON && layout_route_body(l, &mm) == 0;
		}
		struct effective none;
		struct buf out2;
		memset(&none, 0, sizeof(none));
		buf_init(&out2, SP_BODY_MAX);
		int rc2 = render(l, &none, 0, &out2, err, sizeof(err));
		ok(rc2 == rc && out2.len == out.len && (!out.len || !memcmp(out.data, out2.data, out.len)),
		   "%s: an effective without a MAC renders the common file too", layout_name(l));
		buf_release(&out2);
		if (declares) {
			ok(rc == 0 && out.len > 0 && !strstr(out.data, "{{"), "%s: common file renders", layout_name(l));
			char file[64];
			snprintf(file, sizeof(file), "%s-common.%s", layout_name(l), ext_of(l));
			golden(file, out.data ? out.data : "", out.len);
		} else {
			ok(rc < 0, "%s: no common file (%s)", layout_name(l), err);
		}
		buf_release(&out);
	}
}

/* Zero-touch common names with their own body: rendered with public_url
 * set (golden), and without it: 1 (the daemon's 404) where the body names
 * the base URL, the same bytes where it does not. */
static void test_common_named(const struct layouts *ls)
{
	static const struct { const char *path, *layout, *golden; bool needs_url; } t[] = {
		{ "/y000000000000.boot", "yealink", "yealink-common-boot.cfg", false },
		{ "/spa504g.cfg", "cisco", "cisco-common-model.xml", true },
		{ "/snomD785.htm", "snom", "snom-common-model.xml", false },
		{ "/F0V00X200000.cfg", "fanvil", "fanvil-common-model.cfg", true },
		{ "/f0C00580000.cfg", "fanvil", "fanvil-common-model.cfg", true },
		{ "/f0X4hw1.100.cfg", "fanvil", "fanvil-common-model.cfg", true },
		{ "/000000000000.cfg", "polycom", "polycom-common.xml", false },
		{ "/y000000000028.cfg", "yealink", "yealink-common.cfg", false },
	};
	char err[SP_ERR_MAX];
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct route_match m;
		struct buf out, bare;
		const struct layout *l = layouts_find(ls, t[i].layout);
		buf_init(&out, SP_BODY_MAX);
		buf_init(&bare, SP_BODY_MAX);
		ok(route_match(ls, t[i].path, &m) == 1 && m.kind == ROUTE_COMMON && m.layout == l, "%s: common of %s",
		   t[i].path, t[i].layout);
		int rc = render_common_route(l, &m, "http://prov.example.test:8080", &out, err, sizeof(err));
		ok(rc == 0 && out.len > 0 && !strstr(out.data, "{{"), "%s renders with public_url", t[i].path);
		golden(t[i].golden, out.data ? out.data : "", out.len);
		ok(!t[i].needs_url || strstr(out.data ? out.data : "", "http://prov.example.test:8080"),
		   "%s names public_url where it needs it", t[i].path);
		int rc2 = render_common_route(l, &m, "", &bare, err, sizeof(err));
		if (t[i].needs_url)
			ok(rc2 == 1 && bare.len == 0, "%s: without public_url 1, nothing written", t[i].path);
		else
			ok(rc2 == 0 && bare.len == out.len && !memcmp(bare.data, out.data, out.len),
			   "%s: the same without public_url", t[i].path);
		buf_release(&out);
		buf_release(&bare);
	}
}

/* Polycom's {mac}.cfg is the phone's own master file (W: CONFIG_FILES
 * in 000000000000.cfg; the phone asks {mac}.cfg first): an APPLICATION
 * element naming {mac}-phone.cfg, no settings, no secret. */
static void test_polycom_master(const struct layouts *ls)
{
	struct effective e;
	struct route_match m;
	struct buf out;
	char err[SP_ERR_MAX];
	const struct layout *l = layouts_find(ls, "polycom");
	make_effective(&e, "udp");
	buf_init(&out, SP_BODY_MAX);
	ok(route_match(ls, "/001565aabbcc.cfg", &m) == 1 && layout_answers(l, &m) && layout_route_body(l, &m) == 1,
	   "polycom {mac}.cfg: the master body");
	ok(render_route(l, &m, &e, 0, &out, err, sizeof(err)) == 0, "polycom {mac}.cfg renders (%s)", err);
	golden("polycom-master.xml", out.data ? out.data : "", out.len);
	ok(out.data && strstr(out.data, "CONFIG_FILES=\"001565aabbcc-phone.cfg\"") && !strstr(out.data, PASS1) &&
	   !strstr(out.data, "reg.1"), "polycom {mac}.cfg names {mac}-phone.cfg and carries no settings");
	buf_release(&out);
	json_decref(e.settings);
}

/* Issue 16: phonebook and firmware URLs on public_url and the phone web
 * passwords.  Every layout renders a device whose template picks a firmware
 * image (fw_path as effective_load resolves it), with public_url and both
 * web passwords set (hostile characters): golden LAYOUT-features.EXT where
 * the vendor table has keys, the values parsed back; the other layouts write
 * the same bytes as without them and warn, never showing a password.
 * Without public_url and passwords nothing of it is written (the plain
 * goldens above). */
#define FW_SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ADMINPW "Adm<&\"'>:1"
#define USERPW "usr&amp;2"
static void set_features(struct effective *e, const char *public_url)
{
	json_object_set_new(e->settings, "firmware.t46g", json_string("1.2"));
	snprintf(e->fw_path, sizeof(e->fw_path), "/fw/%s/t46g-1.2.rom", FW_SHA);
	effective_set_public_url(e, public_url);
	sp_strlcpy(e->admin_password, ADMINPW, sizeof(e->admin_password));
	sp_strlcpy(e->user_password, USERPW, sizeof(e->user_password));
	e->admin_password_set = e->user_password_set = true;
	static const char *const keys[][4] = {
		{ "line", "", "Main", "1" }, { "blf", "1002", "Bob", "2" }, { "speed_dial", "+4930123", "Pizza & Co", "" },
		{ "park", "700", "", "" }, { "intercom", "1003", "Door", "" }, { "dtmf", "*3", "Rec", "" },
		{ "url", "http://x.example.test/a?b=1&c=2", "Web", "" }, { "none", "1099", "hidden", "" },
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		static const char *const f[] = { "type", "value", "label", "line" };
		for (size_t j = 0; j < 4; j++) {
			char k[32];
			snprintf(k, sizeof(k), "key.%zu.%s", i + 1, f[j]);
			if (*keys[i][j])
				json_object_set_new(e->settings, k, json_string(keys[i][j]));
		}
	}
	/* Expansion-module keys: module 1 key 1 BLF, key 2 park; module 2 key 40 speed dial. */
	static const char *const ext[][2] = {
		{ "ext.1.1.type", "blf" }, { "ext.1.1.value", "1004" }, { "ext.1.1.label", "Eve" },
		{ "ext.1.2.type", "park" }, { "ext.1.2.value", "701" },
		{ "ext.2.40.type", "speed_dial" }, { "ext.2.40.value", "5551" }, { "ext.2.40.line", "2" },
	};
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		json_object_set_new(e->settings, ext[i][0], json_string(ext[i][1]));
}

static void test_features(const struct layouts *ls)
{
	/* keys_unsup: the key types the layout declares it cannot write;
	 * nokeys: it writes none ("unsupported key"). */
	static const struct { const char *layout, *pb, *fw; bool pw; const char *keys_unsup; bool nokeys; } t[] = {
		{ "yealink", "remote_phonebook.data.1.url = https://prov.example.test/base/pb/001565aabbcc.xml\n",
		  "static.firmware.url = https://prov.example.test/base/fw/" FW_SHA "/t46g-1.2.rom\n", true, "", false },
		{ "cisco", "<XML_Directory_Service_URL ua=\"na\">https://prov.example.test/base/pb/001565aabbcc.xml<",
		  "<Upgrade_Rule ua=\"na\">https://prov.example.test/base/fw/" FW_SHA "/t46g-1.2.rom<", true,
		  "park intercom dtmf url", false },
		{ "grandstream", "<P331>prov.example.test/base/pb/001565aabbcc</P331>",
		  "<P192>prov.example.test/base/fw/" FW_SHA "</P192>", true, "line url", false },
		{ "polycom", NULL, NULL, true, "line speed_dial intercom dtmf url", false },
		{ "snom", NULL, "<firmware_status perm=\"\">https://prov.example.test/base/001565AABBCC-firmware.xml<", true,
		  "", false },
		{ "fanvil", NULL, NULL, false, "line blf speed_dial park intercom dtmf url", false },
		{ "fanvil-xml", "<Addr>https://prov.example.test/base/pb/001565aabbcc.xml</Addr>",
		  "<Auto_Image_URL>https://prov.example.test/base/fw/" FW_SHA "/t46g-1.2.rom</Auto_Image_URL>", true,
		  "dtmf url", false },
		{ "linphone", NULL, NULL, false, "", true }, { "json", NULL, NULL, false, "", true },
	};
	char err[SP_ERR_MAX];
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const struct layout *l = layouts_find(ls, t[i].layout);
		struct effective e;
		struct buf out, warn, bare;
		char file[64];
		make_effective(&e, "udp");
		set_features(&e, "https://prov.example.test/base/");
		buf_init(&out, SP_BODY_MAX);
		buf_init(&warn, 4096);
		buf_init(&bare, SP_BODY_MAX);
		int rc = render(l, &e, 0, &out, err, sizeof(err));
		ok(rc == 0, "%s with features renders (%s)", t[i].layout, rc ? err : "ok");
		snprintf(file, sizeof(file), "%s-features.%s", t[i].layout, ext_of(l));
		if (rc == 0 && (t[i].pb || t[i].fw || t[i].pw))
			golden(file, out.data, out.len);
		const char *o = out.data ? out.data : "";
		json_t *ds = effective_device_settings(&e);
		layout_warnings(l, ds, &warn);
		json_decref(ds);
		const char *w = warn.data ? warn.data : "";
		if (t[i].pb)
			ok(strstr(o, t[i].pb) != NULL, "%s: phonebook URL on public_url", t[i].layout);
		else
			ok(!strstr(o, "/pb/"), "%s: no phonebook URL written", t[i].layout);
		if (t[i].fw) {
			ok(strstr(o, t[i].fw) != NULL, "%s: firmware URL on public_url", t[i].layout);
			ok(!strstr(w, "firmware"), "%s: no firmware warning", t[i].layout);
		} else {
			ok(!strstr(o, "/fw/"), "%s: no firmware URL written", t[i].layout);
			ok(!strcmp(t[i].layout, "json") || strstr(w, "cannot express firmware.t46g=1.2: "),
			   "%s: firmware.t46g warned about", t[i].layout);
		}
		if (t[i].pw && !strcmp(layout_format_name(l), "xml")) {
			xmlDocPtr doc = xmlReadMemory(o, (int)out.len, "f.xml", NULL, XML_PARSE_NONET);
			struct buf vals;
			buf_init(&vals, SP_BODY_MAX);
			buf_add(&vals, "\x01", 1);
			if (doc)
				xml_values(xmlDocGetRootElement(doc), &vals);
			ok(doc && has_value(&vals, ADMINPW) && has_value(&vals, USERPW),
			   "%s: both web passwords parse back unchanged", t[i].layout);
			buf_release(&vals);
			xmlFreeDoc(doc);
		} else if (t[i].pw) {
			ok(strstr(o, "\nstatic.security.user_password = admin:" ADMINPW "\n") &&
			   strstr(o, "\nstatic.security.user_password = user:" USERPW "\n"),
			   "%s: both web passwords as user:password lines", t[i].layout);
		} else {
			ok(strstr(w, "cannot express admin_password=(set)") && strstr(w, "cannot express user_password=(set)"),
			   "%s: both web passwords warned about", t[i].layout);
		}
		ok(!strstr(w, ADMINPW) && !strstr(w, USERPW), "%s: no warning shows a password", t[i].layout);
		if (!strcmp(t[i].layout, "yealink")) {
			ok(strstr(o, "\nlinekey.1.type = 15\nlinekey.1.line = 1\nlinekey.1.value = \nlinekey.1.label = Main\n") &&
			   strstr(o, "\nlinekey.2.type = 16\nlinekey.2.line = 2\nlinekey.2.value = 1002\nlinekey.2.label = Bob\n") &&
			   strstr(o, "\nlinekey.3.type = 13\nlinekey.3.line = 1\nlinekey.3.value = +4930123\n") &&
			   strstr(o, "\nlinekey.4.type = 10\n") && strstr(o, "\nlinekey.5.type = 14\n") &&
			   strstr(o, "\nlinekey.6.type = 11\n") &&
			   strstr(o, "\nlinekey.7.value = http://x.example.test/a?b=1&c=2\n") && !strstr(o, "linekey.8"),
			   "yealink: line keys with W/F type codes, account line default 1, type none not written");
			ok(!strstr(w, "key."), "yealink: no line key warning");
		} else if (t[i].nokeys) {
			ok(strstr(w, "cannot express key.") != NULL, "%s: line keys warned about", t[i].layout);
			ok(!strstr(o, "+4930123"), "%s: no line key written", t[i].layout);
		} else {
			/* Keys 1-7 are one of each type: each type the layout cannot
			 * write is warned about by its key, and only those. */
			static const char *const types[] = { "line", "blf", "speed_dial", "park", "intercom", "dtmf", "url" };
			for (size_t k = 0; k < 7; k++) {
				char want[64];
				snprintf(want, sizeof(want), "cannot express key.%zu.type=%s: ", k + 1, types[k]);
				bool unsup = strstr(t[i].keys_unsup, types[k]) != NULL;
				ok((strstr(w, want) != NULL) == unsup, "%s: key type %s %s", t[i].layout, types[k],
				   unsup ? "warned about" : "not warned about");
			}
			ok(!strstr(w, "key.8."), "%s: type none is neither written nor warned", t[i].layout);
			ok((strstr(o, "+4930123") != NULL) == !strstr(t[i].keys_unsup, "speed_dial"),
			   "%s: the speed dial written exactly when supported", t[i].layout);
		}
		if (!strcmp(t[i].layout, "yealink")) {
			ok(strstr(o, "\nexpansion_module.1.key.1.type = 16\nexpansion_module.1.key.1.line = 1\n"
				  "expansion_module.1.key.1.value = 1004\nexpansion_module.1.key.1.label = Eve\n") &&
			   strstr(o, "\nexpansion_module.1.key.2.type = 10\n") &&
			   strstr(o, "\nexpansion_module.2.key.40.type = 13\nexpansion_module.2.key.40.line = 2\n"
				  "expansion_module.2.key.40.value = 5551\n") && !strstr(w, "ext."),
			   "yealink: expansion-module keys with the line key codes, not warned");
		} else if (!strcmp(t[i].layout, "cisco")) {
			ok(strstr(o, "<Unit_1_Key_1 ua=\"na\">fnc=sd+blf+cp;sub=1004@$PROXY;nme=Eve</Unit_1_Key_1>") &&
			   strstr(o, "<Unit_2_Key_40 ua=\"na\">fnc=sd;ext=5551@$PROXY;nme=5551</Unit_2_Key_40>") &&
			   !strstr(o, "Unit_1_Key_2") && strstr(w, "cannot express ext.1.2.type=park: "),
			   "cisco: module BLF and speed dial as Unit_M_Key_N, a module park key warned, not written");
		} else {
			ok(strstr(w, "cannot express ext.") && !strstr(o, "1004") && !strstr(o, "5551"),
			   "%s: expansion-module keys warned about, not written", t[i].layout);
		}
		/* The same device without public_url, image and passwords. */
		struct effective plain;
		make_effective(&plain, "udp");
		ok(render(l, &plain, 0, &bare, err, sizeof(err)) == 0 && bare.data && !strstr(bare.data, "/fw/") &&
		   !strstr(bare.data, "/pb/") && !strstr(bare.data, "Upgrade_Rule") &&
		   !strstr(bare.data, "remote_phonebook") && !strstr(bare.data, "<P331>") &&
		   !strstr(bare.data, "security.user_password") && !strstr(bare.data, "localAdminPassword"),
		   "%s without them: no URL or password key", t[i].layout);
		if (!t[i].pb && !t[i].fw && !t[i].pw)
			ok(bare.len == out.len && !memcmp(bare.data, o, out.len),
			   "%s: the same bytes with and without them", t[i].layout);
		buf_release(&bare);
		buf_release(&out);
		buf_release(&warn);
		json_decref(plain.settings);
		json_decref(e.settings);
	}
	/* Snom's firmware_status file: the image URL, or no element without one. */
	{
		const struct layout *sn = layouts_find(ls, "snom");
		struct route_match m;
		struct effective fe;
		struct buf fo;
		make_effective(&fe, "udp");
		set_features(&fe, "https://prov.example.test/base");
		buf_init(&fo, SP_BODY_MAX);
		ok(route_match(ls, "/001565AABBCC-firmware.xml", &m) == 1 && layout_answers(sn, &m) &&
		   render_route(sn, &m, &fe, 0, &fo, err, sizeof(err)) == 0, "snom {MAC}-firmware.xml renders");
		golden("snom-firmware.xml", fo.data ? fo.data : "", fo.len);
		ok(fo.data && strstr(fo.data, "<firmware perm=\"\">https://prov.example.test/base/fw/" FW_SHA
				     "/t46g-1.2.rom</firmware>") && !strstr(fo.data, ADMINPW),
		   "snom firmware file: the image URL and nothing else of the device");
		buf_release(&fo);
		effective_set_public_url(&fe, NULL);
		buf_init(&fo, SP_BODY_MAX);
		ok(render_route(sn, &m, &fe, 0, &fo, err, sizeof(err)) == 0 && fo.data && !strstr(fo.data, "<firmware "),
		   "snom firmware file without public_url: no firmware element");
		buf_release(&fo);
		json_decref(fe.settings);
	}
	/* Grandstream's "via" codes follow the scheme. */
	const struct layout *gs = layouts_find(ls, "grandstream");
	struct effective e;
	struct buf out;
	make_effective(&e, "udp");
	snprintf(e.fw_path, sizeof(e.fw_path), "/fw/%s/gxp.bin", FW_SHA);
	effective_set_public_url(&e, "http://10.0.0.5:8080");
	buf_init(&out, SP_BODY_MAX);
	ok(render(gs, &e, 0, &out, err, sizeof(err)) == 0 && strstr(out.data, "<P330>1</P330>") &&
	   strstr(out.data, "<P331>10.0.0.5:8080/pb/001565aabbcc</P331>") && strstr(out.data, "<P6767>1</P6767>"),
	   "grandstream over http: P330 1, P6767 1, host:port/path");
	buf_release(&out);
	effective_set_public_url(&e, "https://p.example.test");
	buf_init(&out, SP_BODY_MAX);
	ok(render(gs, &e, 0, &out, err, sizeof(err)) == 0 && strstr(out.data, "<P330>3</P330>") &&
	   strstr(out.data, "<P6767>2</P6767>"), "grandstream over https: P330 3, P6767 2");
	buf_release(&out);
	json_decref(e.settings);
}

/* Issue 12: every golden file opens with a comment naming the references
 * its keys were checked against (in the first four lines: after Yealink's
 * mandatory first line, Fanvil's header, the XML declaration and sipprov's
 * version marker).  JSON has no comments: templates/json.md says so. */
static void test_golden_refs(void)
{
	DIR *d = opendir("tests/golden");
	struct dirent *de;
	int n = 0;
	ok(d != NULL, "tests/golden opens");
	while (d && (de = readdir(d))) {
		const char *dot = strrchr(de->d_name, '.');
		if (de->d_name[0] == '.' || !dot || !strcmp(dot, ".json"))
			continue;
		char path[512], *g;
		size_t len = 0, i = 0;
		int line = 1;
		snprintf(path, sizeof(path), "tests/golden/%s", de->d_name);
		g = slurp(path, &len);
		while (g && i < len && line <= 4 && strncmp(g + i, "keys checked against: ", 22))
			line += g[i++] == '\n';
		ok(g && i < len && line <= 4, "%s names its references in its first four lines", de->d_name);
		free(g);
		n++;
	}
	if (d)
		closedir(d);
	ok(n >= 25, "%d golden files checked", n);
}

/* JSON layouts write their text directly: it must be exactly what Jansson's
 * json_dumps(JSON_INDENT(2) | JSON_PRESERVE_ORDER) gives for the same
 * document (what they printed before), so re-dumping the parsed output
 * gives the same bytes.  The skeleton covers what the writer has to get
 * right: every C0 control, '"' and '\\' in the skeleton's text and keys
 * (values cannot carry controls: value_check), UTF-8 and '/' as they are,
 * nesting deeper than one run of indent spaces, containers left empty by
 * a condition or empty in the skeleton, literals (integers, reals, true,
 * false, null), line blocks. */
static void test_json_text(void)
{
	char body[4096], err[SP_ERR_MAX] = "";
	int k = snprintf(body, sizeof(body), "name: t\nformat: json\ncontent-type: application/json\n"
			 "notify-event: x\nroute: {mac}.t\n---\n{\"v\": \"{{version}}\", \"k\\\"e\\\\y\\t\": \"");
	for (int c = 1; c < 0x20; c++)
		k += snprintf(body + k, sizeof(body) - (size_t)k, "\\u%04x", c);
	k += snprintf(body + k, sizeof(body) - (size_t)k, "\\\"\\\\/\\u007f\xc3\xa9{{label}}\", "
		      "\"n\": [1, -2, 1.5, 1e300, true, false, null, [], {}], \"gone\": "
		      "{\"sp-if\": \"backup_server\", \"x\": \"1\"}, \"empty\": {\"in\": {\"sp-if\": \"backup_server\"}}, "
		      "\"lines\": [{\"sp-each\": \"line\", \"name\": \"{{line.display_name}}\"}], \"deep\": ");
	for (int d = 0; d < 20; d++)
		k += snprintf(body + k, sizeof(body) - (size_t)k, "{\"d\": ");
	k += snprintf(body + k, sizeof(body) - (size_t)k, "\"{{mac}}\"");
	for (int d = 0; d < 20; d++)
		k += snprintf(body + k, sizeof(body) - (size_t)k, "}");
	snprintf(body + k, sizeof(body) - (size_t)k, "}\n");
	struct layout *l = layout_parse_mem("t.json", body, strlen(body), err, sizeof(err));
	ok(l != NULL, "JSON text layout parses (%s)", l ? "ok" : err);
	if (!l)
		return;
	struct effective e;
	make_effective(&e, "udp");
	sp_strlcpy(e.device.label, "tab\there \"q\" \\ \xe2\x82\xac\xf0\x9f\x93\x9e", sizeof(e.device.label));
	struct buf out;
	buf_init(&out, SP_BODY_MAX);
	int rc = render(l, &e, 0, &out, err, sizeof(err));
	ok(rc == 0, "renders (%s)", rc ? err : "ok");
	json_error_t je;
	json_t *doc = rc ? NULL : json_loadb(out.data, out.len, 0, &je);
	char *again = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	ok(again && out.len == strlen(again) + 1 && !memcmp(out.data, again, out.len - 1) && out.data[out.len - 1] == '\n',
	   "the text is byte for byte what json_dumps gives for it, and a newline");
	const char *v = doc ? json_string_value(json_object_get(doc, "k\"e\\y\t")) : NULL;
	ok(v && strlen(v) == 31 + 4 + 2 + strlen(e.device.label) && v[0] == 1 && v[30] == 0x1f &&
	   !strcmp(v + 31, "\"\\/\x7f\xc3\xa9tab\there \"q\" \\ \xe2\x82\xac\xf0\x9f\x93\x9e"),
	   "every control, quote, backslash, DEL and UTF-8 of the skeleton and the value reads back as written");
	ok(doc && !json_object_get(doc, "gone") && json_object_size(json_object_get(doc, "empty")) == 0 &&
	   json_array_size(json_object_get(doc, "lines")) == 2,
	   "an object whose condition fails is left out; the line block gives one object per line");
	free(again);
	json_decref(doc);
	/* A refused value leaves the output as it was. */
	sp_strlcpy(e.device.label, "two\nlines", sizeof(e.device.label));
	buf_adds(&out, "kept");
	size_t before = out.len;
	rc = render(l, &e, 0, &out, err, sizeof(err));
	ok(rc < 0 && strstr(err, "line break") && out.len == before, "a refused value writes nothing (%s)", err);
	buf_release(&out);
	json_decref(e.settings);
	layout_free(l);
}

static void test_speed(const struct layouts *ls)
{
	char err[SP_ERR_MAX];
	for (size_t i = 0; i < layouts_count(ls); i++) {
		const struct layout *l = layouts_at(ls, i);
		struct effective e;
		struct timespec t0, t1;
		int n = 2000, bad = 0;
		make_effective(&e, "tls");
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int k = 0; k < n; k++) {
			struct buf out;
			buf_init(&out, SP_BODY_MAX);
			bad += render(l, &e, 0, &out, err, sizeof(err)) < 0;
			buf_release(&out);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double us = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3 / n;
		printf("# render %s, 2 lines: %.1f us\n", layout_name(l), us);
		/* The time is reported above, not asserted (no timing thresholds in tests). */
		ok(bad == 0, "%s: %d renders without error, %.1f us each", layout_name(l), n, us);
		json_decref(e.settings);
	}
}

/* A route with its own body: Yealink's {mac}.boot names the MAC file and
 * carries nothing else (no account, no password); {mac}.cfg through the
 * same function is the main body, byte for byte. */
static void test_route_bodies(const struct layouts *ls)
{
	struct effective e;
	struct route_match m;
	struct buf out, main_out;
	char err[SP_ERR_MAX];
	const struct layout *l = layouts_find(ls, "yealink");
	make_effective(&e, "udp");
	buf_init(&out, SP_BODY_MAX);
	buf_init(&main_out, SP_BODY_MAX);
	ok(route_match(ls, "/001565aabbcc.boot", &m) == 1 && layout_route_body(l, &m) == 1, "{mac}.boot: body 1");
	ok(render_route(l, &m, &e, 0, &out, err, sizeof(err)) == 0, "{mac}.boot renders (%s)", err);
	golden("yealink-boot.cfg", out.data ? out.data : "", out.len);
	ok(out.data && !strstr(out.data, "a1xyzauth") && !strstr(out.data, PASS1) && !strstr(out.data, "account."),
	   "{mac}.boot carries no account");
	out.len = 0;
	ok(route_match(ls, "/001565aabbcc.cfg", &m) == 1 && layout_route_body(l, &m) == 0, "{mac}.cfg: main body");
	ok(render_route(l, &m, &e, 0, &out, err, sizeof(err)) == 0 && render(l, &e, 0, &main_out, err, sizeof(err)) == 0 &&
	   out.len == main_out.len && memcmp(out.data, main_out.data, out.len) == 0,
	   "{mac}.cfg through render_route is render()'s output");
	buf_release(&out);
	buf_release(&main_out);
	json_decref(e.settings);
	/* a named body's errors */
	const char *head = "name: x\nformat: kv\ncontent-type: text/plain\nnotify-event: check-sync\nroute: {mac}.cfg\n";
	struct { const char *text, *msg; } bad[] = {
		{ "route boot: {mac}.boot\n---\n{{version}}\n", "'route boot:' has no '--- boot' body" },
		{ "---\n{{version}}\n--- boot\nx\n", "'--- boot' is no route's body" },
		{ "route boot: {mac}.boot\n---\n{{version}}\n--- boot\na\n--- boot\nb\n", "or a second one" },
		{ "route boot: {mac}.boot\n---\n{{version}}\n--- boot\n{{nope}}\n", "x.cfg:10: unknown variable 'nope'" },
		{ "route BOOT: {mac}.boot\n---\n{{version}}\n", "unknown route kind 'BOOT'" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text), "%s%s", head, bad[i].text);
		err[0] = '\0';
		struct layout *x = layout_parse_mem("x.cfg", text, strlen(text), err, sizeof(err));
		ok(!x && strstr(err, bad[i].msg), "named body refused: %s", err);
		layout_free(x);
	}
}

int main(void)
{
	char err[SP_ERR_MAX];
	struct layouts *ls = layouts_load(layouts_dir(), err, sizeof(err));
	ok(ls != NULL, "layouts load from %s (%s)", layouts_dir(), ls ? "ok" : err);
	if (!ls)
		return tap_done();
	static const char *const names[] = { "linphone", "yealink", "polycom", "grandstream",
					     "cisco", "snom", "fanvil", "json" };
	for (size_t i = 0; i < 8; i++)
		ok(layouts_find(ls, names[i]) != NULL, "layout '%s' present", names[i]);
	test_layouts(ls);
	test_linphone_fields(ls);
	test_refusals(ls);
	test_common(ls);
	test_route_bodies(ls);
	test_common_named(ls);
	test_polycom_master(ls);
	test_features(ls);
	test_golden_refs();
	test_json_text();
	test_speed(ls);
	layouts_free(ls);
	xmlCleanupParser();
	return tap_done();
}
