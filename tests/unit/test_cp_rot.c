/* SPDX-License-Identifier: MIT */
/* Key rotation proofs, pin following and revocation, ROTATE/R_KEYS codec, store. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cp_frame.h"
#include "cp_hs.h"
#include "cp_pin.h"
#include "cp_rot.h"
#include "cp_store.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_cp_rot.XXXXXX");
	return sodium_init() < 0 || !mkdtemp(dir);
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) != 0;
}

static void test_proof(void **state)
{
	struct identity *old = identity_generate("@dev"), *nid = identity_generate("@dev"),
			*other = identity_generate("@dev"), *x = identity_generate("@x");
	uint8_t p[CP_ROT_MAX];
	struct cp_rot r;
	int n;

	(void)state;
	n = cp_rot_make(old, &nid->pub, 1000, p, sizeof(p));
	assert_true(n > 0 && n <= CP_ROT_MAX);
	assert_int_equal(cp_rot_decode(p, (size_t)n, &r), 0);
	assert_string_equal(r.handle, "@dev");
	assert_int_equal(r.time, 1000);
	assert_true(cp_rot_verify(p, (size_t)n, old->pub.sign_pk, &nid->pub));
	/* not by another key; not for other keys; not tampered; not truncated */
	assert_false(cp_rot_verify(p, (size_t)n, other->pub.sign_pk, &nid->pub));
	assert_false(cp_rot_verify(p, (size_t)n, old->pub.sign_pk, &other->pub));
	for (int i = 0; i < n; i += 7) {
		p[i] ^= 1;
		assert_false(cp_rot_verify(p, (size_t)n, old->pub.sign_pk, &nid->pub));
		p[i] ^= 1;
	}
	assert_false(cp_rot_verify(p, (size_t)n - 1, old->pub.sign_pk, &nid->pub));
	assert_int_equal(cp_rot_decode(p, (size_t)n + 1, &r), -EBADMSG);
	/* a proof for another handle cannot be made */
	assert_int_equal(cp_rot_make(old, &x->pub, 1, p, sizeof(p)), -EINVAL);
	identity_free(old);
	identity_free(nid);
	identity_free(other);
	identity_free(x);
}

static void test_pin_follow_and_revoke(void **state)
{
	struct identity *old = identity_generate("@dev"), *nid = identity_generate("@dev"),
			*evil = identity_generate("@dev"), *peer = identity_generate("@peer");
	uint8_t p[CP_ROT_MAX], q[CP_ROT_MAX];
	int n, m;

	(void)state;
	assert_int_equal(cp_pin_check(dir, &old->pub), CP_OK); /* first use */
	assert_int_equal(cp_pin_check(dir, &peer->pub), CP_OK);
	assert_int_equal(cp_pin_check(dir, &nid->pub), CP_E_KEY_CHANGED); /* no proof */
	n = cp_rot_make(old, &nid->pub, 1, p, sizeof(p));
	m = cp_rot_make(evil, &nid->pub, 1, q, sizeof(q));
	/* a proof by someone else's key, or for other keys, does not move the pin */
	assert_int_equal(cp_pin_check_rot(dir, &nid->pub, q, (size_t)m), CP_E_KEY_CHANGED);
	assert_int_equal(cp_pin_check_rot(dir, &evil->pub, p, (size_t)n), CP_E_KEY_CHANGED);
	/* the real one does; afterwards the old keys are the stranger */
	assert_int_equal(cp_pin_check_rot(dir, &nid->pub, p, (size_t)n), CP_OK);
	assert_int_equal(cp_pin_check(dir, &nid->pub), CP_OK);
	assert_int_equal(cp_pin_check(dir, &old->pub), CP_E_KEY_CHANGED);
	assert_int_equal(cp_pin_check(dir, &peer->pub), CP_OK); /* other pins kept */
	/* revocation wins over any keys, and is idempotent */
	assert_int_equal(cp_pin_revoke(dir, "@peer"), 0);
	assert_int_equal(cp_pin_revoke(dir, "@peer"), 0);
	assert_int_equal(cp_pin_check(dir, &peer->pub), CP_E_REVOKED);
	assert_int_equal(cp_pin_revoke(dir, "@new"), 0);
	assert_int_equal(cp_pin_check(dir, &peer->pub), CP_E_REVOKED);
	assert_int_equal(cp_pin_revoke(dir, "nope"), -EINVAL);
	identity_free(old);
	identity_free(nid);
	identity_free(evil);
	identity_free(peer);
}

