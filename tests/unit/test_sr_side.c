/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "sr_side.h"

/* The session id of every test message. */
static void sid_of(uint8_t sid[SR_SID_LEN])
{
	for (int i = 0; i < SR_SID_LEN; i++)
		sid[i] = (uint8_t)(0x40 + i);
}

static size_t head(uint8_t *b, uint8_t type, uint8_t side, uint8_t x)
{
	memset(b, 0, SR_SIDE_MSG_MAX);
	b[0] = type;
	b[1] = SR_VERSION;
	b[2] = side;
	b[3] = x;
	sid_of(b + 4);
	return sr_side_len(type);
}

static void test_lengths(void **state)
{
	(void)state;
	assert_int_equal(sr_side_len(SR_MSG_HELLO), 64);
	assert_int_equal(sr_side_len(SR_MSG_CHALLENGE), 36);
	assert_int_equal(sr_side_len(SR_MSG_AUTH), 68);
	assert_int_equal(sr_side_len(SR_MSG_WELCOME), 25);
	assert_int_equal(sr_side_len(SR_MSG_ERROR), 20);
	assert_int_equal(sr_side_len(SR_MSG_ROAM), 64);
	assert_int_equal(sr_side_len(SR_MSG_ROAM_CHAL), 64); /* not above the ROAM it answers */
	assert_int_equal(sr_side_len(SR_MSG_ROAM_ECHO), 68);
	assert_int_equal(sr_side_len(SR_MSG_DATA), 0);
	assert_int_equal(sr_side_len(0), 0);
}

static void test_parse(void **state)
{
	static const uint8_t types[] = {SR_MSG_HELLO,     SR_MSG_CHALLENGE, SR_MSG_AUTH,
					SR_MSG_WELCOME,   SR_MSG_ERROR,     SR_MSG_ROAM,
					SR_MSG_ROAM_CHAL, SR_MSG_ROAM_ECHO};
	uint8_t b[SR_SIDE_MSG_MAX];
	struct sr_side_msg m;
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(types); i++) {
		n = head(b, types[i], SR_SIDE_B, 7);
		assert_int_equal(sr_side_parse(b, n, &m), 0);
		assert_int_equal(m.type, types[i]);
		assert_int_equal(m.side, SR_SIDE_B);
		assert_int_equal(m.x, 7);
		assert_ptr_equal(m.sid, b + 4);
		assert_ptr_equal(m.body, b + SR_SIDE_HDR);
		assert_int_equal(m.body_len, n - SR_SIDE_HDR);
		/* one byte short or long: refused */
		assert_int_equal(sr_side_parse(b, n - 1, &m), -EBADMSG);
		assert_int_equal(sr_side_parse(b, n + 1 <= sizeof(b) ? n + 1 : n - 2, &m),
				 -EBADMSG);
		b[1] = SR_VERSION + 1;
		assert_int_equal(sr_side_parse(b, n, &m), -EBADMSG);
		b[1] = SR_VERSION;
		b[2] = 2;
		assert_int_equal(sr_side_parse(b, n, &m), -EBADMSG);
	}
	b[0] = SR_MSG_DATA;
	assert_int_equal(sr_side_parse(b, 36, &m), -ENOTSUP);
	assert_int_equal(sr_side_parse(b, 0, &m), -EBADMSG);
}

static void test_reply_fields(void **state)
{
	uint8_t b[SR_SIDE_MSG_MAX], sid[SR_SID_LEN];
	struct sr_side_reply r;
	size_t n;

	(void)state;
	sid_of(sid);
	n = head(b, SR_MSG_CHALLENGE, SR_SIDE_A, 0);
	assert_int_equal(sr_side_parse_reply(b, n, SR_SIDE_A, sid, &r), 0);
	assert_int_equal(r.type, SR_MSG_CHALLENGE);
	assert_ptr_equal(r.nonce, b + SR_SIDE_HDR);
	/* WELCOME: state in x, relay id big-endian, the peer's transport last */
	n = head(b, SR_MSG_WELCOME, SR_SIDE_B, SR_WS_PAIRED);
	memcpy(b + SR_SIDE_HDR, "\x01\x02\x03\x04\x01", 5);
	assert_int_equal(sr_side_parse_reply(b, n, SR_SIDE_B, sid, &r), 0);
	assert_int_equal(r.type, SR_MSG_WELCOME);
	assert_int_equal(r.welcome_state, SR_WS_PAIRED);
	assert_int_equal(r.relay_id, 0x01020304);
	assert_int_equal(r.peer_transport, 1);
	assert_null(r.nonce);
	n = head(b, SR_MSG_ERROR, SR_SIDE_B, SR_ERR_USED);
	assert_int_equal(sr_side_parse_reply(b, n, SR_SIDE_B, sid, &r), 0);
	assert_int_equal(r.type, SR_MSG_ERROR);
	assert_int_equal(r.err, SR_ERR_USED);
	assert_int_equal(r.relay_id, 0);
}

