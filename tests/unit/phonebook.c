/*
 * unit/phonebook.c: contact checks (each bad field named, the allowed
 * characters said), the phonebook request paths, and every vendor format
 * rendered with hostile names: parsed back by libxml2, the root element
 * is the vendor's and every name and number comes back exactly.
 */
#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "tap.h"
#include "daemon/daemon.h"
#include "core/sipprov.h"

static const struct {
	const char *name, *office, *mobile, *other, *group;
	const char *field;                  /* NULL: valid */
	const char *msg;                    /* a part of the error */
} checks[] = {
	{ "Front desk", "200", "", "", "", NULL, NULL },
	{ "<script>&\"'", "+49*99#", "0171", "1", "Zoë", NULL, NULL },
	{ "", "1", "", "", "", "name", "is empty" },
	{ "   ", "1", "", "", "", "name", "only spaces" },
	{ "a\tb", "1", "", "", "", "name", "control characters" },
	{ "a\x1b[31m", "1", "", "", "", "name", "'a\\x1b[31m'" },
	{ "bad\xff", "1", "", "", "", "name", "not UTF-8" },
	{ "x", "", "", "", "", "number", "is empty" },
	{ "x", "12-3", "", "", "", "number", "only the digits 0-9 and '+', '*', '#'" },
	{ "x", "1", "0171 5", "", "", "mobile", "'0171 5'" },
	{ "x", "1", "", "abc", "", "other", "'abc'" },
	{ "x", "1", "", "", "g\x01", "group", "control characters" },
	{ "x", "12345678901234567890123456789012", "", "", "", NULL, NULL },
};

static void check_cases(void)
{
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		struct contact c = { 0 };
		const char *field = NULL;
		char err[256] = "";
		sp_strlcpy(c.name, checks[i].name, sizeof(c.name));
		sp_strlcpy(c.office, checks[i].office, sizeof(c.office));
		sp_strlcpy(c.mobile, checks[i].mobile, sizeof(c.mobile));
		sp_strlcpy(c.other, checks[i].other, sizeof(c.other));
		sp_strlcpy(c.group, checks[i].group, sizeof(c.group));
		int rc = phonebook_check(&c, &field, err, sizeof(err));
		if (!checks[i].field) {
			is_int(rc, 0, "case %zu valid (%s)", i, err);
			continue;
		}
		is_int(rc, -1, "case %zu refused", i);
		is_str(field ? field : "", checks[i].field, "case %zu: field '%s'", i, checks[i].field);
		ok(strstr(err, checks[i].msg) != NULL, "case %zu: '%s' says '%s'", i, err, checks[i].msg);
	}
	/* 64 characters of two bytes each pass; 65 do not. */
	struct contact c = { 0 };
	const char *field;
	char err[256];
	sp_strlcpy(c.office, "1", sizeof(c.office));
	for (int i = 0; i < 64; i++)
		memcpy(c.name + 2 * i, "ü", 2);
	is_int(phonebook_check(&c, &field, err, sizeof(err)), 0, "64 two-byte characters are a valid name");
	memcpy(c.name + 128, "ü", 3);
	is_int(phonebook_check(&c, &field, err, sizeof(err)), -1, "65 characters are not");
	ok(strstr(err, "65 characters (at most 64)") != NULL, "and the error counts characters: %s", err);
}

static const struct {
	const char *url;
	int rc;
	const char *mac, *only;
} paths[] = {
	{ "/pb/0015654aa937.xml", 1, "0015654aa937", NULL },
	{ "/pb/0015654AA937.xml", 1, "0015654aa937", NULL },
	{ "/pb/000b82000004/phonebook.xml", 1, "000b82000004", NULL },
	{ "/0004F2AABBCC-directory.xml", 1, "0004f2aabbcc", "polycom" },
	{ "/pb/0015654aa937.xml/", 0, NULL, NULL },
	{ "/pb/0015654aa93.xml", 0, NULL, NULL },
	{ "/pb/0015654aa9370.xml", 0, NULL, NULL },
	{ "/pb/0015654aa93g.xml", 0, NULL, NULL },
	{ "/pb/00:15:65:4a:a9:37.xml", 0, NULL, NULL },
	{ "/pb/0015654aa937.cfg", 0, NULL, NULL },
	{ "/pb/0015654aa937/other.xml", 0, NULL, NULL },
	{ "/0004f2aabbcc-phone.cfg", 0, NULL, NULL },
	{ "/pb/", 0, NULL, NULL },
	{ "/pb", 0, NULL, NULL },
	{ "", 0, NULL, NULL },
};

static void path_cases(void)
{
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		char mac[SP_MAC_LEN + 1] = "";
		const char *only = "x";
		int rc = phonebook_path(paths[i].url, mac, &only);
		is_int(rc, paths[i].rc, "'%s' -> %d", paths[i].url, paths[i].rc);
		if (rc == 1 && paths[i].rc == 1) {
			is_str(mac, paths[i].mac, "'%s': MAC %s", paths[i].url, paths[i].mac);
			is_str(only ? only : "(any)", paths[i].only ? paths[i].only : "(any)", "'%s': layout", paths[i].url);
		}
	}
}

static const struct contact book[] = {
	{ .name = "<script>&\"'", .office = "201", .mobile = "+4915112345", .other = "*99#", .group = "A&B" },
	{ .name = "Front desk", .office = "200", .group = "Office" },
	{ .name = "Zoë ]]> Müller", .office = "202", .group = "A&B" },
};

