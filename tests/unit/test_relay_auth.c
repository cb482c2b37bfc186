/* SPDX-License-Identifier: MIT */
/*
 * relay_auth: HELLO/AUTH against a session table, no sockets. Unknown
 * sessions, the challenge, a good and a bad MAC (which burns nothing), the
 * once-only secret, expiry, and the WELCOME again for a UDP retransmission.
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

#include "relay_auth.h"
#include "test_relay_fix.h"

enum { UNIX0 = FIX_UNIX0, T0 = FIX_T0 };

static const struct relay_limits lim = {
    .ticket_ttl = 30, .unpaired_timeout = 30, .idle_timeout = 300};

struct fix {
	struct relay_fix w;
	uint8_t out[SR_SIDE_MSG_MAX];
};

static int setup(void **state)
{
	static struct fix f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(fix_init(&f.w, &lim), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	fix_fini(&f->w);
	return 0;
}

static size_t head(uint8_t *m, uint8_t type, uint8_t side, const uint8_t *sid)
{
	return relay_sess_head(m, type, side, 0, sid);
}

/* Feed @p m to the relay as from @p from over @p tr at T0 + @p dt. */
static size_t feed(struct fix *f, const uint8_t *m, size_t n, uint8_t tr,
		   const struct sockaddr_storage *from, double dt, struct relay_hs *hs)
{
	*hs = (struct relay_hs){.tr = tr,
				.from = from,
				.flen = sizeof(struct sockaddr_in),
				.now = T0 + dt,
				.unix_now = UNIX0 + (uint64_t)dt};
	return relay_auth_handshake(f->w.iss, f->w.t, m, n, hs, f->out);
}

static size_t hello(struct fix *f, uint8_t side, uint8_t tr, const struct sockaddr_storage *from,
		    struct relay_hs *hs)
{
	uint8_t m[SR_HELLO_LEN] = {0};

	head(m, SR_MSG_HELLO, side, f->w.tk.session_id);
	return feed(f, m, sizeof(m), tr, from, 0, hs);
}

/* AUTH over the nonce of the last CHALLENGE (in f->out), its MAC flipped when @p bad. */
static size_t auth(struct fix *f, uint8_t side, uint8_t tr, const struct sockaddr_storage *from,
		   double dt, bool bad, struct relay_hs *hs)
{
	uint8_t m[SR_AUTH_LEN], nonce[SR_NONCE_LEN];

	memcpy(nonce, f->out + SR_SIDE_HDR, SR_NONCE_LEN);
	head(m, SR_MSG_AUTH, side, f->w.tk.session_id);
	memcpy(m + SR_SIDE_HDR, nonce, SR_NONCE_LEN);
	sr_auth_mac(f->w.tk.secret[side], nonce, f->w.tk.session_id, side,
		    m + SR_SIDE_HDR + SR_NONCE_LEN);
	m[SR_AUTH_LEN - 1] ^= bad;
	return feed(f, m, sizeof(m), tr, from, dt, hs);
}

static void assert_error(const struct fix *f, size_t n, uint8_t code)
{
	assert_int_equal(n, SR_ERROR_LEN);
	assert_int_equal(f->out[0], SR_MSG_ERROR);
	assert_int_equal(f->out[3], code);
}

static void test_unknown_session(void **state)
{
	struct fix *f = *state;
	uint8_t m[SR_HELLO_LEN] = {0}, sid[SR_SID_LEN] = {1};
	struct relay_hs hs;

	head(m, SR_MSG_HELLO, SR_SIDE_B, sid);
	assert_error(f, feed(f, m, sizeof(m), SR_TR_UDP, &f->w.a, 0, &hs), SR_ERR_UNKNOWN);
	assert_memory_equal(f->out + 4, sid, SR_SID_LEN);
	assert_int_equal(f->out[2], SR_SIDE_B);
	assert_false(hs.failed); /* not an authentication failure */
	assert_null(hs.sess);
}

static void test_malformed_ignored(void **state)
{
	struct fix *f = *state;
	uint8_t m[SR_HELLO_LEN] = {0};
	struct relay_hs hs;

	head(m, SR_MSG_HELLO, SR_SIDE_A, f->w.tk.session_id);
	assert_int_equal(feed(f, m, sizeof(m) - 1, SR_TR_UDP, &f->w.a, 0, &hs), 0);
	m[1] = SR_VERSION + 1;
	assert_int_equal(feed(f, m, sizeof(m), SR_TR_UDP, &f->w.a, 0, &hs), 0);
	m[1] = SR_VERSION;
	m[2] = 2; /* no side 2 */
	assert_int_equal(feed(f, m, sizeof(m), SR_TR_UDP, &f->w.a, 0, &hs), 0);
	m[0] = SR_MSG_ROAM;
	assert_int_equal(feed(f, m, SR_ROAM_LEN, SR_TR_UDP, &f->w.a, 0, &hs), 0);
	assert_int_equal(feed(f, m, 0, SR_TR_UDP, &f->w.a, 0, &hs), 0);
	assert_false(hs.failed);
}

