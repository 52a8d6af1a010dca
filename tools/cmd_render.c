/*
 * cmd_render.c: `sipprov render MAC [--line N]` prints exactly the bytes a
 * phone gets: the same effective_load + validate_effective + render path
 * as sipprovd, so the two are byte-identical by construction.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "core/sipprov.h"

int cmd_render(struct cli *c, int argc, char **argv)
{
	static const char usage[] = "render MAC [--line N]";
	long line = 0;
	char *pos[1], err[SP_ERR_MAX], mac[SP_MAC_LEN + 1];
	int npos, rc;
	struct effective e;
	struct cli_opt opts[] = { { "--line", OPT_LONG, &line, 1, SP_MAX_LINES }, { NULL, 0, NULL, 0, 0 } };

	if ((rc = cli_parse(argc, argv, opts, pos, 1, &npos, usage)))
		return rc;
	if (npos != 1)
		return cli_usage(usage);
	if (mac_normalize(pos[0], mac) < 0)
		return cli_fail("'%s' is not a MAC address (12 hex digits, ':' or '-' allowed)", pos[0]);
	if ((rc = cli_open_key(c)))
		return rc;
	const struct layouts *ls = cli_layouts(c);
	if (!ls)
		return EXIT_USER;
	rc = effective_load(c->store, c->key, mac, &e, err, sizeof(err));
	if (rc == 0)
		return cli_fail("unknown device %s (see 'sipprov device list')", mac);
	if (rc < 0)
		return cli_fail("%s", err);
	effective_set_public_url(&e, c->public_url);
	const struct layout *l = layouts_find(ls, e.device.layout);
	struct buf out;
	buf_init(&out, SP_BODY_MAX);
	rc = 0;
	if (!l)
		rc = cli_fail("device %s: layout '%s' is not in %s", mac, e.device.layout, c->templates_dir);
	else if (validate_effective(&e, err, sizeof(err)) < 0)
		rc = cli_fail("device %s: the effective config is invalid and would not be served: %s", mac, err);
	else if (render(l, &e, line, &out, err, sizeof(err)) < 0)
		rc = cli_fail("device %s: %s", mac, err);
	else {
		fwrite(out.data ? out.data : "", 1, out.len, stdout);
		json_t *ds = effective_device_settings(&e);
		cli_warn_layout(mac, l, ds, NULL);
		json_decref(ds);
	}
	buf_release(&out);
	effective_release(&e);
	return rc;
}
