/* SPDX-License-Identifier: MIT */
/*
 * relay_roam: ROAM checks against a session table, no sockets. A valid
 * keepalive, a move, replays and forgeries that move nothing, LEAVE, a TCP
 * side, and a keepalive keeping a paired session from idling.
 */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "relay_roam.h"
#include "test_relay_fix.h"
#include "wire.h"

enum { UNIX0 = FIX_UNIX0, T0 = FIX_T0 };

static const struct relay_limits lim = {
    .ticket_ttl = 30, .unpaired_timeout = 30, .idle_timeout = 300};

struct fix {
	struct relay_fix w;
	uint64_t ctr;
	struct relay_sess *got;
	uint8_t side;
};

/* A session whose side A is in over UDP from a; B not yet. */
static int setup(void **state)
{
	static struct fix f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(fix_init(&f.w, &lim), 0);
	relay_sess_join(&f.w.s, SR_SIDE_A, SR_TR_UDP, &f.w.a, f.w.alen, &lim, T0, UNIX0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	fix_fini(&f->w);
	return 0;
}

/* A ROAM of @p side with counter @p ctr, as the side's client makes it. */
static void roam(const struct fix *f, uint8_t side, uint8_t flag, uint64_t ctr,
		 uint8_t m[SR_ROAM_LEN])
{
	uint8_t key[32];
	size_t n = relay_sess_head(m, SR_MSG_ROAM, side, flag, f->w.tk.session_id);

	put_be32(m + n, relay_sess_relay_id(&f->w.s, side));
	put_be64(m + n + 4, ctr);
	sr_roam_key(f->w.tk.secret[side], key);
	sr_roam_mac(key, m, m + SR_ROAM_LEN - SR_MAC_LEN);
	sodium_memzero(key, sizeof(key));
}

static enum relay_roam check(struct fix *f, const uint8_t *m, size_t n,
			     const struct sockaddr_storage *from, double now)
{
	return relay_roam_check(f->w.iss, f->w.t, m, n, from, f->w.alen, now, &f->got, &f->side);
}

/* A's keepalive with the next counter from @p from. */
static enum relay_roam keepalive(struct fix *f, const struct sockaddr_storage *from, double now)
{
	uint8_t m[SR_ROAM_LEN];

	roam(f, SR_SIDE_A, SR_ROAM_KEEPALIVE, ++f->ctr, m);
	return check(f, m, sizeof(m), from, now);
}

static void test_keepalive(void **state)
{
	struct fix *f = *state;

	assert_int_equal(keepalive(f, &f->w.a, T0 + 1), RELAY_ROAM_STAY);
	assert_ptr_equal(f->got, &f->w.s);
	assert_int_equal(f->side, SR_SIDE_A);
	assert_int_equal(f->w.s.side[SR_SIDE_A].roam_ctr, 1);
}

static void test_move(void **state)
{
	struct fix *f = *state;

	assert_int_equal(keepalive(f, &f->w.c, T0 + 1), RELAY_ROAM_MOVED);
	assert_true(relay_sess_is_from(&f->w.s, SR_SIDE_A, SR_TR_UDP, &f->w.c, f->w.alen));
	assert_int_equal(keepalive(f, &f->w.c, T0 + 2), RELAY_ROAM_STAY);
}

/* A replayed ROAM (same or lower counter) moves nothing. */
static void test_replay_refused(void **state)
{
	struct fix *f = *state;
	uint8_t m[SR_ROAM_LEN];

	roam(f, SR_SIDE_A, SR_ROAM_KEEPALIVE, 5, m);
	assert_int_equal(check(f, m, sizeof(m), &f->w.a, T0 + 1), RELAY_ROAM_STAY);
	assert_int_equal(check(f, m, sizeof(m), &f->w.c, T0 + 2), RELAY_ROAM_DROP);
	roam(f, SR_SIDE_A, SR_ROAM_KEEPALIVE, 4, m);
	assert_int_equal(check(f, m, sizeof(m), &f->w.c, T0 + 2), RELAY_ROAM_DROP);
	assert_true(relay_sess_is_from(&f->w.s, SR_SIDE_A, SR_TR_UDP, &f->w.a, f->w.alen));
	assert_int_equal(f->w.s.side[SR_SIDE_A].roam_ctr, 5);
}

/* Forgeries: a bad MAC, the other side's relay id, a side not in, another session. */
static void test_forgeries_refused(void **state)
{
	struct fix *f = *state;
	uint8_t m[SR_ROAM_LEN];

	roam(f, SR_SIDE_A, SR_ROAM_KEEPALIVE, 1, m);
	m[SR_ROAM_LEN - 1] ^= 1;
	assert_int_equal(check(f, m, sizeof(m), &f->w.c, T0 + 1), RELAY_ROAM_DROP);
	roam(f, SR_SIDE_A, SR_ROAM_KEEPALIVE, 1, m);
	put_be32(m + SR_SIDE_HDR, relay_sess_relay_id(&f->w.s, SR_SIDE_B));
	assert_int_equal(check(f, m, sizeof(m), &f->w.c, T0 + 1), RELAY_ROAM_DROP);
	roam(f, SR_SIDE_B, SR_ROAM_KEEPALIVE, 1, m); /* B has not joined */
	assert_int_equal(check(f, m, sizeof(m), &f->w.c, T0 + 1), RELAY_ROAM_DROP);
	roam(f, SR_SIDE_A, SR_ROAM_KEEPALIVE, 1, m);
	m[4] ^= 1; /* session id */
	assert_int_equal(check(f, m, sizeof(m), &f->w.c, T0 + 1), RELAY_ROAM_DROP);
	roam(f, SR_SIDE_A, SR_ROAM_KEEPALIVE, 1, m);
	put_be32(m + SR_SIDE_HDR, 100); /* no such slot */
	assert_int_equal(check(f, m, sizeof(m), &f->w.c, T0 + 1), RELAY_ROAM_DROP);
	assert_true(relay_sess_is_from(&f->w.s, SR_SIDE_A, SR_TR_UDP, &f->w.a, f->w.alen));
	assert_int_equal(f->w.s.side[SR_SIDE_A].roam_ctr, 0);
}

static void test_malformed_ignored(void **state)
{
	struct fix *f = *state;
	uint8_t m[SR_ROAM_LEN];

	roam(f, SR_SIDE_A, SR_ROAM_KEEPALIVE, 1, m);
	assert_int_equal(check(f, m, sizeof(m) - 1, &f->w.a, T0), RELAY_ROAM_IGNORE);
	assert_int_equal(check(f, m, 0, &f->w.a, T0), RELAY_ROAM_IGNORE);
	m[1] = SR_VERSION + 1;
	assert_int_equal(check(f, m, sizeof(m), &f->w.a, T0), RELAY_ROAM_IGNORE);
	assert_null(f->got);
}

static void test_leave_and_tcp(void **state)
{
	struct fix *f = *state;
	uint8_t m[SR_ROAM_LEN];

	relay_sess_join(&f->w.s, SR_SIDE_B, SR_TR_TCP, &f->w.b, f->w.alen, &lim, T0, UNIX0);
	roam(f, SR_SIDE_B, SR_ROAM_KEEPALIVE, 1, m);
	assert_int_equal(check(f, m, sizeof(m), &f->w.c, T0 + 1), RELAY_ROAM_TCP);
	assert_true(
	    relay_sess_is_from(&f->w.s, SR_SIDE_B, SR_TR_TCP, &f->w.b, f->w.alen)); /* stays */
	roam(f, SR_SIDE_B, SR_ROAM_LEAVE, 2, m);
	assert_int_equal(check(f, m, sizeof(m), &f->w.b, T0 + 1), RELAY_ROAM_LEAVE);
	assert_ptr_equal(f->got, &f->w.s);
	assert_int_equal(f->side, SR_SIDE_B);
	roam(f, SR_SIDE_A, SR_ROAM_LEAVE, 1, m);
	assert_int_equal(check(f, m, sizeof(m), &f->w.a, T0 + 1), RELAY_ROAM_LEAVE);
}

/* On a paired session a UDP side's keepalive counts as traffic (no idle end). */
static void test_keepalive_not_idle(void **state)
{
	struct fix *f = *state;

	relay_sess_join(&f->w.s, SR_SIDE_B, SR_TR_UDP, &f->w.b, f->w.alen, &lim, T0, UNIX0);
	assert_int_equal(keepalive(f, &f->w.a, T0 + 200), RELAY_ROAM_STAY);
	assert_int_equal(relay_sess_due(&f->w.s, &lim, T0 + 300), RELAY_END_NONE);
	assert_int_equal(relay_sess_due(&f->w.s, &lim, T0 + 500), RELAY_END_IDLE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_keepalive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_move, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replay_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forgeries_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_ignored, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_leave_and_tcp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keepalive_not_idle, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
