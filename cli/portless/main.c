/* SPDX-License-Identifier: MIT */
/* portless: the user's command. Parses the command word and dispatches. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cmds.h"
#include "log.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
} cmds[] = {
    {"keygen", cmd_keygen, "keygen @name [--keys DIR] [--force]"},
    {"whoami", cmd_whoami, "whoami [--keys DIR]"},
    {"ssh", cmd_ssh, "ssh [user@]@device [-- ssh args...]"},
    {"scp", cmd_scp, "scp [scp options] SRC... DST   (remote: [user@]@device:path)"},
    {"up", cmd_up, "up [user@]@device [--detach]"},
    {"down", cmd_down, "down @device|SESSION-ID"},
    {"status", cmd_status, "status"},
    {"enroll", cmd_enroll, "enroll @name --cp HOST:PORT --server-key KEY --code CODE [--keys DIR]"},
    {"notify", cmd_notify, "notify @to TYPE TEXT [--keys DIR] [--ttl SECONDS]"},
    {"listen", cmd_listen, "listen [--keys DIR] [--count N]"},
    {"rotate", cmd_rotate, "rotate [--keys DIR]"},
    {"revoke", cmd_revoke, "revoke @peer [--keys DIR]"},
    {"authorized-keys", cmd_authorized_keys,
     "authorized-keys USER [--socket PATH]   (sshd's AuthorizedKeysCommand)"},
};

static int usage(FILE *f)
{
	fprintf(f, "usage: portless COMMAND ...\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  portless %s\n", cmds[i].usage);
	return f == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0 || log_init(argv[0]) < 0)
		return 1;
	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))
		return usage(stdout);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "portless: unknown command '%s'\n", argv[1]);
	return usage(stderr);
}
