/*
 * phonebook.c: a tenant's contacts as each vendor's remote phonebook XML
 * (formats and their references: templates/phonebook.md), and the checks
 * every contact passes before it is stored.  One table entry per format.
 * It does not read the store or decide who may fetch a phonebook.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipprov.h"

/* ---- checks ---- */

static int text_check(const char *v, bool required, char *err, size_t errlen)
{
	char e[4 * 4 * SP_CONTACT_NAME_CHARS + 8];
	size_t chars = 0;
	if (!v[0])
		return required ? sp_err(err, errlen, "is empty; it is required") : 0;
	/* Tab too: sp_text_ok lets it through for settings, a phone shows junk. */
	if (!sp_text_ok(v) || strchr(v, '\t'))
		return sp_err(err, errlen, "'%s' is not UTF-8 text without control characters",
			      sp_log_escape(v, e, sizeof(e)));
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		chars += (*p & 0xc0) != 0x80;
	if (chars > SP_CONTACT_NAME_CHARS)
		return sp_err(err, errlen, "'%.40s...' has %zu characters (at most %d)", sp_log_escape(v, e, sizeof(e)),
			      chars, SP_CONTACT_NAME_CHARS);
	if (v[strspn(v, " ")] == '\0')
		return sp_err(err, errlen, "is only spaces");
	return 0;
}

static int number_check(const char *v, bool required, char *err, size_t errlen)
{
	char e[4 * 64 + 1];
	size_t n = strlen(v);
	if (!n)
		return required ? sp_err(err, errlen, "is empty; it is required") : 0;
	if (strspn(v, "0123456789+*#") != n || n > SP_CONTACT_NUMBER_MAX)
		return sp_err(err, errlen, "'%s': use only the digits 0-9 and '+', '*', '#' (at most %d)",
			      sp_log_escape(v, e, sizeof(e)), SP_CONTACT_NUMBER_MAX);
	return 0;
}

int phonebook_check(const struct contact *c, const char **field, char *err, size_t errlen)
{
	if (text_check(c->name, true, err, errlen) < 0)
		return *field = "name", -1;
	if (number_check(c->office, true, err, errlen) < 0)
		return *field = "number", -1;
	if (number_check(c->mobile, false, err, errlen) < 0)
		return *field = "mobile", -1;
	if (number_check(c->other, false, err, errlen) < 0)
		return *field = "other", -1;
	if (text_check(c->group, false, err, errlen) < 0)
		return *field = "group", -1;
	return 0;
}

/* ---- rendering ---- */

/* Element text and attribute values alike: the five XML specials.  The
 * checks above leave no control character to worry about. */
static void esc(struct buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': buf_adds(b, "&amp;"); break;
		case '<': buf_adds(b, "&lt;"); break;
		case '>': buf_adds(b, "&gt;"); break;
		case '"': buf_adds(b, "&quot;"); break;
		case '\'': buf_adds(b, "&apos;"); break;
		default: buf_add(b, s, 1);
		}
	}
}

/* <tag>text</tag> on its own line, indented by ind spaces. */
static void el(struct buf *b, int ind, const char *tag, const char *text)
{
	buf_printf(b, "%*s<%s>", ind, "", tag);
	esc(b, text);
	buf_printf(b, "</%s>\n", tag);
}

/* A contact's numbers with their kind, office first; n of 3 filled. */
struct pb_num {
	const char *kind;                   /* "office", "mobile", "other" */
	const char *number;
};

static int numbers(const struct contact *c, struct pb_num out[3])
{
	int n = 0;
	out[n++] = (struct pb_num){ "office", c->office };
	if (c->mobile[0])
		out[n++] = (struct pb_num){ "mobile", c->mobile };
	if (c->other[0])
		out[n++] = (struct pb_num){ "other", c->other };
	return n;
}

