/* SPDX-License-Identifier: MIT */
/*
 * sr_relay_local: the relay library in a process of its own, without the
 * control plane: issues N tickets at start (DIR/ticket.<i>, hex of the
 * MSG_SR_TICKET payload) and relays until SIGTERM. For tests that hand
 * tickets over directly and for the memory benchmark.
 *
 *   sr_relay_local --tcp 127.0.0.1:P --udp 127.0.0.1:Q --tickets N --out DIR
 *                  [--idle S] [--ttl S] [--max N]
 */
#include <signal.h>

#include <ev.h>

#include "log.h"
#include "net.h"
#include "relay.h"
#include "sr_util.h"

static void stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static int issue_all(struct relay *r, unsigned n, const char *dir)
{
	uint8_t buf[SR_TICKET_MAX];
	char hex[2 * SR_TICKET_MAX + 1], path[4096];
	struct sr_ticket t;
	size_t len;

	for (unsigned i = 0; i < n; i++) {
		if (relay_issue(r, "@tester", "@peer", &t) < 0 ||
		    sr_ticket_encode(&t, buf, sizeof(buf), &len) < 0)
			return -1;
		sodium_bin2hex(hex, sizeof(hex), buf, len);
		snprintf(path, sizeof(path), "%s/ticket.%u", dir, i);
		if (sr_write_file(path, hex) < 0)
			return -1;
		sr_ticket_wipe(&t);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct relay_cfg rc;
	struct ev_loop *loop;
	struct relay *r;
	ev_signal s1, s2;
	const char *out = ".";
	unsigned n = 1;
	int e = 0;

	if (sodium_init() < 0 || log_init("sr_relay_local") < 0)
		return 1;
	relay_cfg_default(&rc);
	strcpy(rc.host, "127.0.0.1");
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (!strcmp(k, "--tcp"))
			e |= net_parse_hostport(v, &rc.tcp_addr, &rc.tcp_len);
		else if (!strcmp(k, "--udp"))
			e |= net_parse_hostport(v, &rc.udp_addr, &rc.udp_len);
		else if (!strcmp(k, "--tickets"))
			n = (unsigned)atoi(v);
		else if (!strcmp(k, "--out"))
			out = v;
		else if (!strcmp(k, "--idle"))
			rc.idle_timeout = (unsigned)atoi(v);
		else if (!strcmp(k, "--ttl"))
			rc.ticket_ttl = rc.unpaired_timeout = (unsigned)atoi(v);
		else if (!strcmp(k, "--max"))
			rc.max_sessions = (unsigned)atoi(v);
		else
			e = -1;
	}
	if (e || !rc.tcp_len || !rc.udp_len) {
		fprintf(stderr,
			"usage: sr_relay_local --tcp A:P --udp A:P [--tickets N] [--out DIR]\n");
		return 2;
	}
	if (rc.max_sessions < n)
		rc.max_sessions = n;
	rc.max_per_identity = rc.max_sessions;
	signal(SIGPIPE, SIG_IGN);
	loop = ev_default_loop(0);
	r = relay_new(loop, &rc, &e);
	if (!r || issue_all(r, n, out) < 0) {
		fprintf(stderr, "sr_relay_local: cannot start (%s)\n", strerror(-e));
		return 1;
	}
	ev_signal_init(&s1, stop_cb, SIGTERM);
	ev_signal_init(&s2, stop_cb, SIGINT);
	ev_signal_start(loop, &s1);
	ev_signal_start(loop, &s2);
	printf("ready\n");
	fflush(stdout);
	ev_run(loop, 0);
	relay_free(r);
	return 0;
}
