/* SPDX-License-Identifier: MIT */
/* relay_sess: a session's life on a clock the test holds (issue, join, pair, deadlines). */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "relay_sess.h"
#include "test_relay_fix.h"
#include "wire.h"

static const struct relay_limits lim = {
    .ticket_ttl = 30, .unpaired_timeout = 20, .idle_timeout = 300};

enum { T0 = 1000, UNIX0 = 1700000000 };

/* Only the record and the addresses of a relay_fix are used: no issuer, no table. */
#define fix relay_fix

/* A record issued at T0 (unix UNIX0) with a 30 s ticket. */
static int setup(void **state)
{
	static struct fix f;
	struct sr_ticket t = {.expiry = UNIX0 + 30};

	memset(t.session_id, 7, sizeof(t.session_id));
	fix_addrs(&f);
	relay_sess_init(&f.s, &t, "@alice", NULL, &lim, T0);
	*state = &f;
	return 0;
}

static bool join(struct fix *f, uint8_t side, uint8_t tr, double now)
{
	return relay_sess_join(&f->s, side, tr, side ? &f->b : &f->a, f->alen, &lim, now,
			       UNIX0 + (uint64_t)(now - T0));
}

static void test_init(void **state)
{
	struct fix *f = *state;
	uint8_t sid[SR_SID_LEN];

	memset(sid, 7, sizeof(sid));
	assert_memory_equal(f->s.sid, sid, SR_SID_LEN);
	assert_string_equal(f->s.requester, "@alice");
	assert_string_equal(f->s.peer, "");
	assert_int_equal(f->s.expiry, UNIX0 + 30);
	assert_false(f->s.paired);
	assert_int_equal(f->s.side[0].tr, SR_TR_NONE);
}

/* An unused ticket ends ttl + 1 s after issue, as "expired". */
static void test_issued_expires(void **state)
{
	struct fix *f = *state;

	assert_true(relay_sess_deadline(&f->s, &lim) == T0 + 31.0);
	assert_int_equal(relay_sess_due(&f->s, &lim, T0 + 30.9), RELAY_END_NONE);
	assert_int_equal(relay_sess_due(&f->s, &lim, T0 + 31.0), RELAY_END_EXPIRED);
	assert_int_equal(relay_sess_end_err(RELAY_END_EXPIRED), SR_ERR_EXPIRED);
	assert_string_equal(relay_sess_end_reason(RELAY_END_EXPIRED), "ticket expired unused");
}

/* A side alone waits unpaired_timeout, then ends as "unpaired". */
static void test_waiting_side_times_out(void **state)
{
	struct fix *f = *state;

	assert_false(join(f, SR_SIDE_A, SR_TR_UDP, T0 + 2));
	assert_false(f->s.paired);
	assert_true(f->s.first_auth == T0 + 2);
	assert_true(relay_sess_deadline(&f->s, &lim) == T0 + 22.0);
	assert_int_equal(relay_sess_due(&f->s, &lim, T0 + 21.9), RELAY_END_NONE);
	assert_int_equal(relay_sess_due(&f->s, &lim, T0 + 22.0), RELAY_END_UNPAIRED);
	assert_int_equal(relay_sess_end_err(RELAY_END_UNPAIRED), SR_ERR_TIMEOUT);
	assert_string_equal(relay_sess_end_reason(RELAY_END_UNPAIRED), "unpaired timeout");
	/* traffic or keepalives do not keep a waiting side alive */
	relay_sess_touch(&f->s, T0 + 21);
	assert_int_equal(relay_sess_due(&f->s, &lim, T0 + 22.0), RELAY_END_UNPAIRED);
}

/* The wait is cut short when the ticket expires first (the peer cannot come later). */
static void test_wait_ends_with_ticket(void **state)
{
	struct fix *f = *state;

	assert_false(join(f, SR_SIDE_B, SR_TR_TCP, T0 + 25)); /* 5 s + 1 s grace left */
	assert_true(relay_sess_deadline(&f->s, &lim) == T0 + 31.0);
	assert_int_equal(relay_sess_due(&f->s, &lim, T0 + 30.5), RELAY_END_NONE);
	assert_int_equal(relay_sess_due(&f->s, &lim, T0 + 31.0), RELAY_END_UNPAIRED);
}

