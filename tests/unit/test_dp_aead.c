/* SPDX-License-Identifier: MIT */
/*
 * Data-plane AEAD backend: OpenSSL EVP and libsodium AES-256-GCM give the
 * same bytes (known answers, many sizes, random inputs), each opens what the
 * other sealed, both refuse tampering; two dp_states on different backends
 * talk through rekeys. "test_dp_aead --bench [seconds]" is the
 * micro-benchmark of scripts/bench-aead.sh instead.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <sodium.h>

#include "dp_aead.h"
#include "dp_seal.h"
#include "pkt.h"

enum { OSSL = DP_AEAD_IMPL_OPENSSL, SOD = DP_AEAD_IMPL_SODIUM, MAXLEN = 65535 };

static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = 0;

	assert_int_equal(sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &n, NULL), 0);
	return n;
}

static int aes_setup(void **state)
{
	return crypto_aead_aes256gcm_is_available() ? 0 : -1;
}

static void key_pair(struct dp_aead_key k[2], uint8_t aead, const uint8_t key[DP_KEY_LEN])
{
	assert_int_equal(dp_aead_key_init(&k[OSSL], aead, OSSL, key), 0);
	assert_int_equal(dp_aead_key_init(&k[SOD], aead, SOD, key), 0);
}

static void key_pair_wipe(struct dp_aead_key k[2])
{
	dp_aead_key_wipe(&k[OSSL]);
	dp_aead_key_wipe(&k[SOD]);
}

/* NIST GCM spec test case 16 (AES-256, 60-byte plaintext, 20-byte AAD) through both. */
static void kat_nist_both(void **state)
{
	uint8_t key[32], iv[12], aad[20], pt[60], want[76], m[60], tag[16];
	struct dp_aead_key k[2];

	unhex(key, 32, "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
	unhex(iv, 12, "cafebabefacedbaddecaf888");
	unhex(aad, 20, "feedfacedeadbeeffeedfacedeadbeefabaddad2");
	unhex(pt, 60,
	      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532f"
	      "cf0e2449a6b525b16aedf5aa0de657ba637b39");
	unhex(want, 76,
	      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7"
	      "b08b1056828838c5f61e6393ba7a0abcc9f66276fc6ece0f4e1768cddf8853bb2d551b");
	key_pair(k, DP_AEAD_AES256GCM, key);
	for (int i = 0; i < 2; i++) {
		memcpy(m, pt, 60);
		assert_int_equal(dp_aead_seal(&k[i], iv, aad, 20, m, 60, tag), 0);
		assert_memory_equal(m, want, 60);
		assert_memory_equal(tag, want + 60, 16);
		assert_int_equal(dp_aead_open(&k[!i], iv, aad, 20, m, 60, tag), 0);
		assert_memory_equal(m, pt, 60);
	}
	key_pair_wipe(k);
}

/* NIST test case 13 (AES-256, no plaintext, no AAD): the tag alone. */
static void kat_nist_empty(void **state)
{
	uint8_t key[32] = {0}, iv[12] = {0}, want[16], tag[16], none[1];
	struct dp_aead_key k[2];

	unhex(want, 16, "530f8afbc74536b9a963b4f1c4cb738b");
	key_pair(k, DP_AEAD_AES256GCM, key);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(dp_aead_seal(&k[i], iv, none, 0, none, 0, tag), 0);
		assert_memory_equal(tag, want, 16);
		assert_int_equal(dp_aead_open(&k[!i], iv, none, 0, none, 0, tag), 0);
		tag[3] ^= 1;
		assert_int_equal(dp_aead_open(&k[!i], iv, none, 0, none, 0, tag), -EBADMSG);
	}
	key_pair_wipe(k);
}

struct buf2 {
	uint8_t pt[MAXLEN], c[2][MAXLEN], tag[2][16], t[MAXLEN];
};

