/* SPDX-License-Identifier: MIT */
/* The control-plane client's key cache: hits, expiry, failures, pins, eviction. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cp_hs.h"
#include "cp_keycache.h"
#include "cp_pin.h"
#include "cp_rot.h"

enum { TTL = 300, NEG = 5, MAX = 3 };

/* The test world: our identity, two peers (one twice, as an impostor) and a fake pin store. */
struct world {
	struct identity *me, *a, *a2, *b;
	uint8_t sig_a[CP_SIG_LEN], sig_a2[CP_SIG_LEN], sig_b[CP_SIG_LEN];
	struct cp_keycache *kc;
	struct pubkeys pinned[8]; /* the fake pin store: first keys seen per handle */
	unsigned npinned, pin_calls;
	char dir[64];             /* for the test with the real pin file */
	struct cp_pin_policy pol; /* for the test with a key policy */
};

/* Fake pin check: pin on first use, refuse other keys later. */
static int fake_pin(void *arg, const struct pubkeys *pk, const uint8_t *proof, size_t proof_len,
		    char *why, size_t whylen)
{
	struct world *w = arg;

	(void)proof;
	(void)proof_len;
	w->pin_calls++;
	for (unsigned i = 0; i < w->npinned; i++)
		if (!strcmp(w->pinned[i].handle, pk->handle))
			return pubkeys_equal(&w->pinned[i], pk) ? CP_OK : CP_E_KEY_CHANGED;
	w->pinned[w->npinned++] = *pk;
	return CP_OK;
}

static struct cp_keycache *cache(struct world *w, unsigned max, cp_keycache_pin_fn pin,
				 void *pin_arg)
{
	struct cp_keycache_cfg cfg = {
	    .max = max,
	    .ttl = TTL,
	    .neg_ttl = NEG,
	    .self = &w->me->pub,
	    .pin = pin,
	    .pin_arg = pin_arg,
	};

	return cp_keycache_new(&cfg);
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	if (!w || sodium_init() < 0)
		return -1;
	w->me = identity_generate("@me");
	w->a = identity_generate("@a");
	w->a2 = identity_generate("@a");
	w->b = identity_generate("@b");
	if (!w->me || !w->a || !w->a2 || !w->b)
		return -1;
	cp_keys_sign(w->a, w->sig_a);
	cp_keys_sign(w->a2, w->sig_a2);
	cp_keys_sign(w->b, w->sig_b);
	w->kc = cache(w, MAX, fake_pin, w);
	*state = w;
	return w->kc ? 0 : -1;
}

static int teardown(void **state)
{
	struct world *w = *state;

	cp_keycache_free(w->kc);
	identity_free(w->me);
	identity_free(w->a);
	identity_free(w->a2);
	identity_free(w->b);
	free(w);
	return 0;
}

/* Look @p h up at @p now and expect @p want. */
static const struct cp_key *expect(struct cp_keycache *kc, const char *h, double now,
				   enum cp_keycache_res want)
{
	const struct cp_key *k;

	assert_int_equal(cp_keycache_lookup(kc, h, now, &k), want);
	if (want == CP_KC_HIT)
		assert_non_null(k);
	else
		assert_null(k);
	return k;
}

/* Fetch @p id's keys into the cache at @p now; returns the answer's error. */
static int fetch(struct cp_keycache *kc, const struct identity *id, const uint8_t *sig, double now)
{
	expect(kc, id->pub.handle, now, CP_KC_FETCH);
	return cp_keycache_answer(kc, id->pub.handle, &id->pub, sig, NULL, 0, now);
}

static void test_hit_and_expiry(void **state)
{
	struct world *w = *state;
	const struct cp_key *k;

	expect(w->kc, "@a", 100, CP_KC_FETCH);
	expect(w->kc, "@a", 101, CP_KC_WAIT); /* one fetch at a time */
	assert_int_equal(cp_keycache_answer(w->kc, "@a", &w->a->pub, w->sig_a, NULL, 0, 102),
			 CP_OK);
	k = expect(w->kc, "@a", 102 + TTL - 0.5, CP_KC_HIT);
	assert_int_equal(k->err, CP_OK);
	assert_true(pubkeys_equal(&k->pk, &w->a->pub));
	/* at the TTL the keys are fetched again */
	expect(w->kc, "@a", 102 + TTL, CP_KC_FETCH);
	assert_int_equal(cp_keycache_answer(w->kc, "@a", &w->a->pub, w->sig_a, NULL, 0, 500),
			 CP_OK);
	expect(w->kc, "@a", 500, CP_KC_HIT);
	assert_int_equal(w->pin_calls, 2);
}

