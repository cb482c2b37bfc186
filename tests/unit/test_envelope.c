/* SPDX-License-Identifier: MIT */
/* Envelopes: round trip, tampering of every byte region, wrong keys, expiry, sizes, replay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "envelope.h"

struct fx {
	struct identity *alice, *bob, *eve;
	uint8_t id[ENVELOPE_ID_LEN];
	uint8_t buf[ENVELOPE_MAX];
	size_t len;
	uint8_t work[ENVELOPE_MAX];
};

static const uint64_t NOW = 1800000000;

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->alice = identity_generate("@alice");
	f->bob = identity_generate("@bob");
	f->eve = identity_generate("@eve");
	randombytes_buf(f->id, sizeof(f->id));
	if (envelope_seal(f->alice, &f->bob->pub, 0x20, f->id, NOW + 60,
			  (const uint8_t *)"hello bob", 9, f->buf, sizeof(f->buf),
			  &f->len) != ENV_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	identity_free(f->alice);
	identity_free(f->bob);
	identity_free(f->eve);
	free(f);
	return 0;
}

static int open_as_bob(struct fx *f, const uint8_t *in, size_t len, struct envelope *env)
{
	return envelope_open(f->bob, &f->alice->pub, in, len, NOW, f->work, sizeof(f->work), env);
}

static void test_roundtrip(void **state)
{
	struct fx *f = *state;
	struct envelope env;
	char from[HANDLE_BUF], to[HANDLE_BUF];

	assert_int_equal(envelope_peek(f->buf, f->len, from, to), ENV_OK);
	assert_string_equal(from, "@alice");
	assert_string_equal(to, "@bob");
	assert_int_equal(open_as_bob(f, f->buf, f->len, &env), ENV_OK);
	assert_string_equal(env.from, "@alice");
	assert_string_equal(env.to, "@bob");
	assert_int_equal(env.type, 0x20);
	assert_memory_equal(env.id, f->id, ENVELOPE_ID_LEN);
	assert_true(env.expiry == NOW + 60);
	assert_int_equal(env.payload_len, 9);
	assert_memory_equal(env.payload, "hello bob", 9);
	/* The payload is not visible in the sealed bytes. */
	assert_null(memmem(f->buf, f->len, "hello bob", 9));
}

static void test_tamper_every_byte(void **state)
{
	struct fx *f = *state;
	struct envelope env;
	uint8_t copy[ENVELOPE_MAX];

	/* Flipping any single byte anywhere (outer header, handles, length, sealed box) must fail. */
	for (size_t i = 0; i < f->len; i++) {
		memcpy(copy, f->buf, f->len);
		copy[i] ^= 0x01;
		int r = open_as_bob(f, copy, f->len, &env);
		if (r == ENV_OK)
			fail_msg("flipping byte %zu was not detected", i);
	}
}

static void test_truncated_and_extended(void **state)
{
	struct fx *f = *state;
	struct envelope env;
	uint8_t copy[ENVELOPE_MAX];

	for (size_t n = 0; n < f->len; n += 7)
		assert_int_not_equal(open_as_bob(f, f->buf, n, &env), ENV_OK);
	memcpy(copy, f->buf, f->len);
	copy[f->len] = 0;
	assert_int_equal(open_as_bob(f, copy, f->len + 1, &env), ENV_E_FORMAT);
}

static void test_wrong_recipient(void **state)
{
	struct fx *f = *state;
	struct envelope env;

	assert_int_equal(envelope_open(f->eve, &f->alice->pub, f->buf, f->len, NOW, f->work,
				       sizeof(f->work), &env),
			 ENV_E_NOT_FOR_ME);
}

static void test_wrong_sender_key(void **state)
{
	struct fx *f = *state;
	struct envelope env;
	struct pubkeys fake = f->eve->pub;

	/* Eve's keys presented under Alice's name: the signature does not verify. */
	strcpy(fake.handle, "@alice");
	assert_int_equal(
	    envelope_open(f->bob, &fake, f->buf, f->len, NOW, f->work, sizeof(f->work), &env),
	    ENV_E_SIGNATURE);
	/* Keys of a different handle than the claimed sender. */
	assert_int_equal(envelope_open(f->bob, &f->eve->pub, f->buf, f->len, NOW, f->work,
				       sizeof(f->work), &env),
			 ENV_E_SENDER);
}