/* Both seal the same input to the same bytes; each opens the other's; tampering fails. */
static void cross_one(struct dp_aead_key k[2], struct buf2 *b, const uint8_t *n, const uint8_t *ad,
		      size_t adlen, size_t len, uint32_t r)
{
	uint8_t ad2[64], tag2[16];

	randombytes_buf(b->pt, len);
	for (int i = 0; i < 2; i++) {
		memcpy(b->c[i], b->pt, len);
		assert_int_equal(dp_aead_seal(&k[i], n, ad, adlen, b->c[i], len, b->tag[i]), 0);
	}
	if (len)
		assert_memory_equal(b->c[OSSL], b->c[SOD], len);
	assert_memory_equal(b->tag[OSSL], b->tag[SOD], 16);
	for (int i = 0; i < 2; i++) {
		memcpy(b->t, b->c[i], len);
		assert_int_equal(dp_aead_open(&k[!i], n, ad, adlen, b->t, len, b->tag[i]), 0);
		if (len) {
			assert_memory_equal(b->t, b->pt, len); /* a flipped ciphertext bit */
			memcpy(b->t, b->c[i], len);
			b->t[r % len] ^= (uint8_t)(1u << (r >> 8) % 8);
			assert_int_equal(dp_aead_open(&k[!i], n, ad, adlen, b->t, len, b->tag[i]),
					 -EBADMSG);
			assert_int_equal(dp_aead_open(&k[i], n, ad, adlen, b->t, len, b->tag[i]),
					 -EBADMSG);
		}
		memcpy(tag2, b->tag[i], 16); /* a flipped tag bit */
		tag2[r % 16] ^= 0x01;
		memcpy(b->t, b->c[i], len);
		assert_int_equal(dp_aead_open(&k[!i], n, ad, adlen, b->t, len, tag2), -EBADMSG);
		if (adlen) { /* a flipped AAD bit */
			memcpy(ad2, ad, adlen);
			ad2[r % adlen] ^= 0x80;
			memcpy(b->t, b->c[i], len);
			assert_int_equal(dp_aead_open(&k[!i], n, ad2, adlen, b->t, len, b->tag[i]),
					 -EBADMSG);
		}
	}
}

static void cross_sizes(void **state)
{
	static const size_t sizes[] = {0, 1, 15, 16, 17, 64, 255, 1420, 1421, 9000, 65534, 65535};
	uint8_t key[32], n[12], ad[15];
	struct dp_aead_key k[2];
	struct buf2 *b = malloc(sizeof(*b));

	assert_non_null(b);
	randombytes_buf(key, sizeof(key));
	randombytes_buf(n, sizeof(n));
	randombytes_buf(ad, sizeof(ad));
	key_pair(k, DP_AEAD_AES256GCM, key);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		cross_one(k, b, n, ad, sizeof(ad), sizes[i], randombytes_random());
		cross_one(k, b, n, NULL, 0, sizes[i], randombytes_random());
	}
	key_pair_wipe(k);
	free(b);
}

/* Property: random keys, nonces, AAD (0-64 bytes) and data (0-2047 bytes). */
static void cross_random(void **state)
{
	uint8_t key[32], n[12], ad[64];
	struct dp_aead_key k[2];
	struct buf2 *b = malloc(sizeof(*b));

	assert_non_null(b);
	for (int it = 0; it < 2000; it++) {
		randombytes_buf(key, sizeof(key));
		randombytes_buf(n, sizeof(n));
		randombytes_buf(ad, sizeof(ad));
		key_pair(k, DP_AEAD_AES256GCM, key);
		cross_one(k, b, n, ad, randombytes_uniform(65), randombytes_uniform(2048),
			  randombytes_random());
		key_pair_wipe(k);
	}
	free(b);
}

/* One key, many packets: the context keyed once gives each nonce its own bytes. */
static void context_reuse(void **state)
{
	uint8_t key[32], n[12] = {0}, ad[15] = {1}, m[2][300], tag[2][16];
	struct dp_aead_key k[2];

	randombytes_buf(key, sizeof(key));
	key_pair(k, DP_AEAD_AES256GCM, key);
	for (uint8_t ctr = 0; ctr < 200; ctr++) {
		n[11] = ctr;
		for (int i = 0; i < 2; i++) {
			memset(m[i], ctr, sizeof(m[i]));
			assert_int_equal(dp_aead_seal(&k[i], n, ad, 15, m[i], ctr, tag[i]), 0);
		}
		assert_memory_equal(m[0], m[1], sizeof(m[0]));
		assert_memory_equal(tag[0], tag[1], 16);
		if (ctr % 3 == 0) { /* an open in between must not disturb the next seal */
			tag[0][0] ^= 1;
			assert_int_equal(dp_aead_open(&k[OSSL], n, ad, 15, m[0], ctr, tag[0]),
					 -EBADMSG);
		}
	}
	key_pair_wipe(k);
}

static void wipe_and_errors(void **state)
{
	uint8_t key[32] = {7}, zero[sizeof(struct dp_aead_key)] = {0};
	struct dp_aead_key k;

	assert_int_equal(dp_aead_key_init(&k, DP_AEAD_AES256GCM, OSSL, key), 0);
	assert_non_null(k.evp);
	dp_aead_key_wipe(&k);
	assert_memory_equal(&k, zero, sizeof(k));
	dp_aead_key_wipe(&k); /* empty: a no-op */
	assert_int_equal(dp_aead_key_init(&k, 9, OSSL, key), -ENOTSUP);
	assert_memory_equal(&k, zero, sizeof(k));
	/* ChaCha20-Poly1305 ignores the implementation */
	assert_int_equal(dp_aead_key_init(&k, DP_AEAD_CHACHA20POLY1305, OSSL, key), 0);
	assert_null(k.evp);
	dp_aead_key_wipe(&k);
	assert_string_equal(dp_aead_impl_name(OSSL), "openssl");
	assert_string_equal(dp_aead_impl_name(SOD), "sodium");
	setenv("PORTLESS_AEAD_IMPL", "sodium", 1);
	assert_int_equal(dp_aead_impl_default(), SOD);
	setenv("PORTLESS_AEAD_IMPL", "openssl", 1);
	assert_int_equal(dp_aead_impl_default(), OSSL);
	unsetenv("PORTLESS_AEAD_IMPL");
	assert_int_equal(dp_aead_impl_default(), OSSL);
}