static void test_reply_refused(void **state)
{
	static const uint8_t replies[] = {SR_MSG_CHALLENGE, SR_MSG_WELCOME, SR_MSG_ERROR};
	static const uint8_t others[] = {SR_MSG_HELLO, SR_MSG_AUTH, SR_MSG_ROAM, SR_MSG_DATA};
	uint8_t b[SR_SIDE_MSG_MAX], sid[SR_SID_LEN];
	struct sr_side_reply r;
	size_t n;

	(void)state;
	sid_of(sid);
	for (size_t i = 0; i < sizeof(replies); i++) {
		n = head(b, replies[i], SR_SIDE_A, 0);
		assert_int_equal(sr_side_parse_reply(b, n - 1, SR_SIDE_A, sid, &r), -EBADMSG);
		assert_int_equal(sr_side_parse_reply(b, n + 1, SR_SIDE_A, sid, &r), -EBADMSG);
		/* for the other side, or another session: not ours */
		assert_int_equal(sr_side_parse_reply(b, n, SR_SIDE_B, sid, &r), -ENOENT);
		sid[SR_SID_LEN - 1] ^= 1;
		assert_int_equal(sr_side_parse_reply(b, n, SR_SIDE_A, sid, &r), -ENOENT);
		sid[SR_SID_LEN - 1] ^= 1;
		b[1] = SR_VERSION + 1;
		assert_int_equal(sr_side_parse_reply(b, n, SR_SIDE_A, sid, &r), -EBADMSG);
	}
	/* what sides send, and data, is never a reply */
	for (size_t i = 0; i < sizeof(others); i++) {
		n = head(b, others[i], SR_SIDE_A, 0);
		assert_int_equal(sr_side_parse_reply(b, n ? n : 36, SR_SIDE_A, sid, &r), -ENOTSUP);
	}
	assert_int_equal(sr_side_parse_reply(b, 0, SR_SIDE_A, sid, &r), -EBADMSG);
}

/* The roam MAC is BLAKE2b-256(key, SR_ROAM_CHAL_CTX | message without the mac). */
static void test_roam_mac(void **state)
{
	uint8_t key[32], m[SR_SIDE_MSG_MAX], cat[64 + SR_ROAM_CHAL_LEN], want[SR_MAC_LEN],
	    got[SR_MAC_LEN];
	size_t ctx = strlen(SR_ROAM_CHAL_CTX), body = SR_ROAM_CHAL_LEN - SR_MAC_LEN;

	(void)state;
	memset(key, 0x11, sizeof(key));
	head(m, SR_MSG_ROAM_CHAL, SR_SIDE_A, 0);
	memcpy(cat, SR_ROAM_CHAL_CTX, ctx);
	memcpy(cat + ctx, m, body);
	crypto_generichash(want, sizeof(want), cat, ctx + body, key, sizeof(key));
	sr_side_roam_mac(key, m, SR_ROAM_CHAL_LEN, got);
	assert_memory_equal(got, want, SR_MAC_LEN);
}

/* A side echoes the SR's challenge: the nonce back, its relay id, its MAC. */
static void test_roam_echo(void **state)
{
	uint8_t key[32], other[32], sid[SR_SID_LEN], nonce[SR_ROAM_NONCE_LEN], c[SR_SIDE_MSG_MAX],
	    e[SR_ROAM_ECHO_LEN], mac[SR_MAC_LEN];
	struct sr_side_msg m;

	(void)state;
	memset(key, 0x22, sizeof(key));
	memset(other, 0x23, sizeof(other));
	memset(nonce, 0x5a, sizeof(nonce));
	sid_of(sid);
	assert_int_equal(sr_side_roam_chal(key, SR_SIDE_B, sid, nonce, c), SR_ROAM_CHAL_LEN);
	assert_int_equal(sr_side_parse(c, SR_ROAM_CHAL_LEN, &m), 0);
	assert_memory_equal(m.body, nonce, SR_ROAM_NONCE_LEN);
	assert_int_equal(sr_side_roam_echo(key, SR_SIDE_B, sid, 0x01020304, c, SR_ROAM_CHAL_LEN, e),
			 0);
	assert_int_equal(sr_side_parse(e, sizeof(e), &m), 0);
	assert_int_equal(m.type, SR_MSG_ROAM_ECHO);
	assert_int_equal(m.side, SR_SIDE_B);
	assert_memory_equal(m.body, "\x01\x02\x03\x04", 4);
	assert_memory_equal(m.body + 4, nonce, SR_ROAM_NONCE_LEN);
	sr_side_roam_mac(key, e, sizeof(e), mac);
	assert_memory_equal(e + sizeof(e) - SR_MAC_LEN, mac, SR_MAC_LEN);
	/* not ours, not from the SR, malformed, not a challenge */
	assert_int_equal(sr_side_roam_echo(key, SR_SIDE_A, sid, 1, c, SR_ROAM_CHAL_LEN, e),
			 -ENOENT);
	assert_int_equal(sr_side_roam_echo(other, SR_SIDE_B, sid, 1, c, SR_ROAM_CHAL_LEN, e),
			 -EACCES);
	assert_int_equal(sr_side_roam_echo(key, SR_SIDE_B, sid, 1, c, SR_ROAM_CHAL_LEN - 1, e),
			 -EBADMSG);
	c[0] = SR_MSG_ROAM;
	assert_int_equal(sr_side_roam_echo(key, SR_SIDE_B, sid, 1, c, SR_ROAM_LEN, e), -ENOTSUP);
	/* a challenge is never a reply sr_side_parse_reply() hands out */
	head(c, SR_MSG_ROAM_CHAL, SR_SIDE_B, 0);
	assert_int_equal(
	    sr_side_parse_reply(c, SR_ROAM_CHAL_LEN, SR_SIDE_B, sid, &(struct sr_side_reply){0}),
	    -ENOTSUP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lengths),      cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_reply_fields), cmocka_unit_test(test_reply_refused),
	    cmocka_unit_test(test_roam_mac),     cmocka_unit_test(test_roam_echo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
