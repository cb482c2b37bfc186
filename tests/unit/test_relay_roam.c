/* SPDX-License-Identifier: MIT */
/*
 * relay_roam: ROAM checks against a session table, no sockets. A valid
 * keepalive, a move (ROAM, challenge, echo), replays and forgeries that
 * move nothing, LEAVE, a TCP side, a keepalive keeping a paired session
 * from idling, and the return-routability check: a ROAM from a new address
 * gets one challenge (rate-limited) and moves nothing until the echo comes
 * from that address, in time, with the nonce, under the side's key.
 */
#include <errno.h>
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
#include "sr_side.h"
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

/* The relay's challenge to A's pending address, and A's echo of it (as sr_client makes it). */
static void challenge_echo(const struct fix *f, uint8_t echo[SR_ROAM_ECHO_LEN])
{
	uint8_t chal[SR_ROAM_CHAL_LEN], key[32];

	assert_int_equal(relay_roam_challenge(f->w.iss, &f->w.s, SR_SIDE_A, chal),
			 SR_ROAM_CHAL_LEN);
	sr_roam_key(f->w.tk.secret[SR_SIDE_A], key);
	assert_int_equal(sr_side_roam_echo(key, SR_SIDE_A, f->w.tk.session_id,
					   relay_sess_relay_id(&f->w.s, SR_SIDE_A), chal,
					   sizeof(chal), echo),
			 0);
	sodium_memzero(key, sizeof(key));
}

