/* SPDX-License-Identifier: MIT */
/* Data plane: AEAD known answers, key derivation symmetry, seal/open, tamper, rekey. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "dp_keys.h"
#include "dp_seal.h"
#include "pkt.h"
#include "text.h"

static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = 0;

	assert_int_equal(sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &n, NULL), 0);
	return n;
}

/* RFC 8439 section 2.8.2 through libsodium's IETF ChaCha20-Poly1305. */
static void kat_chacha_rfc8439(void **state)
{
	uint8_t key[32], nonce[12], aad[12], want[256], out[256];
	const char *pt = "Ladies and Gentlemen of the class of '99: If I could offer you only one "
			 "tip for the future, sunscreen would be it.";
	unsigned long long olen;
	size_t wlen;

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(0x80 + i);
	unhex(nonce, sizeof(nonce), "070000004041424344454647");
	unhex(aad, sizeof(aad), "50515253c0c1c2c3c4c5c6c7");
	wlen =
	    unhex(want, sizeof(want),
		  "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca967"
		  "1282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee32809"
		  "1b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
		  "1ae10b594f09e26a7e902ecbd0600691");
	crypto_aead_chacha20poly1305_ietf_encrypt(out, &olen, (const uint8_t *)pt, strlen(pt), aad,
						  sizeof(aad), NULL, nonce, key);
	assert_int_equal(olen, wlen);
	assert_memory_equal(out, want, wlen);
}

