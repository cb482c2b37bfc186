/* SPDX-License-Identifier: MIT */
/* portless: the user's command. Parses the command word and dispatches. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cliutil.h"
#include "cmds.h"
#include "log.h"

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage; /* after "portless " */
	const char *help;  /* what it does, its options; each line ends in \n */
};

#define KEYS_OPT "  --keys DIR      key directory (default: $PORTLESS_KEYS, see portless(1))\n"
#define SOCKET_OPT                                                                                 \
	"  --socket PATH   portlessd's control socket (default: $PORTLESS_SOCKET, else\n"          \
	"                  /run/portless/portlessd.sock)\n"

static const struct cmd cmds[] = {
    {"keygen", cmd_keygen, "keygen @name [--keys DIR] [--force]",
     "Make this machine's identity (signing and key-exchange keys) for @name.\n" KEYS_OPT
     "  --force         replace an existing identity.key\n"},
    {"whoami", cmd_whoami, "whoami [--keys DIR]",
     "Print the identity's handle and fingerprint.\n" KEYS_OPT},
    {"ssh", cmd_ssh, "ssh [user@]@device [--socket PATH] [--sr @relay] [-- ssh args...]",
     "Open a session to @device through the local portlessd and run ssh in it\n"
     "(as root with no portlessd running, a private client role is started).\n" SOCKET_OPT
     "  --sr @relay     the relay for a private client role\n"
     "  -- ARGS         passed to ssh (options, a remote command)\n"},
    {"scp", cmd_scp,
     "scp [--socket PATH] [--sr @relay] [scp options] SRC... DST   (remote: "
     "[user@]@device:path)",
     "Copy files with the system's scp through a session (one device per copy).\n" SOCKET_OPT
     "  --sr @relay     the relay for a private client role\n"},
    {"up", cmd_up, "up [user@]@device [--detach] [--socket PATH]",
     "Bring a session up and print the ssh command that uses it; holds the\n"
     "tunnel until Ctrl-C or 'portless down'.\n"
     "  --detach        leave the session to portlessd and exit\n" SOCKET_OPT},
    {"down", cmd_down, "down @device|SESSION-ID [--socket PATH]",
     "End the sessions to @device (or the one session with that id).\n" SOCKET_OPT},
    {"status", cmd_status, "status [--socket PATH]",
     "List this host's sessions (both roles): peer, addresses, transport, bytes.\n" SOCKET_OPT},
    {"enroll", cmd_enroll, "enroll @name --cp HOST:PORT --server-key KEY --code CODE [--keys DIR]",
     "Make keys (unless the key directory has them), prove the one-time code to\n"
     "the control plane, publish the public keys and write cp.conf.\n"
     "  --cp HOST:PORT  the control plane\n"
     "  --server-key K  its public key, as 'portless-cp init' printed it\n"
     "  --code CODE     the one-time code from 'portless-cp add'\n" KEYS_OPT},
    {"notify", cmd_notify, "notify @to TYPE TEXT [--keys DIR] [--ttl SECONDS]",
     "Send one notification through the control plane (debugging).\n"
     "  TYPE            a number or 'text'\n" KEYS_OPT
     "  --ttl SECONDS   how long the home keeps it for an offline recipient\n"},
    {"listen", cmd_listen, "listen [--keys DIR] [--count N]",
     "Print notifications as they arrive: FROM TYPE TEXT (debugging).\n" KEYS_OPT
     "  --count N       exit after N notifications\n"},
    {"rotate", cmd_rotate, "rotate [--keys DIR]",
     "Make new identity keys, publish them to the home signed by the old key,\n"
     "then switch the key file (peers move their pins on their own).\n" KEYS_OPT},
    {"revoke", cmd_revoke, "revoke @peer [--keys DIR]",
     "Refuse @peer from now on, whatever keys it shows (in known_identities;\n"
     "a running portlessd takes it at once).\n" KEYS_OPT},
    {"authorized-keys", cmd_authorized_keys,
     "authorized-keys USER [--socket PATH]   (sshd's AuthorizedKeysCommand)",
     "Print USER's live session key lines as the device's portlessd holds them.\n"
     "  --socket PATH   the keys socket (default /run/portless/keys.sock)\n"},
    {"doctor", cmd_doctor, "doctor [--config PATH] [--keys DIR] [--socket PATH] [--json]",
     "Check this host hop by hop (key file, configuration, control plane, relays,\n"
     "control socket, TUN, sshd on the virtual address); one line per check, the\n"
     "failing one named with what to do. Exit 1 when any check fails.\n"
     "  --config PATH   portlessd.conf (default /etc/portless/portlessd.conf)\n" KEYS_OPT SOCKET_OPT
     "  --json          the checks as JSON\n"},
    {"help", NULL, "help [COMMAND]", "Print the usage of COMMAND, or of every command.\n"},
};

enum { NCMDS = sizeof(cmds) / sizeof(cmds[0]) };

static const struct cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < NCMDS; i++)
		if (!strcmp(name, cmds[i].name))
			return &cmds[i];
	return NULL;
}

static int usage(FILE *f)
{
	fprintf(f, "usage: portless COMMAND ...\n");
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "  portless %s\n", cmds[i].usage);
	fprintf(f, "  portless --version\n"
		   "'portless help COMMAND' or 'portless COMMAND --help' tells more; "
		   "man portless(1).\n");
	return f == stdout ? CLI_OK : CLI_USAGE;
}

/* One command's help text, whole (the buffer outlives the call). */
static const char *cmd_help(const struct cmd *c)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf), "usage: portless %s\n%s", c->usage, c->help);
	return buf;
}

/* portless help [COMMAND] */
static int help(int argc, char **argv)
{
	const struct cmd *c;

	if (argc < 3)
		return usage(stdout);
	c = find_cmd(argv[2]);
	if (!c) {
		fprintf(stderr, "portless: unknown command '%s'\n", argv[2]);
		return usage(stderr);
	}
	fputs(cmd_help(c), stdout);
	return CLI_OK;
}

int main(int argc, char **argv)
{
	const struct cmd *c;

	if (sodium_init() < 0 || log_init(argv[0]) < 0)
		return CLI_FAIL;
	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return usage(stdout);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
		return cli_version("portless");
	c = find_cmd(argv[1]);
	if (!c) {
		fprintf(stderr, "portless: unknown command '%s'\n", argv[1]);
		return usage(stderr);
	}
	if (cli_std_opts(argc - 1, argv + 1, "portless", cmd_help(c)))
		return CLI_OK;
	return c->fn ? c->fn(argc - 1, argv + 1) : help(argc, argv);
}
