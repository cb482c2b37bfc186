/* SPDX-License-Identifier: MIT */
/*
 * The relay's limits, on loopback with the real SR client on both sides:
 * caps on sessions in all and per requester, an unused ticket expires, an
 * authenticated side whose peer never comes times out, a paired session
 * with no traffic idles out, a side's secret works once, a TCP connection
 * that never authenticates is closed.
 *
 * The relay runs on an injected clock: the tests move it forward and call
 * relay_tick() instead of waiting for its timers. The loop still carries
 * the real packets (a few milliseconds of real time on loopback).
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>
#include <sodium.h>

#include "dp_keys.h"
#include "net.h"
#include "relay.h"
#include "sr_client.h"
#include "test_relay_fix.h"

struct side {
	struct sr_client *c;
	int ups, downs, down_reason;
	char down_msg[128];
};

struct world {
	struct ev_loop *loop;
	struct relay *r;
	double skew; /* the relay's clock runs this far ahead of the loop's */
	ev_timer poke;
	struct sr_ticket tk;
	struct dp_keypair ka, kb; /* the two sides' ephemeral keys */
	struct side a, b, a2;
};

static void on_up(void *arg, int transport)
{
	((struct side *)arg)->ups++;
}

static void on_packet(void *arg, struct pkt *p)
{
}

static void on_down(void *arg, int reason, const char *msg)
{
	struct side *s = arg;

	s->downs++;
	s->down_reason = reason;
	snprintf(s->down_msg, sizeof(s->down_msg), "%s", msg ? msg : "");
}

static double relay_now(void *arg)
{
	struct world *w = arg;

	return ev_now(w->loop) + w->skew;
}

static uint64_t relay_unix_now(void *arg)
{
	struct world *w = arg;

	return net_unix_now() + (uint64_t)w->skew;
}

static void poke_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
}

static int setup(void **state)
{
	static struct world w;
	struct relay_cfg cfg;
	int err = 0;

	memset(&w, 0, sizeof(w));
	w.loop = ev_loop_new(EVFLAG_AUTO);
	fix_loopback_cfg(&cfg, &(struct relay_clock){relay_now, relay_unix_now, &w});
	cfg.ticket_ttl = 1;
	cfg.unpaired_timeout = 1;
	cfg.idle_timeout = 1;
	cfg.max_sessions = 4;
	cfg.max_per_identity = 2;
	w.r = relay_new(w.loop, &cfg, &err);
	assert_non_null(w.r);
	assert_int_equal(dp_keypair_new(&w.ka), 0);
	assert_int_equal(dp_keypair_new(&w.kb), 0);
	ev_timer_init(&w.poke, poke_cb, 0.005, 0.005); /* run_until() looks every 5 ms */
	ev_timer_start(w.loop, &w.poke);
	*state = &w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	sr_client_free(w->a.c);
	sr_client_free(w->a2.c);
	sr_client_free(w->b.c);
	relay_free(w->r);
	sr_ticket_wipe(&w->tk);
	dp_keypair_wipe(&w->ka);
	dp_keypair_wipe(&w->kb);
	ev_timer_stop(w->loop, &w->poke);
	ev_loop_destroy(w->loop);
	return 0;
}

static struct relay_stats stats(const struct world *w)
{
	struct relay_stats st;

	relay_get_stats(w->r, &st);
	return st;
}

/* Run the loop until @p done holds: packets only, at most 2 s of real time. */
static void run_until(struct world *w, bool (*done)(const struct world *))
{
	double end = ev_time() + 2.0;

	while (!done(w) && ev_time() < end)
		ev_run(w->loop, EVRUN_ONCE);
	assert_true(done(w));
}

/* Move the relay's clock @p secs ahead, let it end what is due and tell the sides. */
static void advance(struct world *w, double secs)
{
	w->skew += secs;
	relay_tick(w->r);
	for (int i = 0; i < 10; i++)
		ev_run(w->loop, EVRUN_NOWAIT);
}

static bool one_authed(const struct world *w)
{
	return stats(w).authed >= 1;
}

static bool both_up(const struct world *w)
{
	return w->a.ups && w->b.ups;
}

static bool auth_failed(const struct world *w)
{
	return stats(w).auth_fail >= 1;
}

/* Side @p side of the world's ticket, over UDP, with keys from a fresh exchange. */
static struct sr_client *join(struct world *w, uint8_t side, struct side *s)
{
	const struct dp_keypair *ka = &w->ka, *kb = &w->kb;
	struct sr_session_params sp = {0};
	struct dp_transcript t = {
	    .handle_a = "@a", .handle_b = "@b", .aead = DP_AEAD_CHACHA20POLY1305};
	struct sr_client_cbs cb = {
	    .on_up = on_up, .on_packet = on_packet, .on_down = on_down, .arg = s};
	struct sr_client *c;

