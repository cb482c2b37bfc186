/* SPDX-License-Identifier: MIT */
/* Rekey robustness (regressions from fuzz_dp). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "dp_seal.h"
#include "wire.h"

static void keys(struct dp_keys *k, uint8_t side)
{
	memset(k, 0, sizeof(*k));
	k->aead = DP_AEAD_CHACHA20POLY1305;
	k->side = side;
	memset(side == SR_SIDE_A ? k->tx : k->rx, 0xa1, DP_KEY_LEN);
	memset(side == SR_SIDE_A ? k->rx : k->tx, 0xb2, DP_KEY_LEN);
	memset(k->chain, 0xc3, DP_KEY_LEN);
}

/* A seals @p msg, B opens it: 0 when it opened intact. */
static int carry(struct dp_state *a, struct dp_state *b, const char *msg)
{
	uint8_t buf[256], type;
	struct pkt p;
	size_t n = strlen(msg);

	pkt_init(&p, buf, sizeof(buf), SR_HEADROOM);
	memcpy(pkt_put(&p, n), msg, n);
	if (dp_seal(a, SR_MSG_DATA, 1, &p) != 0 || dp_open(b, &p, &type) != 0)
		return -1;
	return p.len == n && !memcmp(pkt_data(&p), msg, n) ? 0 : -1;
}

/*
 * B answered an INIT for epoch 1 whose key A does not hold (A's answer got
 * lost and it started over, or a confused peer); A's real INIT for epoch 1
 * with another key must not get the stale answer: both must end on the same
 * keys.
 */
static void test_new_init_replaces_unconfirmed(void **state)
{
	struct dp_keys ka, kb;
	struct dp_state *a, *b;
	uint8_t init[DPC_MAX], msg[DPC_MAX], reply[DPC_MAX], reply2[DPC_MAX], first[DPC_MAX];
	size_t rl, rl2, ml;

	(void)state;
	keys(&ka, SR_SIDE_A);
	keys(&kb, SR_SIDE_B);
	a = dp_state_new(&ka, NULL, 0);
	b = dp_state_new(&kb, NULL, 0);
	assert_non_null(a);
	assert_non_null(b);
	/* an INIT for epoch 1 with a key nobody keeps */
	init[0] = DPC_REKEY_INIT;
	put_be32(init + 1, 1);
	randombytes_buf(init + 5, DP_PK_LEN);
	assert_true(dp_ctrl_input(b, init, DPC_REKEY_LEN, 1, first, &rl) >= 0);
	assert_int_equal(rl, DPC_REKEY_LEN);
	/* the same INIT again: the same answer (lost-answer retry) */
	assert_true(dp_ctrl_input(b, init, DPC_REKEY_LEN, 1, reply, &rl) >= 0);
	assert_int_equal(rl, DPC_REKEY_LEN);
	assert_memory_equal(reply, first, DPC_REKEY_LEN);
	/* A's real rekey */
	dp_rekey_now(a);
	ml = dp_rekey_poll(a, 2, msg);
	assert_int_equal(ml, DPC_REKEY_LEN);
	assert_true(dp_ctrl_input(b, msg, ml, 2, reply, &rl) >= 0);
	assert_int_equal(rl, DPC_REKEY_LEN);
	assert_memory_not_equal(reply, first, DPC_REKEY_LEN); /* a fresh answer */
	assert_int_equal(dp_ctrl_input(a, reply, rl, 2, reply2, &rl2), DP_CTRL_REKEYED);
	assert_int_equal(dp_epoch(a), 1);
	assert_int_equal(carry(a, b, "after the rekey"), 0);
	assert_int_equal(dp_epoch(b), 1);
	assert_int_equal(carry(b, a, "and back"), 0);
	dp_state_free(a);
	dp_state_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_init_replaces_unconfirmed),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
