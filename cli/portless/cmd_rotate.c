/* SPDX-License-Identifier: MIT */
/*
 * portless rotate [--keys DIR]: new identity keys, published to our home
 * signed by the old key, then the key file is switched atomically.
 *
 *  1. a fresh key pair goes to DIR/identity.key.new (kept if a step fails);
 *  2. ROTATE to the home, authenticated with the old key: the new keys,
 *     their self-signature and the proof by the old key (cp_rot.h); the
 *     home keeps the proof and hands it to peers with the keys, so peers
 *     that pinned the old keys move their pin on their own;
 *  3. rename(identity.key.new, identity.key): atomic.
 * If step 3 fails after the home took the new keys, the new key is still in
 * identity.key.new: move it into place by hand.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <sodium.h>

#include "cliutil.h"
#include "cmds.h"
#include "cp_client.h"
#include "cp_hs.h"
#include "cp_rot.h"
#include "net.h"

struct rot_ctx {
	struct ev_loop *loop;
	int err;
	char msg[256];
};

static void rotated(void *arg, int err, const char *msg)
{
	struct rot_ctx *r = arg;

	r->err = err;
	snprintf(r->msg, sizeof(r->msg), "%s", msg);
	ev_break(r->loop, EVBREAK_ALL);
}

/* Publish @p nid at the home of cfg->id. 0 or a cp_err (message printed). */
static int publish(struct cp_client_cfg *cfg, const struct identity *nid)
{
	struct rot_ctx r = {.loop = EV_DEFAULT, .err = CP_E_TIMEOUT, .msg = "no answer"};
	uint8_t keysig[CP_SIG_LEN], proof[CP_ROT_MAX];
	struct cp_client *c;
	int n;

	cp_keys_sign(nid, keysig);
	n = cp_rot_make(cfg->id, &nid->pub, net_unix_now(), proof, sizeof(proof));
	if (n < 0)
		return CP_E_INTERNAL;
	c = cp_client_new(r.loop, cfg);
	if (!c || cp_client_rotate(c, keysig, proof, (size_t)n, rotated, &r) < 0) {
		cp_client_free(c);
		return CP_E_NOMEM;
	}
	ev_run(r.loop, 0);
	cp_client_free(c);
	if (r.err)
		fprintf(stderr, "error: the home refused the new keys: %s\n", r.msg);
	return r.err;
}

int cmd_rotate(int argc, char **argv)
{
	static const char *const names[] = {"--keys", NULL};
	const char *v[1] = {NULL};
	struct cp_client_cfg cfg;
	struct identity *nid = NULL;
	char err[512], path[4200], npath[4210], fa[ID_FPR_BUF], fb[ID_FPR_BUF];
	int ret = CLI_FAIL;

	if (cli_take_opts(argc, argv, names, v, NULL, NULL) != 1) {
		fprintf(stderr, "usage: portless rotate [--keys DIR]\n");
		return CLI_USAGE;
	}
	if (cp_client_cfg_load(v[0], &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: %s\n", err);
		return CLI_FAIL;
	}
	if (identity_path(path, sizeof(path), cfg.keydir) < 0 ||
	    (size_t)snprintf(npath, sizeof(npath), "%s.new", path) >= sizeof(npath)) {
		fprintf(stderr, "error: key directory path too long\n");
		goto out;
	}
	if (access(npath, F_OK) == 0) {
		fprintf(stderr,
			"error: %s exists (an interrupted rotation). If 'portless whoami' with it "
			"works at the home, move it to %s; else delete it and run rotate again.\n",
			npath, path);
		goto out;
	}
	nid = identity_generate(cfg.id->pub.handle);
	if (!nid || identity_save(nid, npath, false, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: cannot write the new key: %s\n", nid ? err : "no memory");
		goto out;
	}
	if (publish(&cfg, nid) != 0) {
		unlink(npath); /* the home still has the old keys: nothing changed */
		goto out;
	}
	if (rename(npath, path) < 0) {
		fprintf(stderr,
			"error: the home has the new keys but %s could not replace %s (%s): move "
			"it by hand\n",
			npath, path, strerror(errno));
		goto out;
	}
	identity_fingerprint(&cfg.id->pub, fa);
	identity_fingerprint(&nid->pub, fb);
	printf("%s rotated: %s -> %s\n", nid->pub.handle, fa, fb);
	fprintf(stderr, "peers that pinned the old keys follow on their own (signed by the old "
			"key); restart portlessd to use the new key\n");
	ret = CLI_OK;
out:
	identity_free(nid);
	cp_client_cfg_release(&cfg);
	return ret;
}
