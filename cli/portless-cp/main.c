/* SPDX-License-Identifier: MIT */
/* portless-cp: the control plane (directory + homes). Thin main: dispatch. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <sodium.h>

#include "cliutil.h"
#include "cp_hs.h"
#include "cp_server.h"
#include "cp_store.h"
#include "log.h"
#include "net.h"
#include "privdrop.h"
#include "text.h"

static const struct {
	const char *name, *usage, *help;
} helps[] = {
    {"init", "init --data DIR",
     "Make the data directory and the server key; prints the public key that\n"
     "clients pin (portless enroll --server-key).\n"},
    {"serve",
     "serve --data DIR --listen IP:PORT [--advertise HOST:PORT] [--max-conns N]\n"
     "      [--log-level LEVEL] [--user NAME] [--no-seccomp]",
     "Serve the directory and the homes of the identities in DIR.\n"
     "  --listen IP:PORT      where to listen (TCP; the unit uses 0.0.0.0:7443)\n"
     "  --advertise HOST:PORT the address this server's identities call their home\n"
     "  --max-conns N         connection limit\n"
     "  --log-level LEVEL     error, warn, info (default) or debug\n"
     "  --user NAME           started as root: run as NAME (default portless, else nobody)\n"
     "  --no-seccomp          no system-call filter (debugging)\n"},
    {"add", "add @name [@name...] --data DIR [--code-ttl SECONDS]",
     "Make an identity slot and print its one-time enrollment code.\n"
     "  --code-ttl SECONDS    how long the code is valid (default 86400)\n"},
    {"list", "list --data DIR", "List identities: enrolled, revoked or pending.\n"},
    {"remove", "remove @name --data DIR", "Forget an identity (it may be added again).\n"},
    {"revoke", "revoke @name --data DIR",
     "Refuse an identity from now on; its connections are closed within seconds.\n"},
};

enum { NHELPS = sizeof(helps) / sizeof(helps[0]) };

static int usage(FILE *f)
{
	fprintf(f, "usage:\n");
	for (size_t i = 0; i < NHELPS; i++)
		fprintf(f, "  portless-cp %s\n", helps[i].usage);
	fprintf(f, "  portless-cp help [COMMAND] | --version\n"
		   "'portless-cp COMMAND --help' tells more; man portless-cp(8).\n");
	return f == stdout ? CLI_OK : CLI_USAGE;
}

/* One subcommand's help text, whole (NULL: no such subcommand). */
static const char *sub_help(const char *name)
{
	static char buf[2048];

	for (size_t i = 0; i < NHELPS; i++)
		if (!strcmp(helps[i].name, name)) {
			snprintf(buf, sizeof(buf), "usage: portless-cp %s\n%s", helps[i].usage,
				 helps[i].help);
			return buf;
		}
	return NULL;
}

/* portless-cp help [COMMAND] */
static int help(int argc, char **argv)
{
	const char *h = argc > 2 ? sub_help(argv[2]) : NULL;

	if (argc < 3)
		return usage(stdout);
	if (!h) {
		fprintf(stderr, "portless-cp: unknown command '%s'\n", argv[2]);
		return usage(stderr);
	}
	fputs(h, stdout);
	return CLI_OK;
}