/* NIST GCM spec test case 16 (AES-256, 60-byte plaintext, 20-byte AAD). */
static void kat_aes256gcm_nist(void **state)
{
	uint8_t key[32], iv[12], aad[20], pt[60], want[76], out[76];
	unsigned long long olen;

	if (!crypto_aead_aes256gcm_is_available())
		skip();
	unhex(key, 32, "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
	unhex(iv, 12, "cafebabefacedbaddecaf888");
	unhex(aad, 20, "feedfacedeadbeeffeedfacedeadbeefabaddad2");
	unhex(pt, 60,
	      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532f"
	      "cf0e2449a6b525b16aedf5aa0de657ba637b39");
	unhex(want, 76,
	      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7"
	      "b08b1056828838c5f61e6393ba7a0abcc9f66276fc6ece0f4e1768cddf8853bb2d551b");
	crypto_aead_aes256gcm_encrypt(out, &olen, pt, 60, aad, 20, NULL, iv, key);
	assert_int_equal(olen, 76);
	assert_memory_equal(out, want, 76);
}

/* Our packet format (version 2): the 15-byte clear header as AAD, the kind byte
 * (DATA) encrypted in front of the plaintext, nonce = 0^32 || be64(counter).
 * Vectors made independently with Python's cryptography package (see
 * docs/PROTOCOL.md). */
static void kat_packet(uint8_t aead, const char *hex0, const char *hex1)
{
	struct dp_keys k = {.aead = aead, .side = SR_SIDE_A};
	uint8_t buf[256], want[128];
	const char *msg = "portless data plane";
	struct dp_state *s;
	struct pkt p;
	size_t wlen;

	for (int i = 0; i < 32; i++)
		k.tx[i] = (uint8_t)i;
	s = dp_state_new(&k, NULL, 0);
	assert_non_null(s);
	for (int ctr = 0; ctr < 2; ctr++) {
		pkt_init(&p, buf, sizeof(buf), SR_HEADROOM);
		memcpy(pkt_put(&p, strlen(msg)), msg, strlen(msg));
		assert_int_equal(dp_seal(s, SR_MSG_DATA, 0x01020304, &p, 0), 0);
		wlen = unhex(want, sizeof(want), ctr ? hex1 : hex0);
		assert_int_equal(p.len, wlen);
		assert_memory_equal(pkt_data(&p), want, wlen);
	}
	dp_state_free(s);
}

static void kat_packet_chacha(void **state)
{
	kat_packet(DP_AEAD_CHACHA20POLY1305,
		   "10000200010203040000000000000008c82d43d98ac3a260413800db226e5794d09d90b5c64739"
		   "b7f7cbdb6d11a67a1e393a0a",
		   "100002000102030400000000000001792c13ab4566dd095e511a4ec77537627c9051256fa33b36"
		   "4d969017bc34dbd1abf8fd93");
}

static void kat_packet_aes(void **state)
{
	if (!crypto_aead_aes256gcm_is_available())
		skip();
	kat_packet(DP_AEAD_AES256GCM,
		   "1000020001020304000000000000001eccdaacc140e6ce7b88cd546c4db1e9be223836672c8aa2"
		   "a9656a0938936ea4174e6672",
		   "10000200010203040000000000000105a6d08e3098556d7d0e355898c71a8779fe72311f14d65a"
		   "84321e29e688637805e5e331");
}

struct pair {
	struct dp_state *a, *b;
};

static void make_transcript(struct dp_transcript *t, const struct dp_keypair *ka,
			    const struct dp_keypair *kb, uint8_t aead)
{
	memset(t, 0, sizeof(*t));
	memset(t->session_id, 0x5a, SR_SID_LEN);
	t->handle_a = "@alice";
	t->handle_b = "@device";
	memcpy(t->pk_a, ka->pk, DP_PK_LEN);
	memcpy(t->pk_b, kb->pk, DP_PK_LEN);
	t->aead = aead;
}

static void derive_pair(struct pair *p, uint8_t aead, const struct dp_limits *lim)
{
	struct dp_keypair ka, kb;
	struct dp_transcript t;
	struct dp_keys a, b;

	dp_keypair_new(&ka);
	dp_keypair_new(&kb);
	make_transcript(&t, &ka, &kb, aead);
	assert_int_equal(dp_derive(&ka, SR_SIDE_A, &t, &a), 0);
	assert_int_equal(dp_derive(&kb, SR_SIDE_B, &t, &b), 0);
	p->a = dp_state_new(&a, lim, 0);
	p->b = dp_state_new(&b, lim, 0);
	assert_non_null(p->a);
	assert_non_null(p->b);
	dp_keys_wipe(&a);
	dp_keys_wipe(&b);
	dp_keypair_wipe(&ka);
	dp_keypair_wipe(&kb);
}

static void derive_symmetric(void **state)
{
	struct dp_keypair ka, kb, kx;
	struct dp_transcript t;
	struct dp_keys a, b, c;

	dp_keypair_new(&ka);
	dp_keypair_new(&kb);
	dp_keypair_new(&kx);
	make_transcript(&t, &ka, &kb, DP_AEAD_CHACHA20POLY1305);
	assert_int_equal(dp_derive(&ka, SR_SIDE_A, &t, &a), 0);
	assert_int_equal(dp_derive(&kb, SR_SIDE_B, &t, &b), 0);
	assert_memory_equal(a.tx, b.rx, DP_KEY_LEN);
	assert_memory_equal(a.rx, b.tx, DP_KEY_LEN);
	assert_memory_equal(a.chain, b.chain, DP_KEY_LEN);
	assert_memory_not_equal(a.tx, a.rx, DP_KEY_LEN);
	/* every transcript field matters */
	t.handle_b = "@other";
	assert_int_equal(dp_derive(&ka, SR_SIDE_A, &t, &c), 0);
	assert_memory_not_equal(a.tx, c.tx, DP_KEY_LEN);
	t.handle_b = "@device";
	t.session_id[0] ^= 1;
	assert_int_equal(dp_derive(&ka, SR_SIDE_A, &t, &c), 0);
	assert_memory_not_equal(a.tx, c.tx, DP_KEY_LEN);
	t.session_id[0] ^= 1;
	t.aead = DP_AEAD_AES256GCM;
	assert_int_equal(dp_derive(&ka, SR_SIDE_A, &t, &c), 0);
	assert_memory_not_equal(a.tx, c.tx, DP_KEY_LEN);
	/* my key must be in the transcript; unknown AEAD refused; low-order key refused */
	assert_int_equal(dp_derive(&kx, SR_SIDE_A, &t, &c), -EINVAL);
	t.aead = 9;
	assert_int_equal(dp_derive(&ka, SR_SIDE_A, &t, &c), -EINVAL);
	t.aead = DP_AEAD_CHACHA20POLY1305;
	memset(t.pk_b, 0, DP_PK_LEN);
	assert_int_equal(dp_derive(&ka, SR_SIDE_A, &t, &c), -EPROTO);
	assert_true(dp_aead_supported() & (1u << DP_AEAD_CHACHA20POLY1305));
	assert_int_equal(dp_aead_choose(6, 2), DP_AEAD_CHACHA20POLY1305);
	assert_int_equal(dp_aead_choose(6, 6), DP_AEAD_AES256GCM);
	assert_int_equal(dp_aead_choose(4, 2), -ENOTSUP);
}

/* Seal on one side, open on the other; returns dp_open's result. */
static int xfer(struct dp_state *from, struct dp_state *to, uint8_t type, const char *msg,
		uint8_t *got_type, int flip)
{
	uint8_t buf[2048];
	struct pkt p;
	int r;

	pkt_init(&p, buf, sizeof(buf), SR_HEADROOM);
	memcpy(pkt_put(&p, strlen(msg)), msg, strlen(msg));
	assert_int_equal(dp_seal(from, type, 7, &p, 0), 0);
	if (flip >= 0)
		pkt_data(&p)[flip % (int)p.len] ^= 0x20;
	r = dp_open(to, &p, got_type, 0);
	if (r == 0 && type == SR_MSG_DATA_CTRL) {
		assert_int_equal(p.len, DPC_PAD); /* control messages travel padded */
		assert_memory_equal(pkt_data(&p), msg, strlen(msg));
	} else if (r == 0) {
		assert_int_equal(p.len, strlen(msg));
		assert_memory_equal(pkt_data(&p), msg, p.len);
	}
	return r;
}

static void seal_open_both(uint8_t aead)
{
	struct pair p;
	uint8_t t;

	derive_pair(&p, aead, NULL);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(xfer(p.a, p.b, SR_MSG_DATA, "hello device", &t, -1), 0);
		assert_int_equal(t, SR_MSG_DATA);
		assert_int_equal(xfer(p.b, p.a, SR_MSG_DATA_CTRL, "\x01", &t, -1), 0);
		assert_int_equal(t, SR_MSG_DATA_CTRL);
	}
	/* A's own packet does not open as if it came from B (direction keys differ). */
	assert_int_equal(xfer(p.a, p.a, SR_MSG_DATA, "loop", &t, -1), -EBADMSG);
	dp_state_free(p.a);
	dp_state_free(p.b);
}