static void test_challenge_and_auth(void **state)
{
	struct fix *f = *state;
	struct relay_hs hs;

	assert_int_equal(hello(f, SR_SIDE_A, SR_TR_UDP, &f->w.a, &hs), SR_CHALLENGE_LEN);
	assert_int_equal(f->out[0], SR_MSG_CHALLENGE);
	assert_ptr_equal(hs.sess, &f->w.s);
	assert_int_equal(auth(f, SR_SIDE_A, SR_TR_UDP, &f->w.a, 1, false, &hs), 0);
	assert_true(hs.authed);
	assert_false(hs.failed);
	assert_ptr_equal(hs.sess, &f->w.s);
	assert_int_equal(hs.side, SR_SIDE_A);
}

/* A wrong MAC is refused and counted, but the secret still works afterwards. */
static void test_bad_mac_burns_nothing(void **state)
{
	struct fix *f = *state;
	struct relay_hs hs;

	hello(f, SR_SIDE_B, SR_TR_TCP, &f->w.b, &hs);
	assert_error(f, auth(f, SR_SIDE_B, SR_TR_TCP, &f->w.b, 1, true, &hs), SR_ERR_AUTH);
	assert_true(hs.failed);
	assert_false(hs.authed);
	hello(f, SR_SIDE_B, SR_TR_TCP, &f->w.b, &hs);
	assert_int_equal(auth(f, SR_SIDE_B, SR_TR_TCP, &f->w.b, 2, false, &hs), 0);
	assert_true(hs.authed);
}

/* Once in, the secret is spent: only a UDP retransmission from the same address gets WELCOME. */
static void test_secret_once(void **state)
{
	struct fix *f = *state;
	struct relay_hs hs;
	uint8_t nonce[SR_NONCE_LEN];

	hello(f, SR_SIDE_A, SR_TR_UDP, &f->w.a, &hs);
	memcpy(nonce, f->out + SR_SIDE_HDR, SR_NONCE_LEN);
	assert_int_equal(auth(f, SR_SIDE_A, SR_TR_UDP, &f->w.a, 1, false, &hs), 0);
	relay_sess_join(&f->w.s, SR_SIDE_A, SR_TR_UDP, &f->w.a, sizeof(struct sockaddr_in), &lim,
			T0 + 1, UNIX0 + 1);
	/* the same AUTH again from the same address: WELCOME again, no failure */
	memcpy(f->out + SR_SIDE_HDR, nonce, SR_NONCE_LEN);
	assert_int_equal(auth(f, SR_SIDE_A, SR_TR_UDP, &f->w.a, 2, false, &hs), SR_WELCOME_LEN);
	assert_int_equal(f->out[0], SR_MSG_WELCOME);
	assert_false(hs.authed);
	assert_false(hs.failed);
	assert_int_equal(hello(f, SR_SIDE_A, SR_TR_UDP, &f->w.a, &hs), SR_WELCOME_LEN);
	/* from anywhere else, or over TCP: refused as used */
	assert_error(f, hello(f, SR_SIDE_A, SR_TR_UDP, &f->w.b, &hs), SR_ERR_USED);
	assert_true(hs.failed);
	assert_error(f, hello(f, SR_SIDE_A, SR_TR_TCP, &f->w.a, &hs), SR_ERR_USED);
	memcpy(f->out + SR_SIDE_HDR, nonce, SR_NONCE_LEN);
	assert_error(f, auth(f, SR_SIDE_A, SR_TR_UDP, &f->w.b, 2, false, &hs), SR_ERR_USED);
	assert_false(hs.authed);
}

static void test_expired_ticket(void **state)
{
	struct fix *f = *state;
	struct relay_hs hs;

	hello(f, SR_SIDE_A, SR_TR_UDP, &f->w.a, &hs);
	assert_error(f, auth(f, SR_SIDE_A, SR_TR_UDP, &f->w.a, 31, false, &hs), SR_ERR_EXPIRED);
	assert_true(hs.failed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_unknown_session, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_ignored, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_challenge_and_auth, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_mac_burns_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_secret_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expired_ticket, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