static const char xml_decl[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/* Yealink: one DirectoryEntry per contact, one Telephone per number. */
static void r_yealink(const struct contact *v, size_t n, struct buf *b)
{
	struct pb_num nums[3];
	buf_adds(b, xml_decl);
	buf_adds(b, "<YealinkIPPhoneDirectory>\n");
	for (size_t i = 0; i < n; i++) {
		int k = numbers(&v[i], nums);
		buf_adds(b, "  <DirectoryEntry>\n");
		el(b, 4, "Name", v[i].name);
		for (int j = 0; j < k; j++)
			el(b, 4, "Telephone", nums[j].number);
		buf_adds(b, "  </DirectoryEntry>\n");
	}
	buf_adds(b, "</YealinkIPPhoneDirectory>\n");
}

/* Fanvil: one DirectoryEntry per contact with its three number slots. */
static void r_fanvil(const struct contact *v, size_t n, struct buf *b)
{
	buf_adds(b, xml_decl);
	buf_adds(b, "<FanvilIPPhoneDirectory>\n  <Title>Phonebook</Title>\n");
	for (size_t i = 0; i < n; i++) {
		buf_adds(b, "  <DirectoryEntry>\n");
		el(b, 4, "Name", v[i].name);
		el(b, 4, "Telephone", v[i].office);
		if (v[i].mobile[0])
			el(b, 4, "Mobile", v[i].mobile);
		if (v[i].other[0])
			el(b, 4, "Other", v[i].other);
		buf_adds(b, "  </DirectoryEntry>\n");
	}
	buf_adds(b, "</FanvilIPPhoneDirectory>\n");
}

/* Cisco SPA / 3PCC XML directory service: one Name + Telephone per entry,
 * so a contact with three numbers is three entries. */
static void r_cisco(const struct contact *v, size_t n, struct buf *b)
{
	struct pb_num nums[3];
	buf_adds(b, xml_decl);
	buf_adds(b, "<CiscoIPPhoneDirectory>\n  <Title>Phonebook</Title>\n  <Prompt>Select a contact</Prompt>\n");
	for (size_t i = 0; i < n; i++) {
		int k = numbers(&v[i], nums);
		for (int j = 0; j < k; j++) {
			buf_adds(b, "  <DirectoryEntry>\n");
			el(b, 4, "Name", v[i].name);
			el(b, 4, "Telephone", nums[j].number);
			buf_adds(b, "  </DirectoryEntry>\n");
		}
	}
	buf_adds(b, "</CiscoIPPhoneDirectory>\n");
}

/* Polycom {mac}-directory.xml: an item holds one contact number (ct), so
 * one item per number; the name goes in ln (the phone sorts by it). */
static void r_polycom(const struct contact *v, size_t n, struct buf *b)
{
	struct pb_num nums[3];
	buf_adds(b, xml_decl);
	buf_adds(b, "<directory>\n  <item_list>\n");
	for (size_t i = 0; i < n; i++) {
		int k = numbers(&v[i], nums);
		for (int j = 0; j < k; j++) {
			buf_adds(b, "    <item>\n");
			el(b, 6, "ln", v[i].name);
			el(b, 6, "ct", nums[j].number);
			buf_adds(b, "    </item>\n");
		}
	}
	buf_adds(b, "  </item_list>\n</directory>\n");
}

/* Snom tbook: one item per number, its number_type saying which. */
static void r_snom(const struct contact *v, size_t n, struct buf *b)
{
	static const char *const type[] = { "business", "mobile", "home" };
	struct pb_num nums[3];
	size_t idx = 0;
	buf_adds(b, xml_decl);
	buf_adds(b, "<tbook e=\"2\" complete=\"true\">\n");
	for (size_t i = 0; i < n; i++) {
		int k = numbers(&v[i], nums);
		for (int j = 0; j < k; j++) {
			buf_printf(b, "  <item context=\"active\" type=\"none\" index=\"%zu\">\n", idx++);
			el(b, 4, "first_name", v[i].name);
			el(b, 4, "number", nums[j].number);
			el(b, 4, "number_type", !strcmp(nums[j].kind, "office") ? type[0]
						: !strcmp(nums[j].kind, "mobile") ? type[1] : type[2]);
			buf_adds(b, "  </item>\n");
		}
	}
	buf_adds(b, "</tbook>\n");
}

/* Grandstream phonebook.xml: groups declared first (pbgroup, ids from 1
 * in order of first use), then one Contact per contact with typed Phones
 * and its group's id. */
static void r_grandstream(const struct contact *v, size_t n, struct buf *b)
{
	static const char *const type[] = { "Work", "Cell", "Home" };
	struct pb_num nums[3];
	size_t *gid = xcalloc(n ? n : 1, sizeof(*gid));      /* 0 = no group */
	size_t *first = xcalloc(n ? n : 1, sizeof(*first));  /* group id - 1 -> a contact using it */
	size_t ng = 0;

	buf_adds(b, xml_decl);
	buf_adds(b, "<AddressBook>\n");
	for (size_t i = 0; i < n; i++) {
		if (!v[i].group[0])
			continue;
		for (size_t g = 0; g < ng && !gid[i]; g++)
			if (!strcmp(v[first[g]].group, v[i].group))
				gid[i] = g + 1;
		if (!gid[i]) {
			first[ng] = i;
			gid[i] = ++ng;
			buf_printf(b, "  <pbgroup>\n    <id>%zu</id>\n", gid[i]);
			el(b, 4, "name", v[i].group);
			buf_adds(b, "  </pbgroup>\n");
		}
	}
	for (size_t i = 0; i < n; i++) {
		int k = numbers(&v[i], nums);
		buf_printf(b, "  <Contact>\n    <id>%zu</id>\n", i + 1);
		el(b, 4, "FirstName", v[i].name);
		for (int j = 0; j < k; j++) {
			int t = !strcmp(nums[j].kind, "office") ? 0 : !strcmp(nums[j].kind, "mobile") ? 1 : 2;
			buf_printf(b, "    <Phone type=\"%s\">\n", type[t]);
			el(b, 6, "phonenumber", nums[j].number);
			buf_adds(b, "      <accountindex>0</accountindex>\n    </Phone>\n");
		}
		if (gid[i])
			buf_printf(b, "    <Group>%zu</Group>\n", gid[i]);
		buf_adds(b, "  </Contact>\n");
	}
	buf_adds(b, "</AddressBook>\n");
	free(gid);
	free(first);
}

struct pb_format {
	const char *layout;
	void (*render)(const struct contact *v, size_t n, struct buf *b);
};

static const struct pb_format formats[] = {
	{ "cisco", r_cisco },
	{ "fanvil", r_fanvil },
	{ "fanvil-xml", r_fanvil },
	{ "grandstream", r_grandstream },
	{ "polycom", r_polycom },
	{ "snom", r_snom },
	{ "yealink", r_yealink },
};

static const struct pb_format *find(const char *layout)
{
	for (size_t i = 0; layout && i < sizeof(formats) / sizeof(formats[0]); i++)
		if (!strcmp(formats[i].layout, layout))
			return &formats[i];
	return NULL;
}

const char *phonebook_format(const char *layout)
{
	const struct pb_format *f = find(layout);
	return f ? f->layout : NULL;
}

int phonebook_render(const char *layout, const struct contact *v, size_t n, struct buf *out, char *err,
		     size_t errlen)
{
	const struct pb_format *f = find(layout);
	if (!f)
		return sp_err(err, errlen, "layout '%s' has no remote phonebook format", layout ? layout : "");
	f->render(v, n, out);
	if (out->overflow)
		return sp_err(err, errlen, "phonebook larger than %d bytes", SP_PHONEBOOK_MAX);
	return 0;
}
