/* SPDX-License-Identifier: MIT */
/* portless notify @to TYPE TEXT [--keys DIR] [--ttl SECONDS]: send one notification. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "cliutil.h"
#include "cmds.h"
#include "cp_client.h"
#include "msgtypes.h"

struct notify_ctx {
	struct ev_loop *loop;
	int err;
	bool offline; /* queued: the recipient is not connected */
	char msg[256];
};

static void sent(void *arg, int err, const char *msg)
{
	struct notify_ctx *n = arg;

	n->err = err;
	n->offline = !err && msg == cp_msg_offline;
	snprintf(n->msg, sizeof(n->msg), "%s", msg ? msg : "");
	ev_break(n->loop, EVBREAK_ALL);
}

/* TYPE: a number, or "text". */
static int parse_type(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v;

	if (!strcmp(s, "text")) {
		*out = MSG_TEXT;
		return 0;
	}
	v = strtoul(s, &end, 0);
	if (!*s || *end || v > 0xffff)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

int cmd_notify(int argc, char **argv)
{
	static const char *const names[] = {"--keys", "--ttl", NULL};
	const char *v[2] = {NULL};
	struct notify_ctx n = {.loop = EV_DEFAULT, .err = CP_E_TIMEOUT, .msg = "no answer"};
	struct cp_client_cfg cfg;
	struct cp_client *c = NULL;
	char err[512];
	uint16_t type;
	unsigned long ttl = 3600;

	argc = cli_take_opts(argc, argv, names, v, NULL, NULL);
	if (argc != 4 || parse_type(argv[2], &type) < 0 ||
	    (v[1] && !(ttl = strtoul(v[1], NULL, 10)))) {
		fprintf(stderr,
			"usage: portless notify @to TYPE TEXT [--keys DIR] [--ttl SECONDS]\n"
			"  TYPE: 'text' or a number\n");
		return CLI_USAGE;
	}
	if (cp_client_cfg_load(v[0], &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: %s\n", err);
		return CLI_FAIL;
	}
	c = cp_client_new(n.loop, &cfg);
	if (!c || cp_client_notify(c, argv[1], type, (const uint8_t *)argv[3], strlen(argv[3]),
				   (uint32_t)ttl, sent, &n) < 0) {
		fprintf(stderr, "error: invalid notification (handle, size or ttl)\n");
		n.err = CP_E_ARG;
	} else {
		ev_run(n.loop, 0);
	}
	cp_client_free(c);
	cp_client_cfg_release(&cfg);
	if (n.err) {
		fprintf(stderr, "error: %s\n", n.msg);
		return CLI_FAIL;
	}
	printf("delivered to the home of %s%s\n", argv[1],
	       n.offline ? " (queued: it is not connected now)" : "");
	return CLI_OK;
}
