/*
 * cmd_account.c: `sipprov account ...` (skeleton).
 */
#include <stdio.h>

#include "cli.h"

int cmd_account(struct cli *c, int argc, char **argv)
{
	return cli_fail("account: not implemented yet");
}
