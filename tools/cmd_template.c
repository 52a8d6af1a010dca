/*
 * cmd_template.c: `sipprov template ...` (skeleton).
 */
#include <stdio.h>

#include "cli.h"

int cmd_template(struct cli *c, int argc, char **argv)
{
	return cli_fail("template: not implemented yet");
}
