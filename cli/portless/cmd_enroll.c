/* SPDX-License-Identifier: MIT */
/*
 * portless enroll @name --cp HOST:PORT --server-key KEY --code CODE [--keys DIR]
 * Makes keys on this machine (or uses the existing key file), proves the
 * one-time code to the control plane, publishes the signed public keys, and
 * writes DIR/cp.conf (server address + pinned server key) for later commands.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>

#include "cliutil.h"
#include "cmds.h"
#include "cp_client.h"

struct enroll_ctx {
	struct ev_loop *loop;
	int err;
	char msg[256];
	bool done;
};

static void enrolled(void *arg, int err, const char *msg)
{
	struct enroll_ctx *e = arg;

	e->err = err;
	snprintf(e->msg, sizeof(e->msg), "%s", msg);
	e->done = true;
	ev_break(e->loop, EVBREAK_ALL);
}

/* Load the key file, or create it for @p handle when the directory has none. */
static struct identity *edge_identity(const char *dir, const char *handle)
{
	char path[4096], err[256];
	struct identity *id = NULL;

	if (identity_path(path, sizeof(path), dir) < 0)
		return NULL;
	if (access(path, F_OK) == 0) {
		id = cli_load_identity(dir);
		if (id && strcmp(id->pub.handle, handle) != 0) {
			fprintf(stderr, "error: %s holds the keys of %s, not %s\n", path,
				id->pub.handle, handle);
			identity_free(id);
			return NULL;
		}
		return id;
	}
	if (cli_make_keys_dir(dir) < 0)
		return NULL;
	id = identity_generate(handle);
	if (!id || identity_save(id, path, false, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: cannot create keys: %s\n", id ? err : "no memory");
		identity_free(id);
		return NULL;
	}
	fprintf(stderr, "created new keys in %s\n", path);
	return id;
}

static int run_enroll(const char *dir, struct identity *id, const char *cp, const uint8_t pk[32],
		      const char *code)
{
	struct enroll_ctx e = {.loop = EV_DEFAULT, .err = CP_E_TIMEOUT};
	struct cp_client_cfg cfg = {.server = cp, .id = id, .keydir = dir};
	struct cp_client *c;
	char err[256], fpr[ID_FPR_BUF];

	memcpy(cfg.server_pk, pk, 32);
	c = cp_client_new(e.loop, &cfg);
	if (!c || cp_client_enroll(c, code, enrolled, &e) < 0) {
		fprintf(stderr, "error: cannot start the client\n");
		cp_client_free(c);
		return CLI_FAIL;
	}
	ev_run(e.loop, 0);
	cp_client_free(c);
	if (e.err) {
		fprintf(stderr, "error: enrollment failed: %s\n", e.done ? e.msg : "no answer");
		return CLI_FAIL;
	}
	if (cp_conf_save(dir, cp, pk, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: enrolled, but %s\n", err);
		return CLI_FAIL;
	}
	identity_fingerprint(&id->pub, fpr);
	printf("enrolled %s %s\n", id->pub.handle, fpr);
	return CLI_OK;
}

int cmd_enroll(int argc, char **argv)
{
	static const char *const names[] = {"--cp", "--server-key", "--code", "--keys", NULL};
	const char *v[4] = {NULL};
	uint8_t pk[32];
	char dir[4096];
	struct identity *id;
	int ret;

	argc = cli_take_opts(argc, argv, names, v, NULL, NULL);
	if (argc != 2 || !v[0] || !v[1] || !v[2]) {
		fprintf(stderr, "usage: portless enroll @name --cp HOST:PORT --server-key KEY "
				"--code CODE [--keys DIR]\n");
		return CLI_USAGE;
	}
	if (!handle_valid(argv[1])) {
		fprintf(stderr, "error: '%s' is not a valid handle\n", argv[1]);
		return CLI_USAGE;
	}
	if (cli_parse_key32(v[1], pk) < 0) {
		fprintf(stderr, "error: --server-key wants the base64 key printed by "
				"'portless-cp init'\n");
		return CLI_USAGE;
	}
	if (cli_keys_dir(v[3], dir, sizeof(dir)) < 0)
		return CLI_FAIL;
	id = edge_identity(dir, argv[1]);
	if (!id)
		return CLI_FAIL;
	ret = run_enroll(dir, id, v[0], pk, v[2]);
	identity_free(id);
	return ret;
}