/* test_dp's packet vector (AES-256-GCM, counters 0 and 1) under each implementation. */
static void kat_packet_each(void **state)
{
	static const char *want[2] = {
	    "1000020001020304000000000000001eccdaacc140e6ce7b88cd546c4db1e9be223836672c8aa2"
	    "a9656a0938936ea4174e6672",
	    "10000200010203040000000000000105a6d08e3098556d7d0e355898c71a8779fe72311f14d65a"
	    "84321e29e688637805e5e331"};
	struct dp_keys k = {.aead = DP_AEAD_AES256GCM, .side = SR_SIDE_A};
	const char *msg = "portless data plane", *impl[2] = {"openssl", "sodium"};
	uint8_t buf[256], w[128];
	struct dp_state *s;
	struct pkt p;

	for (int i = 0; i < 32; i++)
		k.tx[i] = (uint8_t)i;
	for (int im = 0; im < 2; im++) {
		setenv("PORTLESS_AEAD_IMPL", impl[im], 1);
		s = dp_state_new(&k, NULL, 0);
		assert_non_null(s);
		for (int ctr = 0; ctr < 2; ctr++) {
			pkt_init(&p, buf, sizeof(buf), SR_HEADROOM);
			memcpy(pkt_put(&p, strlen(msg)), msg, strlen(msg));
			assert_int_equal(dp_seal(s, SR_MSG_DATA, 0x01020304, &p, 0), 0);
			assert_int_equal(p.len, unhex(w, sizeof(w), want[ctr]));
			assert_memory_equal(pkt_data(&p), w, p.len);
		}
		dp_state_free(s);
	}
	unsetenv("PORTLESS_AEAD_IMPL");
}

static struct dp_state *state_on(const char *impl, uint8_t side)
{
	struct dp_keys k = {.aead = DP_AEAD_AES256GCM, .side = side};
	struct dp_state *s;

	memset(side == SR_SIDE_A ? k.tx : k.rx, 0xa1, DP_KEY_LEN);
	memset(side == SR_SIDE_A ? k.rx : k.tx, 0xb2, DP_KEY_LEN);
	memset(k.chain, 0xc3, DP_KEY_LEN);
	setenv("PORTLESS_AEAD_IMPL", impl, 1);
	s = dp_state_new(&k, NULL, 0);
	unsetenv("PORTLESS_AEAD_IMPL");
	assert_non_null(s);
	return s;
}

/* Seal @p len bytes on @p from, maybe flip byte @p flip, open on @p to; dp_open's result. */
static int xfer(struct dp_state *from, struct dp_state *to, uint8_t type, const uint8_t *msg,
		size_t len, int flip, struct pkt *p, uint8_t *buf, size_t cap)
{
	uint8_t t;
	int r;

	pkt_init(p, buf, cap, SR_HEADROOM);
	memcpy(pkt_put(p, len), msg, len);
	assert_int_equal(dp_seal(from, type, 9, p, 1), 0);
	if (flip >= 0)
		pkt_data(p)[(size_t)flip % p->len] ^= 0x04;
	r = dp_open(to, p, &t, 1);
	if (r == 0)
		assert_int_equal(t, type);
	if (r == 0 && len)
		assert_memory_equal(pkt_data(p), msg, len);
	return r;
}

/* A control message from @p from through @p to; the replies back and forth. */
static void ctrl_round(struct dp_state *from, struct dp_state *to, const uint8_t *msg, size_t len,
		       uint8_t *buf, size_t cap)
{
	uint8_t cur[DPC_MAX], reply[DPC_MAX];
	struct dp_state *x;
	size_t rl = 0;
	struct pkt p;

	memcpy(cur, msg, len);
	for (int hop = 0; len && hop < 4; hop++) {
		assert_int_equal(xfer(from, to, SR_MSG_DATA_CTRL, cur, len, -1, &p, buf, cap), 0);
		assert_true(dp_ctrl_input(to, pkt_data(&p), p.len, 1, reply, &rl) >= 0);
		memcpy(cur, reply, rl); /* the reply goes back the other way */
		len = rl;
		x = from;
		from = to;
		to = x;
	}
}

