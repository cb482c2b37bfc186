/* SPDX-License-Identifier: MIT */
/*
 * What the tests of the relay's objects share (included by them, no test of
 * its own): loopback addresses, and one session issued into a table on a
 * clock the test holds (loop time FIX_T0, unix time FIX_UNIX0); for the
 * loopback tests, a relay configuration on 127.0.0.1 with their clock.
 */
#ifndef PORTLESS_TEST_RELAY_FIX_H
#define PORTLESS_TEST_RELAY_FIX_H

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "relay.h"
#include "relay_table.h"

enum { FIX_UNIX0 = 1700000000, FIX_T0 = 50 };

struct relay_fix {
	struct sr_issuer *iss;
	struct relay_table *t;
	struct sr_ticket tk;
	struct relay_sess s;
	struct sockaddr_storage a, b, c; /* 127.0.0.1, ports 4000, 4001 and 5000 */
	socklen_t alen;
};

static inline void fix_addr(struct sockaddr_storage *ss, uint16_t port)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	in->sin_port = htons(port);
}

/* Zero @p f and give it its addresses. */
static inline void fix_addrs(struct relay_fix *f)
{
	memset(f, 0, sizeof(*f));
	fix_addr(&f->a, 4000);
	fix_addr(&f->b, 4001);
	fix_addr(&f->c, 5000);
	f->alen = sizeof(struct sockaddr_in);
}

/* Addresses, and a 30 s ticket issued at FIX_T0 into a fresh table. 0 or -1. */
static inline int fix_init(struct relay_fix *f, const struct relay_limits *l)
{
	fix_addrs(f);
	f->iss = sr_issuer_new();
	f->t = relay_table_new(8, 8);
	if (!f->iss || !f->t || sr_issuer_issue(f->iss, FIX_UNIX0, 30, "relay", 1, 2, &f->tk) != 0)
		return -1;
	relay_sess_init(&f->s, &f->tk, "@a", "@b", l, FIX_T0);
	return relay_table_add(f->t, &f->s) == 0 ? 0 : -1;
}

static inline void fix_fini(struct relay_fix *f)
{
	relay_table_free(f->t);
	sr_issuer_free(f->iss);
	sr_ticket_wipe(&f->tk);
}

/* Defaults, TCP and UDP on 127.0.0.1 (ports chosen by the kernel), clock @p clk. */
static inline void fix_loopback_cfg(struct relay_cfg *cfg, const struct relay_clock *clk)
{
	relay_cfg_default(cfg);
	for (int i = 0; i < 2; i++) {
		struct sockaddr_in *in =
		    (struct sockaddr_in *)(i ? &cfg->udp_addr : &cfg->tcp_addr);

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	cfg->tcp_len = cfg->udp_len = sizeof(struct sockaddr_in);
	snprintf(cfg->host, sizeof(cfg->host), "127.0.0.1");
	cfg->clock = *clk;
}

#endif