static void roundtrip(const struct cp_msg *m)
{
	uint8_t b[1024], b2[1024];
	struct cp_msg d;
	int n, n2;

	n = cp_msg_encode(m, b, sizeof(b));
	assert_true(n > 0);
	assert_int_equal(cp_msg_decode(b, (size_t)n, &d), 0);
	assert_int_equal(d.data_len, m->data_len);
	n2 = cp_msg_encode(&d, b2, sizeof(b2));
	assert_int_equal(n2, n);
	assert_memory_equal(b, b2, (size_t)n);
}

static void test_codec(void **state)
{
	uint8_t proof[CP_ROT_MAX];
	struct cp_msg m = {.type = CP_T_ROTATE, .req = 9, .data = proof, .data_len = 100};
	uint8_t b[512];

	(void)state;
	memset(proof, 0x33, sizeof(proof));
	roundtrip(&m);
	m.data_len = 0; /* ROTATE without a proof: refused */
	assert_int_equal(cp_msg_encode(&m, b, sizeof(b)), -EINVAL);
	m = (struct cp_msg){.type = CP_T_R_KEYS, .req = 1, .handle = "@dev"};
	roundtrip(&m); /* without a proof */
	m.data = proof;
	m.data_len = 120;
	roundtrip(&m); /* with one */
	m.data_len = CP_ROT_MAX + 1;
	assert_int_equal(cp_msg_encode(&m, b, sizeof(b)), -EINVAL);
	assert_string_equal(cp_strerror(CP_E_REVOKED), "identity revoked");
}

static void test_store(void **state)
{
	struct identity *a = identity_generate("@a"), *a2 = identity_generate("@a");
	uint8_t hash[CP_HASH_LEN] = {0}, sig[CP_SIG_LEN] = {0};
	struct cp_store *st;
	struct cp_ident id;
	char err[256], sub[96];

	(void)state;
	snprintf(sub, sizeof(sub), "%s/store", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(cp_store_open(sub, true, &st, err, sizeof(err)), 0);
	assert_int_equal(cp_store_add_slot(st, "@a", hash, 100, 1), 0);
	assert_int_equal(cp_store_revoke(st, "@a"), -ENOENT); /* pending: not enrolled */
	assert_int_equal(cp_store_enroll(st, &a->pub, sig), 0);
	/* rotation needs the current signing key */
	assert_int_equal(cp_store_rotate(st, a2->pub.sign_pk, &a2->pub, sig), -ENOENT);
	assert_int_equal(cp_store_rotate(st, a->pub.sign_pk, &a2->pub, sig), 0);
	assert_int_equal(cp_store_get_ident(st, "@a", &id), 0);
	assert_true(pubkeys_equal(&id.pk, &a2->pub));
	assert_int_equal(cp_store_revoke(st, "@a"), 0);
	assert_int_equal(cp_store_get_ident(st, "@a", &id), 0);
	assert_int_equal(id.state, CP_ID_REVOKED);
	assert_int_equal(cp_store_revoke(st, "@a"), -ENOENT);
	assert_int_equal(cp_store_rotate(st, a2->pub.sign_pk, &a->pub, sig), -ENOENT);
	assert_int_equal(cp_store_add_slot(st, "@a", hash, 100, 1), -EEXIST);
	cp_store_close(st);
	identity_free(a);
	identity_free(a2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_proof),
	    cmocka_unit_test(test_pin_follow_and_revoke),
	    cmocka_unit_test(test_codec),
	    cmocka_unit_test(test_store),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