static int cmd_init(int argc, char **argv)
{
	static const char *const names[] = {"--data", NULL};
	const char *vals[1] = {NULL};
	uint8_t pk[CP_KEY_LEN];
	char err[512], b64[64];

	if (cli_take_opts(argc, argv, names, vals, NULL, NULL) != 1 || !vals[0])
		return usage(stderr);
	if (cp_data_init(vals[0], pk, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: %s\n", err);
		return CLI_FAIL;
	}
	if (text_to_b64(b64, sizeof(b64), pk, sizeof(pk)) < 0)
		return CLI_FAIL;
	printf("%s\n", b64);
	fprintf(stderr,
		"server key created in %s; clients pin the public key above "
		"(portless enroll --server-key)\n",
		vals[0]);
	return CLI_OK;
}

static void stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	log_msg(PL_LOG_INFO, "cp: signal %d, stopping", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

static int cmd_serve(int argc, char **argv)
{
	static const char *const names[] = {"--data",      "--listen", "--advertise", "--max-conns",
					    "--log-level", "--user",   NULL};
	static const char *const flags[] = {"--no-seccomp", NULL};
	const char *v[6] = {NULL};
	bool no_seccomp = false;
	struct cp_server_cfg cfg = {0};
	struct ev_loop *loop = EV_DEFAULT;
	ev_signal sint, sterm;
	struct cp_server *s;
	char err[512];

	if (cli_take_opts(argc, argv, names, v, flags, &no_seccomp) != 1 || !v[0] || !v[1])
		return usage(stderr);
	/* Each notification allocated and freed a large block at the heap's top,
	 * and glibc gave it back to the kernel every time: two brk() per
	 * notification. Keep up to 8 MiB of free heap instead. */
	mallopt(M_TRIM_THRESHOLD, 8 << 20);
	mallopt(M_TOP_PAD, 1 << 20);
	if (v[4] && log_level_parse(v[4]) >= 0)
		log_set_level(log_level_parse(v[4]));
	cfg.datadir = v[0];
	cfg.listen = v[1];
	cfg.advertise = v[2];
	cfg.max_conns = v[3] ? (unsigned)strtoul(v[3], NULL, 10) : 0;
	signal(SIGPIPE, SIG_IGN);
	s = cp_server_new(loop, &cfg, err, sizeof(err));
	if (!s) {
		fprintf(stderr, "error: %s\n", err);
		return CLI_FAIL;
	}
	ev_signal_init(&sint, stop_cb, SIGINT);
	ev_signal_init(&sterm, stop_cb, SIGTERM);
	ev_signal_start(loop, &sint);
	ev_signal_start(loop, &sterm);
	if (privdrop_user(v[5], (const char *const[]){cfg.datadir, NULL}) < 0 ||
	    (!no_seccomp && privdrop_seccomp(PRIVDROP_CP) < 0)) {
		cp_server_free(s);
		return CLI_FAIL;
	}
	fprintf(stderr, "portless-cp: listening on %s\n", cfg.listen);
	cli_notify_ready("serving");
	ev_run(loop, 0);
	cp_server_free(s);
	return CLI_OK;
}

static struct cp_store *open_store(const char *dir)
{
	struct cp_store *st = NULL;
	char err[512];

	if (cp_store_open(dir, false, &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: %s\n", err);
		return NULL;
	}
	return st;
}

static int add_one(struct cp_store *st, const char *h, uint64_t ttl)
{
	char code[CP_CODE_BUF];
	uint8_t hash[CP_HASH_LEN];
	uint64_t now = net_unix_now();
	int r;

	if (!handle_valid(h)) {
		fprintf(stderr, "error: '%s' is not a valid handle\n", h);
		return -EINVAL;
	}
	cp_code_generate(code);
	cp_code_hash(code, hash);
	r = cp_store_add_slot(st, h, hash, now + ttl, now);
	if (r == -EEXIST)
		fprintf(stderr, "error: %s is already enrolled (remove it first)\n", h);
	else if (r == 0)
		printf("%s %s\n", h, code);
	sodium_memzero(code, sizeof(code));
	return r;
}

static int cmd_add(int argc, char **argv)
{
	static const char *const names[] = {"--data", "--code-ttl", NULL};
	const char *v[2] = {NULL};
	uint64_t ttl = 86400;
	struct cp_store *st;
	int ret = CLI_OK;

	argc = cli_take_opts(argc, argv, names, v, NULL, NULL);
	if (argc < 2 || !v[0])
		return usage(stderr);
	if (v[1]) {
		char *end;

		ttl = strtoull(v[1], &end, 10);
		if (*end || ttl == 0 || ttl > 365ull * 86400) {
			fprintf(stderr, "error: --code-ttl wants 1..31536000 seconds\n");
			return CLI_USAGE;
		}
	}
	st = open_store(v[0]);
	if (!st)
		return CLI_FAIL;
	if (cp_store_begin(st) < 0) {
		cp_store_close(st);
		return CLI_FAIL;
	}
	for (int i = 1; i < argc; i++)
		if (add_one(st, argv[i], ttl) < 0)
			ret = CLI_FAIL;
	if (ret == CLI_OK && cp_store_commit(st) < 0)
		ret = CLI_FAIL;
	if (ret != CLI_OK)
		cp_store_rollback(st);
	cp_store_close(st);
	return ret;
}

static void list_cb(void *arg, const struct cp_ident *id)
{
	char fpr[ID_FPR_BUF];

	if (id->state == CP_ID_ENROLLED || id->state == CP_ID_REVOKED) {
		identity_fingerprint(&id->pk, fpr);
		printf("%-24s %s %s\n", id->pk.handle,
		       id->state == CP_ID_REVOKED ? "revoked " : "enrolled", fpr);
	} else {
		printf("%-24s pending  code %s\n", id->pk.handle,
		       net_unix_now() < id->code_expiry ? "valid" : "expired");
	}
}

static int cmd_list(int argc, char **argv)
{
	static const char *const names[] = {"--data", NULL};
	const char *v[1] = {NULL};
	struct cp_store *st;
	int r;

	if (cli_take_opts(argc, argv, names, v, NULL, NULL) != 1 || !v[0])
		return usage(stderr);
	st = open_store(v[0]);
	if (!st)
		return CLI_FAIL;
	r = cp_store_list(st, list_cb, NULL);
	cp_store_close(st);
	return r < 0 ? CLI_FAIL : CLI_OK;
}

static int cmd_remove(int argc, char **argv)
{
	static const char *const names[] = {"--data", NULL};
	const char *v[1] = {NULL};
	struct cp_store *st;
	int r;

	if (cli_take_opts(argc, argv, names, v, NULL, NULL) != 2 || !v[0])
		return usage(stderr);
	st = open_store(v[0]);
	if (!st)
		return CLI_FAIL;
	r = cp_store_begin(st);
	if (r == 0)
		r = cp_store_remove(st, argv[1]);
	if (r == 0)
		r = cp_store_commit(st);
	else
		cp_store_rollback(st);
	cp_store_close(st);
	if (r == -ENOENT)
		fprintf(stderr, "error: unknown identity %s\n", argv[1]);
	else if (r == 0)
		fprintf(stderr, "removed %s (a running server notices within seconds)\n", argv[1]);
	return r < 0 ? CLI_FAIL : CLI_OK;
}

/*
 * revoke @name: the identity stays known but every use is refused with
 * CP_E_REVOKED (authentication, notifications to it, its keys); its open
 * connections are closed by a running server within seconds.
 */
static int cmd_revoke(int argc, char **argv)
{
	static const char *const names[] = {"--data", NULL};
	const char *v[1] = {NULL};
	struct cp_store *st;
	int r;

	if (cli_take_opts(argc, argv, names, v, NULL, NULL) != 2 || !v[0])
		return usage(stderr);
	st = open_store(v[0]);
	if (!st)
		return CLI_FAIL;
	r = cp_store_begin(st);
	if (r == 0)
		r = cp_store_revoke(st, argv[1]);
	if (r == 0)
		r = cp_store_commit(st);
	else
		cp_store_rollback(st);
	cp_store_close(st);
	if (r == -ENOENT)
		fprintf(stderr, "error: %s is not an enrolled identity\n", argv[1]);
	else if (r == 0)
		fprintf(stderr, "revoked %s (a running server notices within seconds)\n", argv[1]);
	return r < 0 ? CLI_FAIL : CLI_OK;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {{"init", cmd_init}, {"serve", cmd_serve},   {"add", cmd_add},
		    {"list", cmd_list}, {"remove", cmd_remove}, {"revoke", cmd_revoke}};

	if (sodium_init() < 0 || log_init(argv[0]) < 0)
		return CLI_FAIL;
	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return usage(stdout);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
		return cli_version("portless-cp");
	if (!strcmp(argv[1], "help"))
		return cli_std_opts(argc - 1, argv + 1, "portless-cp",
				    "usage: portless-cp help [COMMAND]\n")
			   ? CLI_OK
			   : help(argc, argv);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name) != 0)
			continue;
		if (cli_std_opts(argc - 1, argv + 1, "portless-cp", sub_help(cmds[i].name)))
			return CLI_OK;
		return cmds[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "portless-cp: unknown command '%s'\n", argv[1]);
	return usage(stderr);
}
