/* SPDX-License-Identifier: MIT */
/* Session request / answer / end codecs. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "sess.h"

static void make_request(struct sess_request *r)
{
	memset(r, 0, sizeof(*r));
	randombytes_buf(r->session_id, SR_SID_LEN);
	r->ticket.side = SR_SIDE_B;
	memcpy(r->ticket.session_id, r->session_id, SR_SID_LEN);
	r->ticket.expiry = 1800000000;
	strcpy(r->ticket.host, "10.0.0.1");
	r->ticket.tcp_port = 7001;
	r->ticket.udp_port = 7002;
	randombytes_buf(r->ticket.secret, SR_SECRET_LEN);
	randombytes_buf(r->client_pk, DP_PK_LEN);
	r->aead_mask = 6;
	strcpy(r->user, "alice");
}

static void test_request_roundtrip(void **state)
{
	struct sess_request r, back;
	uint8_t buf[SESS_REQUEST_MAX];
	size_t len;

	make_request(&r);
	assert_int_equal(sess_request_encode(&r, buf, sizeof(buf), &len), 0);
	assert_true(sess_request_decode(buf, len, &back));
	assert_memory_equal(back.session_id, r.session_id, SR_SID_LEN);
	assert_memory_equal(back.ticket.secret, r.ticket.secret, SR_SECRET_LEN);
	assert_string_equal(back.ticket.host, "10.0.0.1");
	assert_int_equal(back.ticket.udp_port, 7002);
	assert_memory_equal(back.client_pk, r.client_pk, DP_PK_LEN);
	assert_int_equal(back.aead_mask, 6);
	assert_string_equal(back.user, "alice");
	/* Every truncation and one extra byte are refused. */
	for (size_t n = 0; n < len; n++)
		assert_false(sess_request_decode(buf, n, &back));
	buf[len] = 0;
	assert_false(sess_request_decode(buf, len + 1, &back));
}

static void test_request_rejects(void **state)
{
	struct sess_request r, back;
	uint8_t buf[SESS_REQUEST_MAX];
	size_t len;

	make_request(&r);
	strcpy(r.user, "Root");
	assert_int_equal(sess_request_encode(&r, buf, sizeof(buf), &len), -EINVAL);
	make_request(&r);
	r.ticket.side = SR_SIDE_A; /* a client forwarding its own side */
	assert_int_equal(sess_request_encode(&r, buf, sizeof(buf), &len), 0);
	assert_false(sess_request_decode(buf, len, &back));
	make_request(&r);
	r.ticket.session_id[0] ^= 1; /* ticket of another session */
	assert_int_equal(sess_request_encode(&r, buf, sizeof(buf), &len), 0);
	assert_false(sess_request_decode(buf, len, &back));
	make_request(&r);
	assert_int_equal(sess_request_encode(&r, buf, sizeof(buf), &len), 0);
	buf[0] = 9; /* version */
	assert_false(sess_request_decode(buf, len, &back));
}

static void test_answer_roundtrip(void **state)
{
	struct sess_answer a, back;
	uint8_t buf[SESS_ANSWER_MAX];
	size_t len;

	memset(&a, 0, sizeof(a));
	a.status = SESS_OK;
	randombytes_buf(a.session_id, SR_SID_LEN);
	randombytes_buf(a.device_pk, DP_PK_LEN);
	a.aead = DP_AEAD_AES256GCM;
	inet_pton(AF_INET, "100.64.1.2", &a.device_v4);
	inet_pton(AF_INET, "100.127.0.9", &a.client_v4);
	inet_pton(AF_INET6, "fd00::1", &a.device_v6);
	a.mtu = 1420;
	a.expiry = 42;
	strcpy(a.user, "bob");
	strcpy(a.sshkey, "-----BEGIN OPENSSH PRIVATE KEY-----\nxx\n");
	strcpy(a.hostkeys, "ssh-ed25519 AAAA\n");
	/* The key only travels sealed to the session's chain key. */
	uint8_t chain[DP_KEY_LEN], other[DP_KEY_LEN];
	randombytes_buf(chain, sizeof(chain));
	randombytes_buf(other, sizeof(other));
	assert_int_equal(sess_answer_encode(&a, buf, sizeof(buf), &len), -EINVAL); /* not sealed */
	assert_int_equal(sess_answer_seal(&a, chain), 0);
	assert_string_equal(a.sshkey, ""); /* wiped */
	assert_int_equal(sess_answer_encode(&a, buf, sizeof(buf), &len), 0);
	assert_true(len <= SESS_ANSWER_MAX);
	assert_null(memmem(buf, len, "OPENSSH", 7));
	assert_true(sess_answer_decode(buf, len, &back));
	assert_memory_equal(&back.device_v4, &a.device_v4, 4);
	assert_memory_equal(&back.client_v4, &a.client_v4, 4);
	assert_memory_equal(&back.device_v6, &a.device_v6, 16);
	assert_int_equal(sess_answer_open(&back, other), -EBADMSG); /* not the session's keys */
	assert_string_equal(back.sshkey, "");
	back.device_pk[0] ^= 1; /* the device key is bound in */
	assert_int_equal(sess_answer_open(&back, chain), -EBADMSG);
	back.device_pk[0] ^= 1;
	assert_int_equal(sess_answer_open(&back, chain), 0);
	assert_string_equal(back.sshkey, "-----BEGIN OPENSSH PRIVATE KEY-----\nxx\n");
	assert_string_equal(back.hostkeys, a.hostkeys);
	assert_int_equal(back.mtu, 1420);
	for (size_t n = 0; n < len; n++)
		assert_false(sess_answer_decode(buf, n, &back));
	/* An MTU below the IPv6 minimum is refused. */
	a.mtu = 500;
	assert_int_equal(sess_answer_seal(&a, chain), 0);
	assert_int_equal(sess_answer_encode(&a, buf, sizeof(buf), &len), 0);
	assert_false(sess_answer_decode(buf, len, &back));
	/* Error answers carry a reason. */
	memset(&a, 0, sizeof(a));
	a.status = SESS_BUSY;
	strcpy(a.reason, "too many sessions");
	assert_int_equal(sess_answer_encode(&a, buf, sizeof(buf), &len), 0);
	assert_true(sess_answer_decode(buf, len, &back));
	assert_int_equal(back.status, SESS_BUSY);
	assert_string_equal(back.reason, "too many sessions");
}

