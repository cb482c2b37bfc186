/* SPDX-License-Identifier: MIT */
/* Control-plane frames, handshake and identity auth, driven without sockets. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "cp_frame.h"
#include "cp_hs.h"
#include "wire.h"

struct pair {
	uint8_t server_sk[32], server_pk[32];
	struct cp_sess c, s;
};

/* Full handshake in memory. */
static int handshake(struct pair *p, const uint8_t *client_pins)
{
	struct cp_hs hs;
	uint8_t hello[CP_CLIENT_HELLO_LEN], sh[CP_SERVER_HELLO_LEN];

	cp_hs_client_start(&hs, client_pins, hello);
	if (cp_hs_server(p->server_sk, p->server_pk, hello, sh, &p->s) < 0)
		return -1;
	return cp_hs_client_finish(&hs, sh, &p->c);
}

static int setup(void **state)
{
	static struct pair p;

	crypto_box_keypair(p.server_pk, p.server_sk);
	assert_int_equal(handshake(&p, p.server_pk), 0);
	*state = &p;
	return 0;
}

static void test_handshake_keys_match(void **state)
{
	struct pair *p = *state;

	assert_memory_equal(p->c.tx, p->s.rx, 32);
	assert_memory_equal(p->c.rx, p->s.tx, 32);
	assert_memory_equal(p->c.sid, p->s.sid, 32);
	assert_memory_not_equal(p->c.tx, p->c.rx, 32);
}

static void test_seal_open_roundtrip(void **state)
{
	struct pair *p = *state;
	uint8_t buf[256], out[256];
	const char *msg = "hello frame";
	int n, m;

	n = cp_sess_seal(&p->s, (const uint8_t *)msg, strlen(msg), buf, sizeof(buf));
	assert_int_equal(n, CP_FRAME_HDR + strlen(msg) + CP_TAG_LEN);
	size_t flen;
	assert_int_equal(cp_frame_check(buf, (size_t)n, &flen), 0);
	assert_int_equal(flen, (size_t)n);
	m = cp_sess_open(&p->c, buf, flen, out, sizeof(out));
	assert_int_equal(m, strlen(msg));
	assert_memory_equal(out, msg, strlen(msg));
	/* replaying the same frame fails: the counter moved on */
	assert_int_equal(cp_sess_open(&p->c, buf, flen, out, sizeof(out)), -EBADMSG);
}

