/* SPDX-License-Identifier: MIT */
/* portless keygen / whoami: make and show the identity in a key directory. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include <stdlib.h>
#include <unistd.h>

#include "cliutil.h"
#include "cmds.h"
#include "identity.h"
#include "pdconf.h"

static void show(const struct identity *id)
{
	char fpr[ID_FPR_BUF];

	identity_fingerprint(&id->pub, fpr);
	printf("%s %s\n", id->pub.handle, fpr);
}

/*
 * The virtual addresses this identity has as a device: what sshd's
 * ListenAddress needs (install.sh --virtual-ip), known before portlessd runs.
 * From /etc/portless/portlessd.conf when readable (its prefixes and
 * address-alternative), else the defaults.
 */
static void show_addrs(const struct identity *id, const char *conf_path)
{
	struct pdconf *c = calloc(1, sizeof(*c));
	char err[PDCONF_ERR_BUF], a4[IPADDR_STRLEN], a6[IPADDR_STRLEN];
	struct addrplan_cfg pc;
	struct ipaddr v4, v6;

	if (!c)
		return;
	pdconf_defaults(c);
	if (access(conf_path, R_OK) == 0 && pdconf_load(c, conf_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "portless: %s (virtual addresses from the defaults)\n", err);
		pdconf_defaults(c);
	}
	if (pdconf_device_addrs(c, id->pub.handle, &pc, &v4, &v6) == 0)
		printf("virtual address %s %s (as a device; [device] address-alternative %u)\n",
		       ipaddr_str(&v4, false, a4, sizeof(a4)),
		       ipaddr_str(&v6, false, a6, sizeof(a6)), c->addr_alt);
	free(c);
}

int cmd_keygen(int argc, char **argv)
{
	static const char *const names[] = {"--keys", NULL};
	static const char *const flags[] = {"--force", NULL};
	const char *vals[1] = {NULL};
	bool force[1] = {false};
	char dir[4096], path[4096], err[256];
	struct identity *id;
	int r;

	argc = cli_take_opts(argc, argv, names, vals, flags, force);
	if (argc != 2) {
		fprintf(stderr, "usage: portless keygen @name [--keys DIR] [--force]\n");
		return CLI_USAGE;
	}
	if (!handle_valid(argv[1])) {
		fprintf(stderr,
			"error: '%s' is not a valid handle (@ + 1..55 of a-z 0-9 _ -, "
			"starting with a letter or digit)\n",
			argv[1]);
		return CLI_USAGE;
	}
	if (cli_keys_dir(vals[0], dir, sizeof(dir)) < 0 ||
	    identity_path(path, sizeof(path), dir) < 0)
		return CLI_FAIL;
	if (cli_make_keys_dir(dir) < 0)
		return CLI_FAIL;
	id = identity_generate(argv[1]);
	if (!id) {
		fprintf(stderr, "error: cannot generate keys\n");
		return CLI_FAIL;
	}
	r = identity_save(id, path, force[0], err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "error: %s\n", err);
		identity_free(id);
		return CLI_FAIL;
	}
	show(id);
	identity_free(id);
	return CLI_OK;
}

int cmd_whoami(int argc, char **argv)
{
	static const char *const names[] = {"--keys", "--config", NULL};
	const char *vals[2] = {NULL, NULL};
	char dir[4096];
	struct identity *id;

	argc = cli_take_opts(argc, argv, names, vals, NULL, NULL);
	if (argc != 1) {
		fprintf(stderr, "usage: portless whoami [--keys DIR] [--config PATH]\n");
		return CLI_USAGE;
	}
	if (cli_keys_dir(vals[0], dir, sizeof(dir)) < 0)
		return CLI_FAIL;
	id = cli_load_identity(dir);
	if (!id)
		return CLI_FAIL;
	show(id);
	show_addrs(id, vals[1] ? vals[1] : PDCONF_DEFAULT_PATH);
	identity_free(id);
	return CLI_OK;
}