static void test_end(void **state)
{
	struct sess_end e = {.reason = SESS_END_IDLE}, back;
	uint8_t buf[64];
	size_t len;

	randombytes_buf(e.session_id, SR_SID_LEN);
	assert_int_equal(sess_end_encode(&e, buf, sizeof(buf), &len), 0);
	assert_true(sess_end_decode(buf, len, &back));
	assert_int_equal(back.reason, SESS_END_IDLE);
	assert_false(sess_end_decode(buf, len - 1, &back));
}

static void test_resume(void **state)
{
	struct sess_request r;
	struct sess_resume rs, back;
	struct sess_resumed ok = {.status = SESS_OK, .aead = DP_AEAD_CHACHA20POLY1305}, ob;
	uint8_t buf[SESS_RESUME_MAX];
	size_t len;

	make_request(&r);
	memset(&rs, 0, sizeof(rs));
	randombytes_buf(rs.session_id, SR_SID_LEN); /* the old session, not the ticket's */
	rs.ticket = r.ticket;
	randombytes_buf(rs.client_pk, DP_PK_LEN);
	rs.aead_mask = 2;
	assert_int_equal(sess_resume_encode(&rs, buf, sizeof(buf), &len), 0);
	assert_true(sess_resume_decode(buf, len, &back));
	assert_memory_equal(back.session_id, rs.session_id, SR_SID_LEN);
	assert_memory_equal(back.ticket.session_id, r.ticket.session_id, SR_SID_LEN);
	assert_memory_equal(back.ticket.secret, r.ticket.secret, SR_SECRET_LEN);
	assert_memory_equal(back.client_pk, rs.client_pk, DP_PK_LEN);
	for (size_t n = 0; n < len; n++)
		assert_false(sess_resume_decode(buf, n, &back));
	rs.ticket.side = SR_SIDE_A; /* only the device's side may be forwarded */
	assert_int_equal(sess_resume_encode(&rs, buf, sizeof(buf), &len), 0);
	assert_false(sess_resume_decode(buf, len, &back));

	randombytes_buf(ok.session_id, SR_SID_LEN);
	randombytes_buf(ok.device_pk, DP_PK_LEN);
	assert_int_equal(sess_resumed_encode(&ok, buf, sizeof(buf), &len), 0);
	assert_true(sess_resumed_decode(buf, len, &ob));
	assert_memory_equal(ob.device_pk, ok.device_pk, DP_PK_LEN);
	assert_int_equal(ob.aead, DP_AEAD_CHACHA20POLY1305);
	assert_false(sess_resumed_decode(buf, len - 1, &ob));
}

static void test_user_names(void **state)
{
	assert_true(sess_user_valid("alice"));
	assert_true(sess_user_valid("_svc-1"));
	assert_false(sess_user_valid(""));
	assert_false(sess_user_valid("-x"));
	assert_false(sess_user_valid("a b"));
	assert_false(sess_user_valid("../root"));
	assert_false(sess_user_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 33 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_roundtrip), cmocka_unit_test(test_request_rejects),
	    cmocka_unit_test(test_answer_roundtrip),  cmocka_unit_test(test_end),
	    cmocka_unit_test(test_user_names),        cmocka_unit_test(test_resume),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