static void seal_open(void **state)
{
	seal_open_both(DP_AEAD_CHACHA20POLY1305);
	if (crypto_aead_aes256gcm_is_available())
		seal_open_both(DP_AEAD_AES256GCM);
}

static void tamper_every_byte(void **state)
{
	struct pair p;
	uint8_t t;
	const char *msg = "some plaintext of a packet";
	int n = SR_DP_OVERHEAD + (int)strlen(msg);

	derive_pair(&p, DP_AEAD_CHACHA20POLY1305, NULL);
	for (int i = 0; i < n; i++) {
		int r = xfer(p.a, p.b, SR_MSG_DATA, msg, &t, i);

		if (i == 0 || i == 2)
			assert_true(r == -EPROTO || r == -EBADMSG); /* type, version byte */
		else if (i == 1)
			assert_int_equal(r, -ENOKEY); /* phase byte */
		else
			assert_int_equal(r, -EBADMSG);
	}
	/* the session keeps working after tampered packets */
	assert_int_equal(xfer(p.a, p.b, SR_MSG_DATA, msg, &t, -1), 0);
	dp_state_free(p.a);
	dp_state_free(p.b);
}

static void replay_and_short(void **state)
{
	struct pair p;
	uint8_t buf[256], copy[256], t;
	struct pkt q;
	size_t n;

	derive_pair(&p, DP_AEAD_CHACHA20POLY1305, NULL);
	pkt_init(&q, buf, sizeof(buf), SR_HEADROOM);
	memcpy(pkt_put(&q, 4), "ping", 4);
	assert_int_equal(dp_seal(p.a, SR_MSG_DATA, 1, &q, 0), 0);
	n = q.len;
	memcpy(copy, pkt_data(&q), n);
	assert_int_equal(dp_open(p.b, &q, &t, 0), 0);
	pkt_init(&q, buf, sizeof(buf), 0);
	memcpy(pkt_put(&q, n), copy, n);
	assert_int_equal(dp_open(p.b, &q, &t, 0), -EALREADY);
	pkt_init(&q, buf, sizeof(buf), 0);
	memcpy(pkt_put(&q, SR_DP_OVERHEAD - 1), copy, SR_DP_OVERHEAD - 1);
	assert_int_equal(dp_open(p.b, &q, &t, 0), -EPROTO);
	/* no headroom: refused, nothing changed */
	pkt_init(&q, buf, sizeof(buf), 4);
	memcpy(pkt_put(&q, 4), "ping", 4);
	assert_int_equal(dp_seal(p.a, SR_MSG_DATA, 1, &q, 0), -ENOSPC);
	dp_state_free(p.a);
	dp_state_free(p.b);
}