	memcpy(t.session_id, w->tk.session_id, SR_SID_LEN);
	memcpy(t.pk_a, ka->pk, DP_PK_LEN);
	memcpy(t.pk_b, kb->pk, DP_PK_LEN);
	sr_ticket_side(&w->tk, side, &sp.ticket);
	assert_int_equal(dp_derive(side == SR_SIDE_A ? ka : kb, side, &t, &sp.keys), 0);
	sp.transport = SR_TR_UDP;
	sp.keepalive = 30; /* no keepalive within these tests: idle means idle */
	c = sr_client_new(w->loop, &sp, &cb);
	sodium_memzero(&sp, sizeof(sp));
	assert_non_null(c);
	return c;
}

static void test_caps(void **state)
{
	struct world *w = *state;
	struct sr_ticket t;

	assert_int_equal(relay_issue(w->r, "@a", "@b", &t), 0);
	assert_int_equal(relay_issue(w->r, "@a", "@b", &t), 0);
	assert_int_equal(relay_issue(w->r, "@a", "@b", &t), -EDQUOT); /* per requester */
	assert_int_equal(relay_issue(w->r, "@c", "@b", &t), 0);
	assert_int_equal(relay_issue(w->r, "@d", "@b", &t), 0);
	assert_int_equal(relay_issue(w->r, "@e", "@b", &t), -EUSERS); /* in all */
	/* expired sessions give their places back */
	advance(w, 2.1);
	assert_int_equal(stats(w).active, 0);
	assert_int_equal(relay_issue(w->r, "@a", "@b", &t), 0);
	sr_ticket_wipe(&t);
}

static void test_ticket_expires(void **state)
{
	struct world *w = *state;
	struct relay_stats st;

	assert_int_equal(relay_issue(w->r, "@a", "@b", &w->tk), 0);
	advance(w, 1.9); /* ttl 1 s + 1 s grace: not yet */
	assert_int_equal(stats(w).active, 1);
	advance(w, 0.2);
	st = stats(w);
	assert_int_equal(st.issued, 1);
	assert_int_equal(st.ended, 1);
	assert_int_equal(st.active, 0);
	assert_int_equal(st.paired, 0);
	/* the slot is free again */
	assert_int_equal(relay_issue(w->r, "@a", "@b", &w->tk), 0);
}

static void test_unpaired_times_out(void **state)
{
	struct world *w = *state;
	struct relay_stats st;

	assert_int_equal(relay_issue(w->r, "@a", "@b", &w->tk), 0);
	w->a.c = join(w, SR_SIDE_A, &w->a);
	run_until(w, one_authed);
	advance(w, 0.9); /* unpaired_timeout 1 s: still waiting */
	assert_int_equal(stats(w).ended, 0);
	assert_int_equal(w->a.downs, 0);
	advance(w, 0.2);
	st = stats(w);
	assert_int_equal(st.paired, 0);
	assert_int_equal(st.ended, 1);
	assert_int_equal(w->a.ups, 0);
	assert_int_equal(w->a.downs, 1); /* the relay told the waiting side */
	assert_int_equal(w->a.down_reason, SR_DOWN_SR_ERROR);
	assert_non_null(strstr(w->a.down_msg, "peer never came"));
}

static void test_idle_and_secret_once(void **state)
{
	struct world *w = *state;
	struct relay_stats st;

	assert_int_equal(relay_issue(w->r, "@a", "@b", &w->tk), 0);
	w->a.c = join(w, SR_SIDE_A, &w->a);
	w->b.c = join(w, SR_SIDE_B, &w->b);
	run_until(w, both_up);
	assert_int_equal(w->a.ups, 1);
	assert_int_equal(w->b.ups, 1);
	/* A's secret again, from another client: refused, the session unharmed */
	w->a2.c = join(w, SR_SIDE_A, &w->a2);
	run_until(w, auth_failed);
	st = stats(w);
	assert_int_equal(st.paired, 1);
	assert_true(st.auth_fail >= 1);
	assert_int_equal(w->a2.ups, 0);
	assert_int_equal(w->a.downs, 0);
	/* no traffic: idle_timeout (1 s) ends it and both sides hear so */
	advance(w, 0.9);
	assert_int_equal(stats(w).ended, 0);
	advance(w, 0.2);
	st = stats(w);
	assert_int_equal(st.ended, 1);
	assert_int_equal(w->a.downs, 1);
	assert_int_equal(w->b.downs, 1);
	assert_int_equal(w->a.down_reason, SR_DOWN_SR_ERROR);
	assert_non_null(strstr(w->b.down_msg, "idle"));
}

/* A TCP connection that says nothing is closed 10 s after it came. */
static void test_handshake_deadline(void **state)
{
	struct world *w = *state;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char c;

	assert_true(fd >= 0);
	a.sin_port = htons(relay_tcp_port(w->r));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	advance(w, 0); /* accepted */
	advance(w, 9.9);
	assert_int_equal(recv(fd, &c, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	advance(w, 0.2);
	assert_int_equal(recv(fd, &c, 1, MSG_DONTWAIT), 0); /* closed by the relay */
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_caps, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ticket_expires, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unpaired_times_out, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_idle_and_secret_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_handshake_deadline, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
