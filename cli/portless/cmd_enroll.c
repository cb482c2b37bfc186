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
#include "cp_srv_enroll.h"

struct enroll_ctx {
	struct ev_loop *loop;
	int err;
	int down_err; /* why the connection went down: the server's answer, if any */
	char msg[256];
	bool done;
};

/* The request fails as "closed" when the server refused; this says why. */
static void on_state(void *arg, bool up, int err, const char *msg)
{
	struct enroll_ctx *e = arg;

	(void)msg;
	if (!up)
		e->down_err = err;
}

static void enrolled(void *arg, int err, const char *msg)
{
	struct enroll_ctx *e = arg;

	e->err = err == CP_E_CLOSED && e->down_err ? e->down_err : err;
	snprintf(e->msg, sizeof(e->msg), "%s", msg);
	e->done = true;
	ev_break(e->loop, EVBREAK_ALL);
}

/*
 * Load the key file, or create it for @p handle when the directory has none
 * (then *@p made is set: an enrollment that never met the server removes it).
 */
static struct identity *edge_identity(const char *dir, const char *handle, bool *made)
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
	*made = true;
	return id;
}

/* Private to this file: we never reached the right server (keys made may go). */
enum { ENROLL_NOT_MET = 3 };

/*
 * Did the failure come before the pinned server saw our keys (no connection,
 * another server key, a bad address)? Then keys just made are of no use. After
 * a refusal by the server (wrong code, rate limit) they are kept for the retry.
 */
static bool never_met(int err)
{
	return err == CP_E_CONNECT || err == CP_E_SERVER_KEY || err == CP_E_CONFIG;
}

/* The failure, with the address and, where it helps, what to do. */
static void report_failure(const char *cp, const struct enroll_ctx *e)
{
	const char *msg = e->done ? e->msg : "no answer";

	if (e->err == CP_E_CONNECT)
		fprintf(stderr, "error: cannot reach the control plane at %s: %s\n", cp, msg);
	else if (e->err == CP_E_SERVER_KEY)
		fprintf(stderr,
			"error: the server at %s: %s: is --server-key the key 'portless-cp init' "
			"printed there?\n",
			cp, msg);
	else if (e->err == CP_E_RATE_LIMITED && strstr(msg, "wrong codes"))
		fprintf(
		    stderr,
		    "error: enrollment at %s refused: %s (this identity waits 2 s after a wrong "
		    "code, twice as long after each further one, at most %d s)\n",
		    cp, msg, CP_SRV_ENROLL_BACKOFF_MAX);
	else if (e->err == CP_E_RATE_LIMITED)
		fprintf(stderr,
			"error: enrollment at %s refused: %s (the server takes codes again within "
			"%d s)\n",
			cp, msg, CP_SRV_ENROLL_FAIL_WINDOW);
	else
		fprintf(stderr, "error: enrollment at %s failed: %s\n", cp, msg);
}

static int run_enroll(const char *dir, struct identity *id, const char *cp, const uint8_t pk[32],
		      const char *code)
{
	struct enroll_ctx e = {.loop = EV_DEFAULT, .err = CP_E_TIMEOUT};
	struct cp_client_cfg cfg = {
	    .server = cp, .id = id, .keydir = dir, .on_state = on_state, .arg = &e};
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
		report_failure(cp, &e);
		return never_met(e.err) ? ENROLL_NOT_MET : CLI_FAIL;
	}
	if (cp_conf_save(dir, cp, pk, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: enrolled, but %s\n", err);
		return CLI_FAIL;
	}
	identity_fingerprint(&id->pub, fpr);
	printf("enrolled %s %s\n", id->pub.handle, fpr);
	return CLI_OK;
}

/*
 * The keys made for an enrollment that did not happen: nobody knows them,
 * and a retry (perhaps with another handle) should not find them.
 */
static void forget_keys(const char *dir)
{
	char path[4096];

	if (identity_path(path, sizeof(path), dir) == 0 && unlink(path) == 0)
		fprintf(stderr, "removed the new keys again (%s)\n", path);
}

int cmd_enroll(int argc, char **argv)
{
	static const char *const names[] = {"--cp", "--server-key", "--code", "--keys", NULL};
	const char *v[4] = {NULL};
	uint8_t pk[32];
	char dir[4096];
	struct identity *id;
	bool made = false;
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
	id = edge_identity(dir, argv[1], &made);
	if (!id)
		return CLI_FAIL;
	ret = run_enroll(dir, id, v[0], pk, v[2]);
	identity_free(id);
	if (ret == ENROLL_NOT_MET && made)
		forget_keys(dir);
	return ret == ENROLL_NOT_MET ? CLI_FAIL : ret;
}