static void test_failure_remembered(void **state)
{
	struct world *w = *state;
	const struct cp_key *k;

	expect(w->kc, "@a", 10, CP_KC_FETCH);
	k = cp_keycache_fail(w->kc, "@a", CP_E_UNKNOWN_IDENTITY, 10);
	assert_non_null(k);
	assert_int_equal(k->err, CP_E_UNKNOWN_IDENTITY);
	assert_string_equal(k->pk.handle, "@a");
	k = expect(w->kc, "@a", 10 + NEG - 0.5, CP_KC_HIT);
	assert_int_equal(k->err, CP_E_UNKNOWN_IDENTITY);
	expect(w->kc, "@a", 10 + NEG, CP_KC_FETCH); /* forgotten after NEG_TTL */
	assert_null(cp_keycache_fail(w->kc, "@nobody", CP_E_CLOSED, 11));
}

static void test_bad_keys_refused(void **state)
{
	struct world *w = *state;
	const struct cp_key *k;

	/* another identity's signature, then an answer for another handle: never pinned */
	expect(w->kc, "@a", 1, CP_KC_FETCH);
	assert_int_equal(cp_keycache_answer(w->kc, "@a", &w->a->pub, w->sig_b, NULL, 0, 1),
			 CP_E_BAD_KEYS);
	k = expect(w->kc, "@a", 2, CP_KC_HIT);
	assert_int_equal(k->err, CP_E_BAD_KEYS);
	expect(w->kc, "@a", 1 + NEG, CP_KC_FETCH);
	assert_int_equal(cp_keycache_answer(w->kc, "@a", &w->b->pub, w->sig_b, NULL, 0, 7),
			 CP_E_BAD_KEYS);
	assert_int_equal(w->pin_calls, 0);
}

static void test_pin_mismatch(void **state)
{
	struct world *w = *state;
	const struct cp_key *k;

	assert_int_equal(fetch(w->kc, w->a, w->sig_a, 1), CP_OK); /* pinned on first use */
	/* after the TTL the home offers other (validly self-signed) keys for @a */
	assert_int_equal(fetch(w->kc, w->a2, w->sig_a2, 1 + TTL), CP_E_KEY_CHANGED);
	k = expect(w->kc, "@a", 2 + TTL, CP_KC_HIT);
	assert_int_equal(k->err, CP_E_KEY_CHANGED);
	/* the refused keys are not the cached ones */
	assert_false(pubkeys_equal(&k->pk, &w->a2->pub));
}

/* The pin callback as cp_client sets it: the real pin file. */
static int file_pin(void *arg, const struct pubkeys *pk, const uint8_t *proof, size_t proof_len,
		    char *why, size_t whylen)
{
	return cp_pin_check_rot(arg, pk, proof, proof_len);
}

static void test_pin_file(void **state)
{
	struct world *w = *state;
	struct cp_keycache *kc;
	char cmd[128];

	snprintf(w->dir, sizeof(w->dir), "/tmp/test_cp_keycache.XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	kc = cache(w, MAX, file_pin, w->dir);
	assert_non_null(kc);
	assert_int_equal(fetch(kc, w->a, w->sig_a, 1), CP_OK);
	assert_int_equal(fetch(kc, w->a2, w->sig_a2, 1 + TTL), CP_E_KEY_CHANGED);
	cp_keycache_free(kc);
	/* a new cache (a restarted client) still knows the pin */
	kc = cache(w, MAX, file_pin, w->dir);
	assert_non_null(kc);
	assert_int_equal(fetch(kc, w->a2, w->sig_a2, 1), CP_E_KEY_CHANGED);
	assert_int_equal(cp_pin_revoke(w->dir, "@b"), 0);
	assert_int_equal(fetch(kc, w->b, w->sig_b, 1), CP_E_REVOKED);
	cp_keycache_free(kc);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", w->dir);
	assert_int_equal(system(cmd), 0);
}

/* The pin callback under a key policy (as cp_client sets it with a key_policy hook). */
static int policy_pin(void *arg, const struct pubkeys *pk, const uint8_t *proof, size_t proof_len,
		      char *why, size_t whylen)
{
	struct world *w = arg;

	return cp_pin_check_policy(w->dir, pk, proof, proof_len, &w->pol, why, whylen);
}

static bool pin_file_exists(const struct world *w)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/known_identities", w->dir);
	return access(path, F_OK) == 0;
}

/*
 * A policy that expects other keys than the home's: refused, the entry
 * says why with both fingerprints, nothing pinned. One that names nobody:
 * refused, nothing pinned, unless pinned before.
 */