static const struct {
	const char *layout, *root;
	const char *name_xp, *number_xp;    /* every name, every number, in document order */
	int entries;                        /* name nodes expected */
} fmts[] = {
	{ "yealink", "YealinkIPPhoneDirectory", "/*/DirectoryEntry/Name", "/*/DirectoryEntry/Telephone", 3 },
	{ "fanvil", "FanvilIPPhoneDirectory", "/*/DirectoryEntry/Name",
	  "/*/DirectoryEntry/Telephone | /*/DirectoryEntry/Mobile | /*/DirectoryEntry/Other", 3 },
	{ "cisco", "CiscoIPPhoneDirectory", "/*/DirectoryEntry/Name", "/*/DirectoryEntry/Telephone", 5 },
	{ "polycom", "directory", "/*/item_list/item/ln", "/*/item_list/item/ct", 5 },
	{ "snom", "tbook", "/*/item/first_name", "/*/item/number", 5 },
	{ "grandstream", "AddressBook", "/*/Contact/FirstName", "/*/Contact/Phone/phonenumber", 3 },
};

/* All texts of an XPath's nodes joined by '|'. */
static void texts(xmlXPathContext *x, const char *xp, char *out, size_t n)
{
	xmlXPathObject *r = xmlXPathEvalExpression((const xmlChar *)xp, x);
	out[0] = '\0';
	for (int i = 0; r && r->nodesetval && i < r->nodesetval->nodeNr; i++) {
		xmlChar *t = xmlNodeGetContent(r->nodesetval->nodeTab[i]);
		size_t l = strlen(out);
		snprintf(out + l, n - l, "%s%s", i ? "|" : "", t ? (const char *)t : "");
		xmlFree(t);
	}
	xmlXPathFreeObject(r);
}

static void render_cases(void)
{
	size_t n = sizeof(book) / sizeof(book[0]);
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		struct buf b;
		char err[128], names[1024], nums[1024];
		buf_init(&b, SP_PHONEBOOK_MAX);
		is_int(phonebook_render(fmts[i].layout, book, n, &b, err, sizeof(err)), 0, "%s renders", fmts[i].layout);
		ok(strstr(b.data, "<script>") == NULL && strstr(b.data, "]]>") == NULL, "%s: specials escaped",
		   fmts[i].layout);
		xmlDoc *d = xmlReadMemory(b.data, (int)b.len, "pb.xml", "UTF-8", XML_PARSE_NONET | XML_PARSE_NOERROR);
		ok(d != NULL, "%s: well-formed", fmts[i].layout);
		if (!d) {
			buf_release(&b);
			continue;
		}
		is_str((const char *)xmlDocGetRootElement(d)->name, fmts[i].root, "%s: root %s", fmts[i].layout,
		       fmts[i].root);
		xmlXPathContext *x = xmlXPathNewContext(d);
		texts(x, fmts[i].name_xp, names, sizeof(names));
		texts(x, fmts[i].number_xp, nums, sizeof(nums));
		/* Per contact (in order): the name once per entry, its numbers office, mobile, other. */
		const char *want_names = fmts[i].entries == 3
			? "<script>&\"'|Front desk|Zoë ]]> Müller"
			: "<script>&\"'|<script>&\"'|<script>&\"'|Front desk|Zoë ]]> Müller";
		is_str(names, want_names, "%s: names come back exactly", fmts[i].layout);
		is_str(nums, "201|+4915112345|*99#|200|202", "%s: numbers come back in order", fmts[i].layout);
		if (!strcmp(fmts[i].layout, "grandstream")) {
			texts(x, "/*/pbgroup/name", names, sizeof(names));
			is_str(names, "A&B|Office", "grandstream: each group declared once");
			texts(x, "/*/Contact/Group", nums, sizeof(nums));
			is_str(nums, "1|2|1", "grandstream: contacts point at their group's id");
			texts(x, "/*/Contact[1]/Phone/@type", nums, sizeof(nums));
			is_str(nums, "Work|Cell|Home", "grandstream: phone types office, mobile, other");
		}
		xmlXPathFreeContext(x);
		xmlFreeDoc(d);
		buf_release(&b);
	}
	struct buf b;
	char err[128];
	buf_init(&b, SP_PHONEBOOK_MAX);
	is_int(phonebook_render("linphone", book, n, &b, err, sizeof(err)), -1, "linphone has no phonebook format");
	ok(phonebook_format("linphone") == NULL && phonebook_format("json") == NULL && phonebook_format(NULL) == NULL,
	   "no format for linphone, json or no layout");
	is_int(phonebook_render("yealink", book, 0, &b, err, sizeof(err)), 0, "an empty phonebook renders");
	ok(strstr(b.data, "<YealinkIPPhoneDirectory>\n</YealinkIPPhoneDirectory>") != NULL, "as an empty root");
	buf_release(&b);
	buf_init(&b, 100);
	is_int(phonebook_render("grandstream", book, n, &b, err, sizeof(err)), -1, "over the cap: an error");
	ok(strstr(err, "larger than") != NULL, "saying so: %s", err);
	buf_release(&b);
}

int main(void)
{
	check_cases();
	path_cases();
	render_cases();
	xmlCleanupParser();
	return tap_done();
}
