/* SPDX-License-Identifier: MIT */
/*
 * portless listen [--keys DIR] [--count N]: keep the monitor connection and
 * print notifications as they arrive: "<from> <type> <text>" (non-printable
 * bytes as \xNN). --count N exits after N notifications.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "cliutil.h"
#include "cmds.h"
#include "cp_client.h"

struct listen_ctx {
	struct ev_loop *loop;
	struct cp_client *c;
	unsigned long left; /**< 0: forever */
};

static void print_payload(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			putchar(p[i]);
		else
			printf("\\x%02x", p[i]);
	}
}

static void on_note(void *arg, const struct envelope *env)
{
	struct listen_ctx *l = arg;

	printf("%s %u ", env->from, env->type);
	print_payload(env->payload, env->payload_len);
	putchar('\n');
	fflush(stdout);
	if (l->left && --l->left == 0) {
		/* stop at once: later pushes stay unacknowledged and queued */
		cp_client_free(l->c);
		l->c = NULL;
		ev_break(l->loop, EVBREAK_ALL);
	}
}

static void on_state(void *arg, bool up, int err, const char *msg)
{
	if (up)
		fprintf(stderr, "listening (connected)\n");
	else
		fprintf(stderr, "disconnected: %s (%s); retrying\n", msg, cp_strerror(err));
}

static void stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

int cmd_listen(int argc, char **argv)
{
	static const char *const names[] = {"--keys", "--count", NULL};
	const char *v[2] = {NULL};
	struct listen_ctx l = {.loop = EV_DEFAULT};
	struct cp_client_cfg cfg;
	struct cp_client *c;
	ev_signal sint, sterm;
	char err[512];

	argc = cli_take_opts(argc, argv, names, v, NULL, NULL);
	if (argc != 1) {
		fprintf(stderr, "usage: portless listen [--keys DIR] [--count N]\n");
		return CLI_USAGE;
	}
	if (v[1])
		l.left = strtoul(v[1], NULL, 10);
	if (cp_client_cfg_load(v[0], &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: %s\n", err);
		return CLI_FAIL;
	}
	cfg.on_notification = on_note;
	cfg.on_state = on_state;
	cfg.arg = &l;
	signal(SIGPIPE, SIG_IGN);
	c = l.c = cp_client_new(l.loop, &cfg);
	if (!c || cp_client_monitor(c) < 0) {
		fprintf(stderr, "error: cannot start the client\n");
		cp_client_free(c);
		cp_client_cfg_release(&cfg);
		return CLI_FAIL;
	}
	ev_signal_init(&sint, stop_cb, SIGINT);
	ev_signal_init(&sterm, stop_cb, SIGTERM);
	ev_signal_start(l.loop, &sint);
	ev_signal_start(l.loop, &sterm);
	ev_run(l.loop, 0);
	cp_client_free(l.c);
	cp_client_cfg_release(&cfg);
	return CLI_OK;
}