static void counter_exhaustion(void **state)
{
	struct dp_limits lim;
	struct pair p;
	uint8_t t;

	dp_limits_default(&lim);
	lim.reject_after_packets = 3;
	lim.rekey_after_packets = 1000;
	derive_pair(&p, DP_AEAD_CHACHA20POLY1305, &lim);
	for (int i = 0; i < 3; i++)
		assert_int_equal(xfer(p.a, p.b, SR_MSG_DATA, "x", &t, -1), 0);
	uint8_t buf[64];
	struct pkt q;
	pkt_init(&q, buf, sizeof(buf), SR_HEADROOM);
	memcpy(pkt_put(&q, 1), "x", 1);
	assert_int_equal(dp_seal(p.a, SR_MSG_DATA, 1, &q, 0), -ESTALE);
	dp_state_free(p.a);
	dp_state_free(p.b);
}

/* Carry a control message (sealed) and feed it; returns the event. */
static int ctrl(struct dp_state *from, struct dp_state *to, const uint8_t *msg, size_t len,
		uint8_t *reply, size_t *rlen)
{
	uint8_t buf[256], t;
	struct pkt q;
	int r;

	pkt_init(&q, buf, sizeof(buf), SR_HEADROOM);
	memcpy(pkt_put(&q, len), msg, len);
	assert_int_equal(dp_seal(from, SR_MSG_DATA_CTRL, 1, &q, 1.0), 0);
	assert_int_equal(dp_open(to, &q, &t, 1.0), 0);
	assert_int_equal(t, SR_MSG_DATA_CTRL);
	r = dp_ctrl_input(to, pkt_data(&q), q.len, 1.0, reply, rlen);
	return r;
}