static bool at(const struct fix *f, const struct sockaddr_storage *a)
{
	return relay_sess_is_from(&f->w.s, SR_SIDE_A, SR_TR_UDP, a, f->w.alen);
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

	uint8_t echo[SR_ROAM_ECHO_LEN];

	/* the ROAM from c proves the key, not the address: c is challenged first */
	assert_int_equal(keepalive(f, &f->w.c, T0 + 1), RELAY_ROAM_CHALLENGE);
	assert_true(at(f, &f->w.a));
	challenge_echo(f, echo);
	assert_int_equal(check(f, echo, sizeof(echo), &f->w.c, T0 + 1.1), RELAY_ROAM_MOVED);
	assert_ptr_equal(f->got, &f->w.s);
	assert_true(relay_sess_is_from(&f->w.s, SR_SIDE_A, SR_TR_UDP, &f->w.c, f->w.alen));
	assert_int_equal(keepalive(f, &f->w.c, T0 + 2), RELAY_ROAM_STAY);
	/* the echo once more (replayed) moves nothing */
	assert_int_equal(check(f, echo, sizeof(echo), &f->w.c, T0 + 2), RELAY_ROAM_DROP);
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

/* A ROAM from a spoofed source: one challenge per second at most, nothing moves. */
static void test_spoofed_roam_challenged_once(void **state)
{
	struct fix *f = *state;

	assert_int_equal(keepalive(f, &f->w.c, T0 + 1), RELAY_ROAM_CHALLENGE);
	for (int i = 1; i <= 9; i++)
		assert_int_equal(keepalive(f, &f->w.c, T0 + 1 + i * 0.1), RELAY_ROAM_LIMITED);
	assert_true(at(f, &f->w.a));
	assert_int_equal(keepalive(f, &f->w.a, T0 + 1.5), RELAY_ROAM_STAY); /* old one works */
	assert_int_equal(keepalive(f, &f->w.c, T0 + 2), RELAY_ROAM_CHALLENGE);
	assert_true(at(f, &f->w.a));
}

/* Echoes that must not move the side: forged, wrong nonce, other address, late, stale. */
static void test_bad_echoes(void **state)
{
	struct fix *f = *state;
	uint8_t echo[SR_ROAM_ECHO_LEN] = {SR_MSG_ROAM_ECHO}, old[SR_ROAM_ECHO_LEN];

	assert_int_equal(check(f, echo, 0, &f->w.c, T0 + 1), RELAY_ROAM_IGNORE);
	assert_int_equal(keepalive(f, &f->w.c, T0 + 1), RELAY_ROAM_CHALLENGE);
	challenge_echo(f, echo);
	echo[SR_ROAM_ECHO_LEN - 1] ^= 1; /* MAC */
	assert_int_equal(check(f, echo, sizeof(echo), &f->w.c, T0 + 1), RELAY_ROAM_DROP);
	echo[SR_ROAM_ECHO_LEN - 1] ^= 1;
	echo[SR_SIDE_HDR + 4] ^= 1; /* nonce, MAC made over it (a key holder guessing) */
	{
		uint8_t key[32];

		sr_roam_key(f->w.tk.secret[SR_SIDE_A], key);
		sr_side_roam_mac(key, echo, sizeof(echo), echo + SR_ROAM_ECHO_LEN - SR_MAC_LEN);
		assert_int_equal(check(f, echo, sizeof(echo), &f->w.c, T0 + 1), RELAY_ROAM_DROP);
		echo[SR_SIDE_HDR + 4] ^= 1;
		sr_side_roam_mac(key, echo, sizeof(echo), echo + SR_ROAM_ECHO_LEN - SR_MAC_LEN);
		sodium_memzero(key, sizeof(key));
	}
	assert_int_equal(check(f, echo, sizeof(echo), &f->w.b, T0 + 1), RELAY_ROAM_DROP);
	assert_int_equal(check(f, echo, sizeof(echo), &f->w.a, T0 + 1), RELAY_ROAM_DROP);
	assert_int_equal(check(f, echo, sizeof(echo), &f->w.c, T0 + 1 + RELAY_ROAM_TTL + 0.1),
			 RELAY_ROAM_DROP);
	assert_true(at(f, &f->w.a));
	/* a new challenge makes the old echo stale */
	memcpy(old, echo, sizeof(old));
	assert_int_equal(keepalive(f, &f->w.c, T0 + 10), RELAY_ROAM_CHALLENGE);
	assert_int_equal(check(f, old, sizeof(old), &f->w.c, T0 + 10), RELAY_ROAM_DROP);
	challenge_echo(f, echo);
	assert_int_equal(check(f, echo, sizeof(echo), &f->w.c, T0 + 10), RELAY_ROAM_MOVED);
	assert_true(at(f, &f->w.c));
}

/* A TCP side has nothing to echo; an echo for B (not in) or another session is dropped. */
static void test_echo_wrong_side(void **state)
{
	struct fix *f = *state;
	uint8_t echo[SR_ROAM_ECHO_LEN];

	assert_int_equal(keepalive(f, &f->w.c, T0 + 1), RELAY_ROAM_CHALLENGE);
	challenge_echo(f, echo);
	echo[4] ^= 1; /* session id */
	assert_int_equal(check(f, echo, sizeof(echo), &f->w.c, T0 + 1), RELAY_ROAM_DROP);
	echo[4] ^= 1;
	put_be32(echo + SR_SIDE_HDR, relay_sess_relay_id(&f->w.s, SR_SIDE_B));
	assert_int_equal(check(f, echo, sizeof(echo), &f->w.c, T0 + 1), RELAY_ROAM_DROP);
	assert_true(at(f, &f->w.a));
}

/* The challenge: no longer than a ROAM, for A's session, MAC'ed under A's roam key only. */
static void test_challenge_format(void **state)
{
	struct fix *f = *state;
	uint8_t chal[SR_ROAM_CHAL_LEN], echo[SR_ROAM_ECHO_LEN], key[32];

	assert_int_equal(keepalive(f, &f->w.c, T0 + 1), RELAY_ROAM_CHALLENGE);
	assert_true((int)SR_ROAM_CHAL_LEN <= (int)SR_ROAM_LEN);
	relay_roam_challenge(f->w.iss, &f->w.s, SR_SIDE_A, chal);
	assert_int_equal(chal[0], SR_MSG_ROAM_CHAL);
	assert_int_equal(chal[2], SR_SIDE_A);
	assert_memory_equal(chal + 4, f->w.tk.session_id, SR_SID_LEN);
	assert_memory_equal(chal + SR_SIDE_HDR, f->w.s.side[SR_SIDE_A].pend.nonce,
			    SR_ROAM_NONCE_LEN);
	sr_roam_key(f->w.tk.secret[SR_SIDE_B], key); /* B's key: not the SR's challenge to A */
	assert_int_equal(
	    sr_side_roam_echo(key, SR_SIDE_A, f->w.tk.session_id, 0, chal, sizeof(chal), echo),
	    -EACCES);
	sodium_memzero(key, sizeof(key));
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
	    cmocka_unit_test_setup_teardown(test_spoofed_roam_challenged_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_echoes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_echo_wrong_side, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_challenge_format, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