static void test_forged_outer_sender(void **state)
{
	struct fx *f = *state;
	struct envelope env;
	uint8_t buf[ENVELOPE_MAX];
	size_t len;

	/* Eve signs as herself but claims, in a re-built outer layer, to be... herself;
	 * an envelope Eve made can never open as Alice's. */
	assert_int_equal(envelope_seal(f->eve, &f->bob->pub, 1, f->id, NOW + 60,
				       (const uint8_t *)"x", 1, buf, sizeof(buf), &len),
			 ENV_OK);
	/* Rewrite the outer from "@eve" to "@ali" is impossible (length differs);
	 * so check that Bob, told the sender is Alice, refuses it. */
	assert_int_equal(
	    envelope_open(f->bob, &f->alice->pub, buf, len, NOW, f->work, sizeof(f->work), &env),
	    ENV_E_SENDER);
}

static void test_expired(void **state)
{
	struct fx *f = *state;
	struct envelope env;

	assert_int_equal(envelope_open(f->bob, &f->alice->pub, f->buf, f->len, NOW + 61, f->work,
				       sizeof(f->work), &env),
			 ENV_E_EXPIRED);
	assert_int_equal(envelope_open(f->bob, &f->alice->pub, f->buf, f->len, NOW + 60, f->work,
				       sizeof(f->work), &env),
			 ENV_OK);
}

/* The attack: a validly signed envelope whose inner expiry is far ahead would outlive every
 * replay-cache entry for it (the home checks only the outer expiry). Refused. */
static void test_expiry_far(void **state)
{
	struct fx *f = *state;
	struct envelope env;
	uint8_t buf[ENVELOPE_MAX];
	size_t len;

	assert_int_equal(envelope_seal(f->alice, &f->bob->pub, 1, f->id, UINT64_MAX,
				       (const uint8_t *)"x", 1, buf, sizeof(buf), &len),
			 ENV_OK);
	assert_int_equal(open_as_bob(f, buf, len, &env), ENV_E_EXPIRY_FAR);
	assert_int_equal(env.payload_len, 0); /* nothing handed out */
	assert_int_equal(envelope_seal(f->alice, &f->bob->pub, 1, f->id,
				       NOW + ENVELOPE_EXPIRY_AHEAD + 1, (const uint8_t *)"x", 1,
				       buf, sizeof(buf), &len),
			 ENV_OK);
	assert_int_equal(open_as_bob(f, buf, len, &env), ENV_E_EXPIRY_FAR);
	/* a day and the clock skew ahead is still fine */
	assert_int_equal(envelope_seal(f->alice, &f->bob->pub, 1, f->id,
				       NOW + ENVELOPE_EXPIRY_AHEAD, (const uint8_t *)"x", 1, buf,
				       sizeof(buf), &len),
			 ENV_OK);
	assert_int_equal(open_as_bob(f, buf, len, &env), ENV_OK);
	assert_int_equal(envelope_check_expiry(NOW - 1, NOW), ENV_E_EXPIRED);
	assert_int_equal(envelope_check_expiry(NOW, NOW), ENV_OK);
	assert_string_not_equal(envelope_strerror(ENV_E_EXPIRY_FAR),
				envelope_strerror(ENV_E_EXPIRED));
	assert_string_not_equal(envelope_strerror(ENV_E_REPLAY_FULL), "unknown envelope error");
	assert_string_not_equal(envelope_strerror(ENV_E_REPLAY_STORE), "unknown envelope error");
}

/* Without the sender's key: from and type for a policy check, nothing verified. */
static void test_peek_inner(void **state)
{
	struct fx *f = *state;
	struct envelope env;
	uint8_t copy[ENVELOPE_MAX];

	assert_int_equal(
	    envelope_peek_inner(f->bob, f->buf, f->len, f->work, sizeof(f->work), &env), ENV_OK);
	assert_string_equal(env.from, "@alice");
	assert_int_equal(env.type, 0x20);
	assert_int_equal(
	    envelope_peek_inner(f->eve, f->buf, f->len, f->work, sizeof(f->work), &env),
	    ENV_E_NOT_FOR_ME);
	/* an impostor's signature passes the peek (it checks none), never the open */
	struct identity *fake = identity_generate("@alice");
	size_t len;

	assert_int_equal(envelope_seal(fake, &f->bob->pub, 0x21, f->id, NOW + 60,
				       (const uint8_t *)"x", 1, copy, sizeof(copy), &len),
			 ENV_OK);
	identity_free(fake);
	assert_int_equal(envelope_peek_inner(f->bob, copy, len, f->work, sizeof(f->work), &env),
			 ENV_OK);
	assert_int_equal(env.type, 0x21);
	assert_int_equal(open_as_bob(f, copy, len, &env), ENV_E_SIGNATURE);
	memcpy(copy, f->buf, f->len);
	assert_int_equal(envelope_peek_inner(f->bob, copy, f->len, f->work, 10, &env), ENV_E_ARG);
	copy[f->len - 1] ^= 1; /* in the sealed box: no longer decrypts */
	assert_int_equal(envelope_peek_inner(f->bob, copy, f->len, f->work, sizeof(f->work), &env),
			 ENV_E_DECRYPT);
}