static void rekey_by_count(void **state)
{
	struct dp_limits lim;
	struct pair p;
	uint8_t init[DPC_MAX], resp[DPC_MAX], conf[DPC_MAX], t, old[256];
	size_t n, rl, cl;
	struct pkt q;

	dp_limits_default(&lim);
	lim.rekey_after_packets = 10;
	derive_pair(&p, DP_AEAD_CHACHA20POLY1305, &lim);
	assert_int_equal(dp_rekey_poll(p.a, 0, init), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(xfer(p.a, p.b, SR_MSG_DATA, "x", &t, -1), 0);
	/* a packet sealed under the old key, delivered late (after the switch) */
	pkt_init(&q, old, sizeof(old), SR_HEADROOM);
	memcpy(pkt_put(&q, 4), "late", 4);
	assert_int_equal(dp_seal(p.b, SR_MSG_DATA, 1, &q, 0), 0);

	n = dp_rekey_poll(p.a, 0, init);
	assert_int_equal(n, DPC_REKEY_LEN);
	assert_int_equal(dp_rekey_poll(p.a, 0.5, init), 0); /* no resend before 1 s */
	assert_int_equal(ctrl(p.a, p.b, init, n, resp, &rl), DP_CTRL_NONE);
	assert_int_equal(rl, DPC_REKEY_LEN);
	/* duplicate INIT: same answer again */
	uint8_t resp2[DPC_MAX];
	size_t rl2;
	assert_int_equal(ctrl(p.a, p.b, init, n, resp2, &rl2), DP_CTRL_NONE);
	assert_int_equal(rl2, rl);
	assert_memory_equal(resp, resp2, rl);
	/* B still sends with the old key until A proves the new one */
	assert_int_equal(dp_epoch(p.b), 0);
	assert_int_equal(ctrl(p.b, p.a, resp, rl, conf, &cl), DP_CTRL_REKEYED);
	assert_int_equal(dp_epoch(p.a), 1);
	assert_int_equal(dp_tx_counter(p.a), 0);
	assert_int_equal(cl, 1);
	assert_int_equal(ctrl(p.a, p.b, conf, cl, resp, &rl), DP_CTRL_NONE);
	assert_int_equal(dp_epoch(p.b), 1);
	/* both directions work under the new keys; the late old packet still opens */
	assert_int_equal(xfer(p.a, p.b, SR_MSG_DATA, "new a", &t, -1), 0);
	assert_int_equal(xfer(p.b, p.a, SR_MSG_DATA, "new b", &t, -1), 0);
	assert_int_equal(dp_open(p.a, &q, &t, 0), 0);
	assert_memory_equal(pkt_data(&q), "late", 4);
	dp_state_free(p.a);
	dp_state_free(p.b);
}

static void rekey_by_time_and_collision(void **state)
{
	struct dp_limits lim;
	struct pair p;
	uint8_t ia[DPC_MAX], ib[DPC_MAX], r1[DPC_MAX], r2[DPC_MAX], c[DPC_MAX], t;
	size_t na, nb, l1, l2, cl;

	dp_limits_default(&lim);
	lim.rekey_after_seconds = 5;
	derive_pair(&p, DP_AEAD_CHACHA20POLY1305, &lim);
	assert_int_equal(dp_rekey_poll(p.a, 4, ia), 0);
	na = dp_rekey_poll(p.a, 5, ia);
	assert_int_equal(na, DPC_REKEY_LEN);
	dp_rekey_now(p.b); /* B starts too: A's INIT wins */
	nb = dp_rekey_poll(p.b, 5, ib);
	assert_int_equal(nb, DPC_REKEY_LEN);
	assert_int_equal(ctrl(p.b, p.a, ib, nb, r1, &l1), DP_CTRL_NONE);
	assert_int_equal(l1, 0); /* A ignores B's INIT */
	assert_int_equal(ctrl(p.a, p.b, ia, na, r2, &l2), DP_CTRL_NONE);
	assert_int_equal(l2, DPC_REKEY_LEN);
	assert_int_equal(ctrl(p.b, p.a, r2, l2, c, &cl), DP_CTRL_REKEYED);
	assert_int_equal(xfer(p.a, p.b, SR_MSG_DATA, "after", &t, -1), 0);
	assert_int_equal(xfer(p.b, p.a, SR_MSG_DATA, "after", &t, -1), 0);
	assert_int_equal(dp_epoch(p.a), 1);
	assert_int_equal(dp_epoch(p.b), 1);
	/* malformed control */
	assert_int_equal(dp_ctrl_input(p.a, (const uint8_t *)"\x02", 1, 0, c, &cl), -EPROTO);
	assert_int_equal(dp_ctrl_input(p.a, (const uint8_t *)"\x04\x01", 2, 0, c, &cl),
			 DP_CTRL_CLOSE);
	dp_state_free(p.a);
	dp_state_free(p.b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(kat_chacha_rfc8439),
	    cmocka_unit_test(kat_aes256gcm_nist),
	    cmocka_unit_test(kat_packet_chacha),
	    cmocka_unit_test(kat_packet_aes),
	    cmocka_unit_test(derive_symmetric),
	    cmocka_unit_test(seal_open),
	    cmocka_unit_test(tamper_every_byte),
	    cmocka_unit_test(replay_and_short),
	    cmocka_unit_test(counter_exhaustion),
	    cmocka_unit_test(rekey_by_count),
	    cmocka_unit_test(rekey_by_time_and_collision),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