/* The second side pairs; then only silence (idle_timeout) ends it. */
static void test_pair_and_idle(void **state)
{
	struct fix *f = *state;

	assert_false(join(f, SR_SIDE_A, SR_TR_UDP, T0 + 2));
	assert_true(join(f, SR_SIDE_B, SR_TR_TCP, T0 + 5));
	assert_true(f->s.paired);
	assert_true(f->s.paired_at == T0 + 5);
	assert_true(relay_sess_deadline(&f->s, &lim) == T0 + 305.0);
	assert_int_equal(relay_sess_due(&f->s, &lim, T0 + 22), RELAY_END_NONE); /* no unpaired */
	assert_int_equal(relay_sess_due(&f->s, &lim, T0 + 305), RELAY_END_IDLE);
	/* a packet at +100 moves the end to +400, a keepalive at +350 to +650 */
	relay_sess_count(&f->s, SR_SIDE_A, 1400, T0 + 100);
	assert_int_equal(relay_sess_due(&f->s, &lim, T0 + 305), RELAY_END_NONE);
	assert_int_equal(relay_sess_due(&f->s, &lim, T0 + 400), RELAY_END_IDLE);
	relay_sess_touch(&f->s, T0 + 350);
	assert_int_equal(relay_sess_due(&f->s, &lim, T0 + 649.9), RELAY_END_NONE);
	assert_int_equal(relay_sess_due(&f->s, &lim, T0 + 650), RELAY_END_IDLE);
	assert_int_equal(relay_sess_end_err(RELAY_END_IDLE), SR_ERR_IDLE);
	assert_string_equal(relay_sess_end_reason(RELAY_END_IDLE), "idle");
}

static void test_count(void **state)
{
	struct fix *f = *state;

	relay_sess_count(&f->s, SR_SIDE_B, 100, T0 + 1);
	relay_sess_count(&f->s, SR_SIDE_B, 50, T0 + 2);
	assert_int_equal(f->s.side[SR_SIDE_B].bytes, 150);
	assert_int_equal(f->s.side[SR_SIDE_B].pkts, 2);
	assert_int_equal(f->s.side[SR_SIDE_A].bytes, 0);
}

static void test_is_from(void **state)
{
	struct fix *f = *state;

	assert_false(relay_sess_is_from(&f->s, SR_SIDE_A, SR_TR_UDP, &f->a, f->alen)); /* not in */
	join(f, SR_SIDE_A, SR_TR_UDP, T0 + 1);
	assert_true(relay_sess_is_from(&f->s, SR_SIDE_A, SR_TR_UDP, &f->a, f->alen));
	assert_false(relay_sess_is_from(&f->s, SR_SIDE_A, SR_TR_TCP, &f->a, f->alen));
	assert_false(relay_sess_is_from(&f->s, SR_SIDE_A, SR_TR_UDP, &f->b, f->alen));
	assert_false(relay_sess_is_from(&f->s, SR_SIDE_A, SR_TR_UDP, &f->a, f->alen - 1));
	assert_false(relay_sess_is_from(&f->s, SR_SIDE_B, SR_TR_UDP, &f->a, f->alen));
}

static void test_welcome(void **state)
{
	struct fix *f = *state;
	uint8_t m[SR_WELCOME_LEN];

	f->s.slot = 5;
	join(f, SR_SIDE_A, SR_TR_UDP, T0 + 1);
	assert_int_equal(relay_sess_welcome(&f->s, SR_SIDE_A, m), SR_WELCOME_LEN);
	assert_int_equal(m[0], SR_MSG_WELCOME);
	assert_int_equal(m[1], SR_VERSION);
	assert_int_equal(m[2], SR_SIDE_A);
	assert_int_equal(m[3], SR_WS_WAITING);
	assert_memory_equal(m + 4, f->s.sid, SR_SID_LEN);
	assert_int_equal(get_be32(m + SR_SIDE_HDR), 5u << 1);
	assert_int_equal(m[SR_SIDE_HDR + 4], SR_TR_NONE);
	join(f, SR_SIDE_B, SR_TR_TCP, T0 + 2);
	relay_sess_welcome(&f->s, SR_SIDE_A, m);
	assert_int_equal(m[3], SR_WS_PAIRED);
	assert_int_equal(m[SR_SIDE_HDR + 4], SR_TR_TCP);
	relay_sess_welcome(&f->s, SR_SIDE_B, m);
	assert_int_equal(m[2], SR_SIDE_B);
	assert_int_equal(get_be32(m + SR_SIDE_HDR), 5u << 1 | 1);
	assert_int_equal(m[SR_SIDE_HDR + 4], SR_TR_UDP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_init, setup),
	    cmocka_unit_test_setup(test_issued_expires, setup),
	    cmocka_unit_test_setup(test_waiting_side_times_out, setup),
	    cmocka_unit_test_setup(test_wait_ends_with_ticket, setup),
	    cmocka_unit_test_setup(test_pair_and_idle, setup),
	    cmocka_unit_test_setup(test_count, setup),
	    cmocka_unit_test_setup(test_is_from, setup),
	    cmocka_unit_test_setup(test_welcome, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