static void test_sizes(void **state)
{
	struct fx *f = *state;
	uint8_t *big = calloc(1, ENVELOPE_MAX_PAYLOAD + 1);
	uint8_t *out = malloc(ENVELOPE_MAX);
	struct envelope env;
	size_t len;

	assert_int_equal(envelope_seal(f->alice, &f->bob->pub, 1, f->id, NOW + 1, big,
				       ENVELOPE_MAX_PAYLOAD + 1, out, ENVELOPE_MAX, &len),
			 ENV_E_TOO_BIG);
	assert_int_equal(envelope_seal(f->alice, &f->bob->pub, 1, f->id, NOW + 1, big,
				       ENVELOPE_MAX_PAYLOAD, out, ENVELOPE_MAX, &len),
			 ENV_OK);
	assert_true(len <= ENVELOPE_MAX);
	assert_int_equal(open_as_bob(f, out, len, &env), ENV_OK);
	assert_int_equal(env.payload_len, ENVELOPE_MAX_PAYLOAD);
	/* Output buffer too small. */
	assert_int_equal(
	    envelope_seal(f->alice, &f->bob->pub, 1, f->id, NOW + 1, big, 100, out, 100, &len),
	    ENV_E_TOO_BIG);
	/* Over the envelope cap as input. */
	assert_int_equal(open_as_bob(f, out, ENVELOPE_MAX + 1, &env), ENV_E_TOO_BIG);
	/* Work buffer too small. */
	assert_int_equal(
	    envelope_open(f->bob, &f->alice->pub, f->buf, f->len, NOW, f->work, 10, &env),
	    ENV_E_ARG);
	free(big);
	free(out);
}

static void test_version(void **state)
{
	struct fx *f = *state;
	struct envelope env;
	uint8_t copy[ENVELOPE_MAX];

	memcpy(copy, f->buf, f->len);
	copy[0] = 2;
	assert_int_equal(open_as_bob(f, copy, f->len, &env), ENV_E_VERSION);
	assert_string_not_equal(envelope_strerror(ENV_E_VERSION), envelope_strerror(ENV_E_FORMAT));
}

static void test_replay_cache(void **state)
{
	struct replay_cache *rc = replay_cache_new(2);
	uint8_t a[ENVELOPE_ID_LEN] = {1}, b[ENVELOPE_ID_LEN] = {2}, c[ENVELOPE_ID_LEN] = {3};

	assert_int_equal(replay_cache_add(rc, "@alice", a, NOW + 10, NOW), ENV_OK);
	assert_int_equal(replay_cache_add(rc, "@alice", a, NOW + 10, NOW), ENV_E_REPLAY);
	/* Same id from another sender is a different envelope. */
	assert_int_equal(replay_cache_add(rc, "@bob", a, NOW + 20, NOW), ENV_OK);
	/* Full: the entry nearest to expiry (@alice/a) gives way. */
	assert_int_equal(replay_cache_add(rc, "@alice", b, NOW + 30, NOW), ENV_OK);
	assert_int_equal(replay_cache_add(rc, "@bob", a, NOW + 20, NOW), ENV_E_REPLAY);
	/* Expired entries are dropped. */
	assert_int_equal(replay_cache_add(rc, "@alice", c, NOW + 100, NOW + 25), ENV_OK);
	assert_int_equal(replay_cache_add(rc, "@alice", b, NOW + 30, NOW + 25), ENV_E_REPLAY);
	replay_cache_free(rc);
	assert_null(replay_cache_new(0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_tamper_every_byte),
	    cmocka_unit_test(test_truncated_and_extended),
	    cmocka_unit_test(test_wrong_recipient),
	    cmocka_unit_test(test_wrong_sender_key),
	    cmocka_unit_test(test_forged_outer_sender),
	    cmocka_unit_test(test_expired),
	    cmocka_unit_test(test_expiry_far),
	    cmocka_unit_test(test_peek_inner),
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_version),
	    cmocka_unit_test(test_replay_cache),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
