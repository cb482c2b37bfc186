/* SPDX-License-Identifier: MIT */
/* portless keygen / whoami: make and show the identity in a key directory. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cliutil.h"
#include "cmds.h"
#include "identity.h"

static void show(const struct identity *id)
{
	char fpr[ID_FPR_BUF];

	identity_fingerprint(&id->pub, fpr);
	printf("%s %s\n", id->pub.handle, fpr);
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
	static const char *const names[] = {"--keys", NULL};
	const char *vals[1] = {NULL};
	char dir[4096];
	struct identity *id;

	argc = cli_take_opts(argc, argv, names, vals, NULL, NULL);
	if (argc != 1) {
		fprintf(stderr, "usage: portless whoami [--keys DIR]\n");
		return CLI_USAGE;
	}
	if (cli_keys_dir(vals[0], dir, sizeof(dir)) < 0)
		return CLI_FAIL;
	id = cli_load_identity(dir);
	if (!id)
		return CLI_FAIL;
	show(id);
	identity_free(id);
	return CLI_OK;
}