static void test_pin_policy(void **state)
{
	struct world *w = *state;
	struct cp_keycache *kc;
	const struct cp_key *k;
	char fa[ID_FPR_BUF], fa2[ID_FPR_BUF], cmd[128];

	snprintf(w->dir, sizeof(w->dir), "/tmp/test_cp_keycache.XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	kc = cache(w, MAX, policy_pin, w);
	assert_non_null(kc);
	identity_fingerprint(&w->a->pub, fa);
	identity_fingerprint(&w->a2->pub, fa2);
	w->pol.expect_fpr = fa;
	assert_int_equal(fetch(kc, w->a2, w->sig_a2, 1), CP_E_KEY_CHANGED);
	k = expect(kc, "@a", 2, CP_KC_HIT);
	assert_non_null(strstr(k->why, fa));
	assert_non_null(strstr(k->why, fa2));
	assert_false(pin_file_exists(w));
	w->pol = (struct cp_pin_policy){.no_first_use = true};
	assert_int_equal(fetch(kc, w->b, w->sig_b, 1), CP_E_UNKNOWN_IDENTITY);
	k = expect(kc, "@b", 2, CP_KC_HIT);
	assert_non_null(strstr(k->why, "@b"));
	assert_false(pin_file_exists(w));
	/* pinned before (someone asked once): judged by the pin as usual */
	assert_int_equal(cp_pin_check(w->dir, &w->a->pub), CP_OK);
	assert_true(cp_keycache_forget(kc, "@a"));
	assert_int_equal(fetch(kc, w->a, w->sig_a, 3), CP_OK);
	assert_string_equal(expect(kc, "@a", 3, CP_KC_HIT)->why, "");
	cp_keycache_free(kc);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", w->dir);
	assert_int_equal(system(cmd), 0);
}

/* Forgetting: the next lookup fetches again; an entry in flight stays. */
static void test_forget(void **state)
{
	struct world *w = *state;

	assert_int_equal(fetch(w->kc, w->a, w->sig_a, 1), CP_OK);
	expect(w->kc, "@a", 2, CP_KC_HIT);
	assert_true(cp_keycache_forget(w->kc, "@a"));
	assert_int_equal(cp_keycache_count(w->kc), 0);
	expect(w->kc, "@a", 2, CP_KC_FETCH);
	assert_false(cp_keycache_forget(w->kc, "@a")); /* in flight */
	expect(w->kc, "@a", 2, CP_KC_WAIT);
	assert_int_equal(cp_keycache_answer(w->kc, "@a", &w->a->pub, w->sig_a, NULL, 0, 2), CP_OK);
	assert_int_equal(w->pin_calls, 2); /* checked against the pins again */
	assert_false(cp_keycache_forget(w->kc, "@nobody"));
}

static void test_self(void **state)
{
	struct world *w = *state;
	const struct cp_key *k;

	k = expect(w->kc, "@me", 1, CP_KC_HIT);
	assert_int_equal(k->err, CP_OK);
	assert_true(pubkeys_equal(&k->pk, &w->me->pub));
	expect(w->kc, "@me", 1e9, CP_KC_HIT); /* never stale, never fetched */
	assert_int_equal(w->pin_calls, 0);
}

static void test_eviction(void **state)
{
	struct world *w = *state;

	assert_int_equal(fetch(w->kc, w->a, w->sig_a, 1), CP_OK);
	expect(w->kc, "@x", 2, CP_KC_FETCH); /* stays in flight */
	assert_int_equal(fetch(w->kc, w->b, w->sig_b, 3), CP_OK);
	assert_int_equal(cp_keycache_count(w->kc), MAX);
	/* full: @a (oldest, not in flight) gives way; @x in flight and @b stay */
	expect(w->kc, "@y", 4, CP_KC_FETCH);
	assert_int_equal(cp_keycache_count(w->kc), MAX);
	expect(w->kc, "@b", 5, CP_KC_HIT);
	expect(w->kc, "@x", 5, CP_KC_WAIT);
	/* @a comes back as a new entry, pushing out @b, the oldest not in flight */
	expect(w->kc, "@a", 6, CP_KC_FETCH);
	expect(w->kc, "@x", 6, CP_KC_WAIT);
	expect(w->kc, "@y", 6, CP_KC_WAIT);
	assert_int_equal(cp_keycache_count(w->kc), MAX);
	/* all in flight: nothing can give way, the cache grows */
	expect(w->kc, "@z", 7, CP_KC_FETCH);
	assert_int_equal(cp_keycache_count(w->kc), MAX + 1);
}

static void test_expire(void **state)
{
	struct world *w = *state;

	assert_int_equal(fetch(w->kc, w->a, w->sig_a, 0), CP_OK);
	expect(w->kc, "@b", 0, CP_KC_FETCH);
	assert_non_null(cp_keycache_fail(w->kc, "@b", CP_E_TIMEOUT, 0));
	expect(w->kc, "@x", 0, CP_KC_FETCH);
	assert_int_equal(cp_keycache_expire(w->kc, NEG - 1), 0);
	assert_int_equal(cp_keycache_expire(w->kc, NEG), 1); /* the failure */
	assert_int_equal(cp_keycache_count(w->kc), 2);
	assert_int_equal(cp_keycache_expire(w->kc, TTL), 1); /* the keys; @x is in flight */
	assert_int_equal(cp_keycache_count(w->kc), 1);
	expect(w->kc, "@x", TTL + 1, CP_KC_WAIT);
	expect(w->kc, "@a", TTL + 1, CP_KC_FETCH);
}

/* For test_each_failed: records the handles and looks new ones up meanwhile. */
struct walk {
	struct world *w;
	char seen[4][HANDLE_BUF];
	unsigned n;
};

static void on_failed(void *arg, const char *handle)
{
	struct walk *wk = arg;
	const struct cp_key *k;
	char h[HANDLE_BUF];

	assert_true(wk->n < 4);
	snprintf(wk->seen[wk->n], HANDLE_BUF, "%s", handle);
	snprintf(h, sizeof(h), "@new%u", wk->n++);
	/* a lookup of an unknown handle while full: nothing under the walk may be freed */
	assert_int_equal(cp_keycache_lookup(wk->w->kc, h, 1, &k), CP_KC_FETCH);
}

static void test_each_failed(void **state)
{
	struct world *w = *state;
	struct walk wk = {.w = w};

	expect(w->kc, "@a", 0, CP_KC_FETCH);
	(void)cp_keycache_fail(w->kc, "@a", CP_E_CLOSED, 0);
	expect(w->kc, "@x", 0, CP_KC_FETCH); /* in flight: not a failure */
	expect(w->kc, "@b", 0, CP_KC_FETCH);
	(void)cp_keycache_fail(w->kc, "@b", CP_E_CLOSED, 0);
	cp_keycache_each_failed(w->kc, on_failed, &wk);
	assert_int_equal(wk.n, 2);
	assert_string_equal(wk.seen[0], "@b"); /* newest first */
	assert_string_equal(wk.seen[1], "@a");
	assert_int_equal(cp_keycache_count(w->kc), MAX + 2);
	/* after the walk, eviction works again */
	expect(w->kc, "@c", 1, CP_KC_FETCH);
	assert_int_equal(cp_keycache_count(w->kc), MAX + 2);
}

static void test_bad_config(void **state)
{
	struct world *w = *state;
	struct cp_keycache_cfg cfg = {.max = 0, .self = &w->me->pub};

	assert_null(cp_keycache_new(&cfg));
	cfg.max = 1;
	cfg.self = NULL;
	assert_null(cp_keycache_new(&cfg));
	cp_keycache_free(NULL);
}

static void test_judge(void **state)
{
	struct world *w = *state;
	uint8_t p[CP_ROT_MAX], q[CP_ROT_MAX];
	int n = cp_rot_make(w->a, &w->a2->pub, 1, p, sizeof(p));
	int m = cp_rot_make(w->a2, &w->a2->pub, 1, q, sizeof(q));

	assert_true(n > 0 && m > 0);
	assert_int_equal(cp_pin_judge(NULL, false, &w->a->pub, NULL, 0), CP_PIN_NEW);
	assert_int_equal(cp_pin_judge(&w->a->pub, false, &w->a->pub, NULL, 0), CP_PIN_SAME);
	assert_int_equal(cp_pin_judge(&w->a->pub, false, &w->a2->pub, NULL, 0), CP_PIN_CHANGED);
	/* a proof by the pinned key moves the pin; one by the new key itself does not */
	assert_int_equal(cp_pin_judge(&w->a->pub, false, &w->a2->pub, p, (size_t)n),
			 CP_PIN_ROTATED);
	assert_int_equal(cp_pin_judge(&w->a->pub, false, &w->a2->pub, q, (size_t)m),
			 CP_PIN_CHANGED);
	assert_int_equal(cp_pin_judge(&w->a->pub, false, &w->a2->pub, p, (size_t)n - 1),
			 CP_PIN_CHANGED);
	/* revoked wins over everything */
	assert_int_equal(cp_pin_judge(NULL, true, &w->a->pub, NULL, 0), CP_PIN_REVOKED);
	assert_int_equal(cp_pin_judge(&w->a->pub, true, &w->a->pub, NULL, 0), CP_PIN_REVOKED);
	assert_int_equal(cp_pin_judge(&w->a->pub, true, &w->a2->pub, p, (size_t)n), CP_PIN_REVOKED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_hit_and_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failure_remembered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_keys_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pin_mismatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pin_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pin_policy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_self, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_eviction, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expire, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_each_failed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_judge, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
