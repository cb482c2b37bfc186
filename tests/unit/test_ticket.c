/* SPDX-License-Identifier: MIT */
/* Tickets (codecs) and the side-authentication state machine. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "ticket.h"

static struct sr_issuer *iss;

static int setup(void **state)
{
	iss = sr_issuer_new();
	return iss ? 0 : -1;
}

static int teardown(void **state)
{
	sr_issuer_free(iss);
	return 0;
}

static void issue(struct sr_ticket *t)
{
	assert_int_equal(sr_issuer_issue(iss, 1000, 30, "192.0.2.10", 7000, 7001, t), 0);
}

static void ticket_roundtrip(void **state)
{
	struct sr_ticket t, u;
	struct sr_side_ticket s, s2;
	uint8_t buf[SR_TICKET_MAX], sbuf[SR_SIDE_TICKET_MAX];
	size_t n, sn;

	issue(&t);
	memset(t.request_id, 0xab, sizeof(t.request_id));
	assert_int_equal(t.expiry, 1030);
	assert_memory_not_equal(t.secret[0], t.secret[1], SR_SECRET_LEN);
	assert_int_equal(sr_ticket_encode(&t, buf, sizeof(buf), &n), 0);
	assert_true(sr_ticket_decode(buf, n, &u));
	assert_memory_equal(&t, &u, sizeof(t));
	/* every truncation and one trailing byte are rejected */
	for (size_t i = 0; i < n; i++)
		assert_false(sr_ticket_decode(buf, i, &u));
	buf[n] = 0;
	assert_false(sr_ticket_decode(buf, n + 1, &u));

	sr_ticket_side(&t, SR_SIDE_B, &s);
	assert_memory_equal(s.secret, t.secret[SR_SIDE_B], SR_SECRET_LEN);
	assert_int_equal(sr_side_ticket_encode(&s, sbuf, sizeof(sbuf), &sn), 0);
	assert_true(sr_side_ticket_decode(sbuf, sn, &s2));
	assert_memory_equal(&s, &s2, sizeof(s));
	sbuf[1] = 2; /* no side 2 */
	assert_false(sr_side_ticket_decode(sbuf, sn, &s2));

	/* an error answer */
	memset(&t, 0, sizeof(t));
	t.status = SR_TK_DENIED;
	strcpy(t.reason, "not allowed");
	assert_int_equal(sr_ticket_encode(&t, buf, sizeof(buf), &n), 0);
	assert_true(sr_ticket_decode(buf, n, &u));
	assert_int_equal(u.status, SR_TK_DENIED);
	assert_string_equal(u.reason, "not allowed");
	sr_ticket_wipe(&u);
}