static void test_wrong_server_key(void **state)
{
	struct pair p;
	uint8_t wrong[32], wsk[32], buf[128], out[128];
	int n;

	crypto_box_keypair(p.server_pk, p.server_sk);
	crypto_box_keypair(wrong, wsk);
	assert_int_equal(handshake(&p, wrong), 0);
	n = cp_sess_seal(&p.s, (const uint8_t *)"challenge", 9, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(cp_sess_open(&p.c, buf, (size_t)n, out, sizeof(out)), -EBADMSG);
}

static void test_bad_hello(void **state)
{
	struct pair *p = *state;
	uint8_t hello[CP_CLIENT_HELLO_LEN] = "PLCP", sh[32];
	struct cp_sess s;

	hello[4] = CP_VERSION;
	/* all-zero ephemeral key: low-order point */
	assert_int_equal(cp_hs_server(p->server_sk, p->server_pk, hello, sh, &s), -EBADMSG);
	hello[4] = 99;
	assert_int_equal(cp_hs_server(p->server_sk, p->server_pk, hello, sh, &s), -EPROTO);
	memcpy(hello, "XXXX", 4);
	assert_int_equal(cp_hs_server(p->server_sk, p->server_pk, hello, sh, &s), -EPROTO);
}

static void test_frame_check_classes(void **state)
{
	uint8_t b[8] = {0};
	size_t flen;

	assert_int_equal(cp_frame_check(b, 3, &flen), -EAGAIN);
	put_be32(b, CP_CT_MAX + 1);
	assert_int_equal(cp_frame_check(b, 8, &flen), -EMSGSIZE);
	put_be32(b, 0xffffffffu);
	assert_int_equal(cp_frame_check(b, 8, &flen), -EMSGSIZE);
	put_be32(b, CP_TAG_LEN - 1);
	assert_int_equal(cp_frame_check(b, 8, &flen), -EBADMSG);
	put_be32(b, 100);
	assert_int_equal(cp_frame_check(b, 8, &flen), -EAGAIN);
	assert_int_equal(flen, 104);
}

static void test_tampered_frame(void **state)
{
	struct pair *p = *state;
	uint8_t buf[128], out[128];
	int n;

	for (int i = 0; i < 3; i++) {
		struct cp_sess c = p->c, s = p->s;

		n = cp_sess_seal(&s, (const uint8_t *)"0123456789", 10, buf, sizeof(buf));
		buf[i == 0 ? 3 : i == 1 ? 6 : n - 1] ^= 1; /* header (AD), body, tag */
		if (i == 0)
			assert_int_equal(cp_sess_open(&c, buf, (size_t)n, out, sizeof(out)),
					 -EBADMSG);
		else
			assert_int_equal(cp_sess_open(&c, buf, (size_t)n, out, sizeof(out)),
					 -EBADMSG);
	}
}

static void test_oversize_seal(void **state)
{
	struct pair *p = *state;
	static uint8_t big[CP_FRAME_MAX + 64];

	assert_int_equal(cp_sess_seal(&p->s, big, CP_MSG_MAX + 1, big, sizeof(big)), -EMSGSIZE);
	assert_int_equal(cp_sess_seal(&p->s, big, 100, big, 50), -ENOBUFS);
}

static void test_msg_roundtrip(void **state)
{
	struct cp_msg m = {.type = CP_T_ENROLL, .req = 7}, d;
	uint8_t buf[1024];
	int n;

	strcpy(m.handle, "@dev-1");
	strcpy(m.code, "abcd-efgh");
	memset(m.sign_pk, 1, 32);
	memset(m.box_pk, 2, 32);
	memset(m.keysig, 3, 64);
	memset(m.sig, 4, 64);
	n = cp_msg_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(cp_msg_decode(buf, (size_t)n, &d), 0);
	assert_int_equal(d.type, CP_T_ENROLL);
	assert_int_equal(d.req, 7);
	assert_string_equal(d.handle, "@dev-1");
	assert_string_equal(d.code, "abcd-efgh");
	assert_memory_equal(d.sig, m.sig, 64);
	/* every truncation fails, a trailing byte fails */
	for (int i = 0; i < n; i++)
		assert_int_equal(cp_msg_decode(buf, (size_t)i, &d), -EBADMSG);
	buf[n] = 0;
	assert_int_equal(cp_msg_decode(buf, (size_t)n + 1, &d), -EBADMSG);
}

/* R_NOTIFIED carries the sequence and the presence bit; nothing shorter decodes. */
static void test_notified_flags(void **state)
{
	struct cp_msg m = {.type = CP_T_R_NOTIFIED,
			   .req = 9,
			   .seq = 0x0102030405060708ull,
			   .flags = CP_NOTIFIED_ONLINE},
		      d;
	uint8_t buf[64];
	int n = cp_msg_encode(&m, buf, sizeof(buf));

	assert_true(n > 0);
	assert_int_equal(cp_msg_decode(buf, (size_t)n, &d), 0);
	assert_int_equal(d.seq, m.seq);
	assert_int_equal(d.flags, CP_NOTIFIED_ONLINE);
	m.flags = 0;
	n = cp_msg_encode(&m, buf, sizeof(buf));
	assert_int_equal(cp_msg_decode(buf, (size_t)n, &d), 0);
	assert_int_equal(d.flags, 0);
	assert_int_equal(cp_msg_decode(buf, (size_t)n - 1, &d), -EBADMSG); /* the old 8-byte form */
}

/* REVOKED: a push (req 0) of one valid handle, strict about every byte. */
static void test_revoked(void **state)
{
	struct cp_msg m = {.type = CP_T_REVOKED}, d;
	uint8_t buf[64];
	int n;

	strcpy(m.handle, "@alice");
	n = cp_msg_encode(&m, buf, sizeof(buf));
	assert_int_equal(n, CP_MSG_HDR + 1 + 6);
	assert_int_equal(buf[0], 0x88);
	assert_int_equal(buf[5], 6);
	assert_memory_equal(buf + 6, "@alice", 6);
	assert_false(cp_msg_from_client(buf[0]));
	assert_int_equal(cp_msg_decode(buf, (size_t)n, &d), 0);
	assert_int_equal(d.type, CP_T_REVOKED);
	assert_int_equal(d.req, 0);
	assert_string_equal(d.handle, "@alice");
	for (int i = 0; i < n; i++) /* every truncation */
		assert_int_equal(cp_msg_decode(buf, (size_t)i, &d), -EBADMSG);
	buf[n] = 0; /* a trailing byte */
	assert_int_equal(cp_msg_decode(buf, (size_t)n + 1, &d), -EBADMSG);
	buf[5] = 7; /* a length past the end */
	assert_int_equal(cp_msg_decode(buf, (size_t)n, &d), -EBADMSG);
	buf[5] = 6;
	buf[7] = 'A'; /* not a valid handle */
	assert_int_equal(cp_msg_decode(buf, (size_t)n, &d), -EBADMSG);
	buf[7] = 'a';
	buf[4] = 1; /* a request id: pushes carry 0 */
	assert_int_equal(cp_msg_decode(buf, (size_t)n, &d), -EBADMSG);
	buf[5] = 0; /* empty handle */
	assert_int_equal(cp_msg_decode(buf, 6, &d), -EBADMSG);
	/* the encoder refuses the same */
	m.req = 1;
	assert_int_equal(cp_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.req = 0;
	strcpy(m.handle, "alice");
	assert_int_equal(cp_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
}

static void test_msg_malformed(void **state)
{
	struct cp_msg m = {.type = CP_T_GET_KEYS, .req = 1}, d;
	uint8_t buf[256];
	int n;

	strcpy(m.handle, "@ok");
	n = cp_msg_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	buf[6] = 'O'; /* upper case: invalid handle */
	assert_int_equal(cp_msg_decode(buf, (size_t)n, &d), -EBADMSG);
	buf[0] = 0x7f; /* unknown type */
	assert_int_equal(cp_msg_decode(buf, (size_t)n, &d), -ENOTSUP);
	/* NOTIFY with a length over the envelope cap */
	uint8_t nb[32] = {CP_T_NOTIFY, 0, 0, 0, 1};
	put_be64(nb + 5, 1);
	put_be32(nb + 13, ENVELOPE_MAX + 1);
	assert_int_equal(cp_msg_decode(nb, sizeof(nb), &d), -EBADMSG);
	/* ACK with zero and too many entries */
	uint8_t ab[8] = {CP_T_ACK, 0, 0, 0, 0, 0, 0};
	assert_int_equal(cp_msg_decode(ab, 7, &d), -EBADMSG);
	put_be16(ab + 5, CP_ACK_MAX + 1);
	assert_int_equal(cp_msg_decode(ab, 7, &d), -EBADMSG);
	/* record name with a slash */
	struct cp_msg r = {.type = CP_T_DEL_RECORD};
	strcpy(r.name, "a/b");
	n = cp_msg_encode(&r, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(cp_msg_decode(buf, (size_t)n, &d), -EBADMSG);
	/* error message with a control character */
	struct cp_msg e = {.type = CP_T_R_ERR, .err = 4};
	strcpy(e.errmsg, "bad\nline");
	n = cp_msg_encode(&e, buf, sizeof(buf));
	assert_int_equal(cp_msg_decode(buf, (size_t)n, &d), -EBADMSG);
	/* error code 0 is not an error */
	e.err = 0;
	strcpy(e.errmsg, "x");
	n = cp_msg_encode(&e, buf, sizeof(buf));
	assert_int_equal(cp_msg_decode(buf, (size_t)n, &d), -EBADMSG);
}

static void test_auth_binding(void **state)
{
	struct pair *p = *state;
	struct identity *id = identity_generate("@alice"), *other = identity_generate("@alice");
	uint8_t ch[32], sig[64], sid2[32];

	assert_non_null(id);
	randombytes_buf(ch, sizeof(ch));
	cp_auth_sign(id, ch, p->c.sid, sig);
	assert_true(cp_auth_verify(id->pub.sign_pk, "@alice", ch, p->s.sid, sig));
	/* other handle, other challenge, other session, other key: refused */
	assert_false(cp_auth_verify(id->pub.sign_pk, "@bob", ch, p->s.sid, sig));
	ch[0] ^= 1;
	assert_false(cp_auth_verify(id->pub.sign_pk, "@alice", ch, p->s.sid, sig));
	ch[0] ^= 1;
	memcpy(sid2, p->s.sid, 32);
	sid2[31] ^= 1;
	assert_false(cp_auth_verify(id->pub.sign_pk, "@alice", ch, sid2, sig));
	assert_false(cp_auth_verify(other->pub.sign_pk, "@alice", ch, p->s.sid, sig));
	identity_free(id);
	identity_free(other);
}

static void test_keysig(void **state)
{
	struct identity *id = identity_generate("@dev");
	uint8_t ks[64];
	struct pubkeys pk;

	cp_keys_sign(id, ks);
	pk = id->pub;
	assert_true(cp_keys_verify(&pk, ks));
	pk.box_pk[0] ^= 1; /* swapped encryption key */
	assert_false(cp_keys_verify(&pk, ks));
	pk = id->pub;
	strcpy(pk.handle, "@dev2");
	assert_false(cp_keys_verify(&pk, ks));
	identity_free(id);
}

static void test_code(void **state)
{
	char a[CP_CODE_BUF], b[CP_CODE_BUF];
	uint8_t ha[32], hb[32];

	cp_code_generate(a);
	cp_code_generate(b);
	assert_int_equal(strlen(a), 35);
	assert_string_not_equal(a, b);
	cp_code_hash(a, ha);
	cp_code_hash(b, hb);
	assert_memory_not_equal(ha, hb, 32);
}

static void test_strerror(void **state)
{
	assert_string_equal(cp_strerror(CP_E_UNKNOWN_IDENTITY), "unknown identity");
	assert_string_equal(cp_strerror(CP_E_QUEUE_FULL), "recipient's queue is full");
	assert_string_equal(cp_strerror(9999), "unknown error");
	assert_string_equal(cp_strerror(-1), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handshake_keys_match),
	    cmocka_unit_test(test_seal_open_roundtrip),
	    cmocka_unit_test(test_wrong_server_key),
	    cmocka_unit_test(test_bad_hello),
	    cmocka_unit_test(test_frame_check_classes),
	    cmocka_unit_test(test_tampered_frame),
	    cmocka_unit_test(test_oversize_seal),
	    cmocka_unit_test(test_msg_roundtrip),
	    cmocka_unit_test(test_notified_flags),
	    cmocka_unit_test(test_revoked),
	    cmocka_unit_test(test_msg_malformed),
	    cmocka_unit_test(test_auth_binding),
	    cmocka_unit_test(test_keysig),
	    cmocka_unit_test(test_code),
	    cmocka_unit_test(test_strerror),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, NULL);
}
