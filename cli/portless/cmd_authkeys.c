/* SPDX-License-Identifier: MIT */
/*
 * portless authorized-keys USER [--socket PATH]: sshd's AuthorizedKeysCommand.
 * Prints the live portless session key lines of local user USER, as the
 * device's portlessd holds them ([device] authorized-keys = command), one per
 * line, and nothing else. sshd runs it as AuthorizedKeysCommandUser (the
 * daemon's keys-user); see scripts/sshd-portless.conf. Fails closed: when
 * the daemon can't be asked, it prints nothing and exits 1 (sshd then finds
 * no key).
 */
#include <stdio.h>
#include <string.h>

#include "cliutil.h"
#include "cmds.h"
#include "ctl.h"

#define DEFAULT_KEYS_SOCKET "/run/portless/keys.sock"

int cmd_authorized_keys(int argc, char **argv)
{
	static const char *const names[] = {"--socket", NULL};
	const char *vals[1] = {NULL};
	struct ctl_msg m = {.type = CTL_KEYS};
	struct ctl_client cc;
	int r;

	argc = cli_take_opts(argc, argv, names, vals, NULL, NULL);
	if (argc != 2 || strlen(argv[1]) >= sizeof(m.keys_user)) {
		fprintf(stderr, "usage: portless authorized-keys USER [--socket PATH]\n");
		return CLI_USAGE;
	}
	snprintf(m.keys_user, sizeof(m.keys_user), "%s", argv[1]);
	r = ctl_client_open(&cc, vals[0] ? vals[0] : DEFAULT_KEYS_SOCKET);
	if (r < 0) {
		fprintf(stderr, "portless: cannot reach portlessd's keys socket: %s\n",
			strerror(-r));
		return CLI_FAIL;
	}
	if (ctl_client_send(&cc, &m) < 0) {
		fprintf(stderr, "portless: bad user name or the daemon went away\n");
		ctl_client_close(&cc);
		return CLI_FAIL;
	}
	while ((r = ctl_client_recv(&cc, &m, 5000)) == 0 && m.type == CTL_KEY_LINE)
		printf("%s\n", m.line);
	ctl_client_close(&cc);
	if (r < 0 || m.type != CTL_KEYS_END) {
		fprintf(stderr, "portless: no complete answer from portlessd\n");
		return CLI_FAIL;
	}
	return CLI_OK;
}