/* A host name in a ticket would need a resolver on the endpoint's loop: refused. */
static void ticket_host_must_be_numeric(void **state)
{
	static const char *const bad[] = {
	    "relay.example.net", "localhost", "1.2.3.4.5", "1.2.3.4 ", "[::1]", "", "0x7f.1"};
	uint8_t buf[SR_TICKET_MAX], sbuf[SR_SIDE_TICKET_MAX];
	struct sr_side_ticket s, s2;
	struct sr_ticket t, u;
	size_t n, sn;

	assert_true(sr_host_numeric("192.0.2.10"));
	assert_true(sr_host_numeric("2001:db8::1"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(sr_host_numeric(bad[i]));
	assert_int_equal(sr_issuer_issue(iss, 1000, 30, "relay.example.net", 7000, 7001, &t), 0);
	assert_int_equal(sr_ticket_encode(&t, buf, sizeof(buf), &n), 0);
	assert_false(sr_ticket_decode(buf, n, &u));
	sr_ticket_side(&t, SR_SIDE_B, &s);
	assert_int_equal(sr_side_ticket_encode(&s, sbuf, sizeof(sbuf), &sn), 0);
	assert_false(sr_side_ticket_decode(sbuf, sn, &s2));
	/* the same with an IPv6 address decodes */
	strcpy(t.host, "2001:db8::1");
	assert_int_equal(sr_ticket_encode(&t, buf, sizeof(buf), &n), 0);
	assert_true(sr_ticket_decode(buf, n, &u));
	sr_ticket_wipe(&t);
	sr_ticket_wipe(&u);
}

static void request_codec(void **state)
{
	struct sr_request rq = {.flags = 0}, out;
	uint8_t buf[SR_REQ_MAX];
	size_t n;

	strcpy(rq.peer, "@device");
	assert_int_equal(sr_request_encode(&rq, buf, sizeof(buf), &n), 0);
	assert_true(sr_request_decode(buf, n, &out));
	assert_string_equal(out.peer, "@device");
	buf[3] = 'D'; /* not a valid handle */
	assert_false(sr_request_decode(buf, n, &out));
}

/* A side: HELLO -> nonce, AUTH with a MAC from its secret. */
static int auth(struct sr_auth *a, const struct sr_ticket *t, uint8_t side, const uint8_t *secret,
		const uint8_t *sid, uint64_t unix_now, double now)
{
	uint8_t nonce[SR_NONCE_LEN], mac[SR_MAC_LEN];
	int r = sr_auth_challenge(a, now, nonce);

	if (r < 0)
		return r;
	sr_auth_mac(secret, nonce, sid, side, mac);
	return sr_auth_verify(a, iss, t->session_id, side, t->expiry, unix_now, now, nonce, mac);
}

static void auth_ok_then_reused(void **state)
{
	struct sr_ticket t;
	struct sr_auth a = {0}, b = {0};
	uint8_t nonce[SR_NONCE_LEN], mac[SR_MAC_LEN];

	issue(&t);
	assert_int_equal(auth(&a, &t, SR_SIDE_A, t.secret[0], t.session_id, 1001, 1), 0);
	assert_int_equal(a.state, SR_AS_DONE);
	/* the secret is good once: a second HELLO or AUTH for side A fails */
	assert_int_equal(sr_auth_challenge(&a, 2, nonce), -EALREADY);
	sr_auth_mac(t.secret[0], nonce, t.session_id, SR_SIDE_A, mac);
	assert_int_equal(
	    sr_auth_verify(&a, iss, t.session_id, SR_SIDE_A, t.expiry, 1002, 2, nonce, mac),
	    -EALREADY);
	/* side B independently */
	assert_int_equal(auth(&b, &t, SR_SIDE_B, t.secret[1], t.session_id, 1002, 2), 0);
}

static void auth_wrong_mac(void **state)
{
	struct sr_ticket t;
	struct sr_auth a = {0};
	uint8_t nonce[SR_NONCE_LEN], mac[SR_MAC_LEN];

	issue(&t);
	/* side A's secret does not authenticate side B */
	assert_int_equal(auth(&a, &t, SR_SIDE_B, t.secret[SR_SIDE_A], t.session_id, 1001, 1),
			 -EACCES);
	/* one flipped MAC bit */
	assert_int_equal(sr_auth_challenge(&a, 1, nonce), 0);
	sr_auth_mac(t.secret[0], nonce, t.session_id, SR_SIDE_A, mac);
	mac[31] ^= 1;
	assert_int_equal(
	    sr_auth_verify(&a, iss, t.session_id, SR_SIDE_A, t.expiry, 1001, 1, nonce, mac),
	    -EACCES);
	/* a MAC over another nonce than the challenge */
	mac[31] ^= 1;
	nonce[0] ^= 1;
	assert_int_equal(
	    sr_auth_verify(&a, iss, t.session_id, SR_SIDE_A, t.expiry, 1001, 1, nonce, mac),
	    -EACCES);
	/* a failed attempt does not burn the secret */
	assert_int_equal(auth(&a, &t, SR_SIDE_A, t.secret[0], t.session_id, 1001, 1), 0);
}

static void auth_no_challenge_or_stale_nonce(void **state)
{
	struct sr_ticket t;
	struct sr_auth a = {0};
	uint8_t nonce[SR_NONCE_LEN] = {0}, mac[SR_MAC_LEN];

	issue(&t);
	sr_auth_mac(t.secret[0], nonce, t.session_id, SR_SIDE_A, mac);
	assert_int_equal(
	    sr_auth_verify(&a, iss, t.session_id, SR_SIDE_A, t.expiry, 1001, 1, nonce, mac),
	    -EACCES);
	assert_int_equal(sr_auth_challenge(&a, 1, nonce), 0);
	sr_auth_mac(t.secret[0], nonce, t.session_id, SR_SIDE_A, mac);
	assert_int_equal(sr_auth_verify(&a, iss, t.session_id, SR_SIDE_A, t.expiry, 1001,
					1 + SR_NONCE_TTL, nonce, mac),
			 -EACCES);
}

static void auth_expired(void **state)
{
	struct sr_ticket t;
	struct sr_auth a = {0};

	issue(&t);
	assert_int_equal(auth(&a, &t, SR_SIDE_A, t.secret[0], t.session_id, 1031, 1), -ETIMEDOUT);
	assert_int_equal(auth(&a, &t, SR_SIDE_A, t.secret[0], t.session_id, 1030, 1), 0);
}

static void auth_wrong_session(void **state)
{
	struct sr_ticket t, u;
	struct sr_auth a = {0};
	uint8_t sid[SR_SID_LEN];

	issue(&t);
	issue(&u);
	/* a MAC computed over another session id does not verify for this one */
	memcpy(sid, t.session_id, SR_SID_LEN);
	sid[5] ^= 0x80;
	assert_int_equal(auth(&a, &t, SR_SIDE_A, t.secret[0], sid, 1001, 1), -EACCES);
	/* nor does another session's secret */
	assert_int_equal(auth(&a, &t, SR_SIDE_A, u.secret[0], t.session_id, 1001, 1), -EACCES);
	assert_int_equal(auth(&a, &t, SR_SIDE_A, u.secret[0], u.session_id, 1001, 1), -EACCES);
}

static void secrets_derived(void **state)
{
	struct sr_ticket t;
	uint8_t s[SR_SECRET_LEN];
	struct sr_issuer *other = sr_issuer_new();

	issue(&t);
	sr_issuer_secret(iss, t.session_id, SR_SIDE_B, s);
	assert_memory_equal(s, t.secret[SR_SIDE_B], SR_SECRET_LEN);
	sr_issuer_secret(other, t.session_id, SR_SIDE_B, s);
	assert_memory_not_equal(s, t.secret[SR_SIDE_B], SR_SECRET_LEN);
	sr_issuer_free(other);
	assert_int_equal(sr_issuer_issue(iss, 0, 30, "", 1, 2, &t), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ticket_roundtrip), cmocka_unit_test(ticket_host_must_be_numeric),
	    cmocka_unit_test(request_codec),    cmocka_unit_test(auth_ok_then_reused),
	    cmocka_unit_test(auth_wrong_mac),   cmocka_unit_test(auth_no_challenge_or_stale_nonce),
	    cmocka_unit_test(auth_expired),     cmocka_unit_test(auth_wrong_session),
	    cmocka_unit_test(secrets_derived),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