/* An OpenSSL endpoint and a libsodium endpoint: packets both ways, rekeys, tampering. */
static void states_cross(void **state)
{
	static uint8_t buf[SR_HEADROOM + 4096], msg[2048];
	struct dp_state *a = state_on("openssl", SR_SIDE_A), *b = state_on("sodium", SR_SIDE_B);
	uint8_t rk[DPC_MAX];
	struct pkt p;
	size_t ml;

	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 50; i++) {
			size_t len = randombytes_uniform(sizeof(msg));

			randombytes_buf(msg, len);
			assert_int_equal(
			    xfer(a, b, SR_MSG_DATA, msg, len, -1, &p, buf, sizeof(buf)), 0);
			assert_int_equal(
			    xfer(b, a, SR_MSG_DATA, msg, len, -1, &p, buf, sizeof(buf)), 0);
			assert_true(xfer(a, b, SR_MSG_DATA, msg, len,
					 (int)randombytes_uniform(4096), &p, buf,
					 sizeof(buf)) != 0);
			assert_true(xfer(b, a, SR_MSG_DATA, msg, len,
					 (int)randombytes_uniform(4096), &p, buf,
					 sizeof(buf)) != 0);
		}
		dp_rekey_now(round % 2 ? b : a);
		ml = dp_rekey_poll(round % 2 ? b : a, 1, rk);
		assert_int_equal(ml, DPC_REKEY_LEN);
		ctrl_round(round % 2 ? b : a, round % 2 ? a : b, rk, ml, buf, sizeof(buf));
		assert_int_equal(xfer(b, a, SR_MSG_DATA, msg, 10, -1, &p, buf, sizeof(buf)), 0);
		assert_int_equal(xfer(a, b, SR_MSG_DATA, msg, 10, -1, &p, buf, sizeof(buf)), 0);
		assert_int_equal(dp_epoch(a), round + 1);
		assert_int_equal(dp_epoch(b), round + 1);
	}
	dp_state_free(a);
	dp_state_free(b);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * GB/s sealing (or, @p open, copying the sealed packet back and opening it:
 * opening in place consumes the ciphertext) @p len-byte packets for @p secs.
 */
static double bench_one(int impl, size_t len, bool open, double secs)
{
	static uint8_t m[65536], sealed[65536], tag[16];
	uint8_t key[32] = {1}, n[12] = {0}, ad[15] = {2};
	struct dp_aead_key k;
	uint64_t bytes = 0;
	double t0, t;
	int r = 0;

	if (dp_aead_key_init(&k, DP_AEAD_AES256GCM, impl, key) < 0 ||
	    dp_aead_seal(&k, n, ad, sizeof(ad), sealed, len, tag) < 0)
		return 0;
	t0 = now_s();
	do {
		for (int i = 0; i < 256 && r == 0; i++, bytes += len) {
			if (open)
				memcpy(m, sealed, len);
			r = open ? dp_aead_open(&k, n, ad, sizeof(ad), m, len, tag)
				 : dp_aead_seal(&k, n, ad, sizeof(ad), m, len, tag);
		}
		t = now_s() - t0;
	} while (t < secs && r == 0);
	dp_aead_key_wipe(&k);
	return r ? 0 : (double)bytes / t / 1e9;
}

static int bench(double secs)
{
	static const size_t sizes[] = {64, 1420, 16384, 65536};

	printf("AES-256-GCM, one thread, in place, 15-byte AAD, %.1f s per figure; GB/s "
	       "(open includes copying the packet back)\n%-8s %7s %8s %8s\n",
	       secs, "impl", "bytes", "seal", "open");
	for (int impl = 0; impl < 2; impl++)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			printf("%-8s %7zu %8.2f %8.2f\n", dp_aead_impl_name(impl), sizes[i],
			       bench_one(impl, sizes[i], false, secs),
			       bench_one(impl, sizes[i], true, secs));
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(kat_nist_both),   cmocka_unit_test(kat_nist_empty),
	    cmocka_unit_test(cross_sizes),     cmocka_unit_test(cross_random),
	    cmocka_unit_test(context_reuse),   cmocka_unit_test(wipe_and_errors),
	    cmocka_unit_test(kat_packet_each), cmocka_unit_test(states_cross),
	};

	if (sodium_init() < 0)
		return 1;
	if (argc > 1 && !strcmp(argv[1], "--bench"))
		return bench(argc > 2 ? atof(argv[2]) : 1.0);
	if (!crypto_aead_aes256gcm_is_available()) {
		puts("no AES-NI: libsodium AES-GCM unavailable, nothing to compare");
		return 0;
	}
	return cmocka_run_group_tests(tests, aes_setup, NULL);
}
