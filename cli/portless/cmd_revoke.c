/* SPDX-License-Identifier: MIT */
/*
 * portless revoke @peer [--keys DIR]: refuse @peer from now on, whatever keys
 * it shows ("@peer revoked" in DIR/known_identities). Sessions with it can
 * no longer be made: its notifications do not open and ours are not sealed
 * to it. A running portlessd reads the pin file on every key fetch.
 */
#include <stdio.h>
#include <string.h>

#include "cliutil.h"
#include "cmds.h"
#include "cp_pin.h"
#include "handle.h"

int cmd_revoke(int argc, char **argv)
{
	static const char *const names[] = {"--keys", NULL};
	const char *v[1] = {NULL};
	char dir[4096];
	int r;

	argc = cli_take_opts(argc, argv, names, v, NULL, NULL);
	if (argc != 2 || !handle_valid(argv[1])) {
		fprintf(stderr, "usage: portless revoke @peer [--keys DIR]\n");
		return CLI_USAGE;
	}
	if (cli_keys_dir(v[0], dir, sizeof(dir)) < 0)
		return CLI_FAIL;
	r = cp_pin_revoke(dir, argv[1]);
	if (r < 0) {
		fprintf(stderr, "error: %s/known_identities: %s\n", dir, strerror(-r));
		return CLI_FAIL;
	}
	printf("%s revoked in %s/known_identities\n", argv[1], dir);
	return CLI_OK;
}
