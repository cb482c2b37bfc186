/* SPDX-License-Identifier: MIT */
/*
 * Data plane, against a relay that drops the rekey exchange: keys expire
 * (reject-after-time / -packets) and control packets look like data.
 * Every test injects the clock (dp_seal/dp_open/dp_rekey_poll take "now").
 */
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

struct pair {
	struct dp_state *a, *b;
};

static void derive_pair(struct pair *p, const struct dp_limits *lim)
{
	struct dp_keypair ka, kb;
	struct dp_transcript t = {.handle_a = "@alice", .handle_b = "@device"};
	struct dp_keys a, b;

	dp_keypair_new(&ka);
	dp_keypair_new(&kb);
	memset(t.session_id, 0x5a, SR_SID_LEN);
	memcpy(t.pk_a, ka.pk, DP_PK_LEN);
	memcpy(t.pk_b, kb.pk, DP_PK_LEN);
	t.aead = DP_AEAD_CHACHA20POLY1305;
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

static void free_pair(struct pair *p)
{
	dp_state_free(p->a);
	dp_state_free(p->b);
}

static bool drop_resp = true; /* the attack is on */

/* One side of the simulation: its state and when (if) its session ended. */
struct end {
	struct dp_state *s;
	double down; /* < 0: still up */
	int why;     /* the error that ended it */
};

static void end_at(struct end *e, double now, int why)
{
	if (e->down < 0) {
		e->down = now;
		e->why = why;
	}
}

/*
 * @p from sends @p len bytes of kind @p type to @p to through a path that
 * drops every REKEY_RESP (the test knows which packet that is; the relay
 * cannot tell). A control message that opens goes to dp_ctrl_input, its
 * reply back the same way.
 */
static void send_one(struct end *from, struct end *to, uint8_t type, const uint8_t *m, size_t len,
		     double now)
{
	uint8_t buf[SR_HEADROOM + 128 + SR_TAILROOM], reply[DPC_MAX], t;
	size_t rl = 0;
	struct pkt p;
	int r;

	if (from->down >= 0 || to->down >= 0)
		return;
	pkt_init(&p, buf, sizeof(buf), SR_HEADROOM);
	memcpy(pkt_put(&p, len), m, len);
	r = dp_seal(from->s, type, 1, &p, now);
	if (r < 0) {
		end_at(from, now, r);
		return;
	}
	if (drop_resp && type == SR_MSG_DATA_CTRL && m[0] == DPC_REKEY_RESP)
		return; /* dropped */
	if (dp_open(to->s, &p, &t, now) != 0 || t != SR_MSG_DATA_CTRL)
		return;
	if (dp_ctrl_input(to->s, pkt_data(&p), p.len, now, reply, &rl) >= 0 && rl)
		send_one(to, from, SR_MSG_DATA_CTRL, reply, rl, now);
}

/* One second of a busy session: rekey work, expiry checks, data both ways. */
static void second(struct end *a, struct end *b, double now)
{
	struct end *side[2] = {a, b};
	uint8_t msg[DPC_MAX];
	size_t n;

	for (int i = 0; i < 2; i++) {
		if (side[i]->down < 0 && dp_expired(side[i]->s, now))
			end_at(side[i], now, -EKEYEXPIRED);
		if (side[i]->down < 0 && (n = dp_rekey_poll(side[i]->s, now, msg)))
			send_one(side[i], side[i ^ 1], SR_MSG_DATA_CTRL, msg, n, now);
	}
	send_one(a, b, SR_MSG_DATA, (const uint8_t *)"ssh bytes", 9, now);
	send_one(b, a, SR_MSG_DATA, (const uint8_t *)"ssh reply", 9, now);
}

/* The attack: every REKEY_RESP dropped for 12 h. Before: both on epoch 0 all along. */
static void dropped_resp_ends_at_reject_after_time(void **state)
{
	struct pair p;
	struct end a = {.down = -1}, b = {.down = -1};

	derive_pair(&p, NULL); /* rekey after 120 s: reject after 360 s */
	a.s = p.a;
	b.s = p.b;
	for (double now = 1; now <= 12 * 3600 && (a.down < 0 || b.down < 0); now += 1)
		second(&a, &b, now);
	assert_int_equal(dp_epoch(p.a), 0); /* the rekey never completed */
	assert_int_equal(dp_epoch(p.b), 0);
	assert_true(a.down >= 360 && a.down <= 361);
	assert_true(b.down >= 360 && b.down <= 361);
	assert_int_equal(a.why, -EKEYEXPIRED);
	assert_int_equal(b.why, -EKEYEXPIRED);
	free_pair(&p);
}

/* Without drops the same session rekeys every 120 s and never expires. */
static void completed_rekeys_keep_it_alive(void **state)
{
	struct pair p;
	struct end a = {.down = -1}, b = {.down = -1};

	derive_pair(&p, NULL);
	a.s = p.a;
	b.s = p.b;
	drop_resp = false;
	for (double now = 1; now <= 2000; now += 1)
		second(&a, &b, now);
	drop_resp = true;
	assert_true(a.down < 0 && b.down < 0);
	assert_true(dp_epoch(p.a) >= 15);
	assert_int_equal(dp_epoch(p.a), dp_epoch(p.b));
	free_pair(&p);
}

/* The key is refused both ways at the limit: sealing, and opening what was sealed before. */
static void expired_key_refused_both_ways(void **state)
{
	uint8_t buf[SR_HEADROOM + 64 + SR_TAILROOM], t;
	struct pair p;
	struct pkt q;

	derive_pair(&p, NULL);
	assert_false(dp_expired(p.a, 359.9));
	pkt_init(&q, buf, sizeof(buf), SR_HEADROOM);
	memcpy(pkt_put(&q, 4), "late", 4);
	assert_int_equal(dp_seal(p.a, SR_MSG_DATA, 1, &q, 359.9), 0);
	assert_int_equal(dp_open(p.b, &q, &t, 360), -EKEYEXPIRED);
	assert_true(dp_expired(p.a, 360));
	assert_true(dp_expired(p.b, 360));
	pkt_init(&q, buf, sizeof(buf), SR_HEADROOM);
	memcpy(pkt_put(&q, 4), "late", 4);
	assert_int_equal(dp_seal(p.a, SR_MSG_DATA, 1, &q, 360), -EKEYEXPIRED);
	free_pair(&p);
}

/* The packet-count equivalent (3 x rekey_after_packets) with every REKEY_RESP dropped. */
static void dropped_resp_ends_at_reject_after_packets(void **state)
{
	struct dp_limits lim;
	struct pair p;
	struct end a = {.down = -1}, b = {.down = -1};
	int sent = 0;

	dp_limits_default(&lim);
	lim.rekey_after_packets = 100;
	lim.reject_after_packets = 300; /* derived: 3 x, but never below 2^32 */
	derive_pair(&p, &lim);
	a.s = p.a;
	b.s = p.b;
	for (int i = 0; i < 1000 && a.down < 0; i++, sent++) {
		uint8_t msg[DPC_MAX];
		size_t n = dp_rekey_poll(p.a, 1, msg);

		if (n)
			send_one(&a, &b, SR_MSG_DATA_CTRL, msg, n, 1 + i * 1e-3);
		send_one(&a, &b, SR_MSG_DATA, (const uint8_t *)"x", 1, 1 + i * 1e-3);
	}
	assert_int_equal(a.why, -ESTALE);
	assert_true(dp_tx_counter(p.a) == 300);
	assert_int_equal(dp_epoch(p.a), 0);
	free_pair(&p);
}

/* Seal @p len bytes of kind @p type; the sealed packet into @p out, its length returned. */
static size_t seal_copy(struct dp_state *s, uint8_t type, const uint8_t *m, size_t len,
			uint8_t *out)
{
	uint8_t buf[SR_HEADROOM + 128 + SR_TAILROOM];
	struct pkt q;

	pkt_init(&q, buf, sizeof(buf), SR_HEADROOM);
	memcpy(pkt_put(&q, len), m, len);
	assert_int_equal(dp_seal(s, type, 0x01020304, &q, 1), 0);
	memcpy(out, pkt_data(&q), q.len);
	return q.len;
}

/*
 * A relay sees no difference: every control message seals to the length of
 * a DPC_PAD-byte data packet (a TCP ACK), and the clear bytes are the same
 * except the counter, which kinds share.
 */
static void ctrl_looks_like_data(void **state)
{
	uint8_t ack[DPC_PAD], ka[1] = {DPC_KEEPALIVE}, bye[2] = {DPC_CLOSE, 3}, init[DPC_MAX];
	uint8_t resp[DPC_MAX], out[5][256];
	size_t len[5], rl;
	struct pair p;

	derive_pair(&p, NULL);
	randombytes_buf(ack, sizeof(ack));
	dp_rekey_now(p.a);
	assert_int_equal(dp_rekey_poll(p.a, 1, init), DPC_REKEY_LEN);
	assert_int_equal(dp_ctrl_input(p.b, init, DPC_REKEY_LEN, 1, resp, &rl), DP_CTRL_NONE);
	assert_int_equal(rl, DPC_REKEY_LEN);
	len[0] = seal_copy(p.b, SR_MSG_DATA, ack, sizeof(ack), out[0]);
	len[1] = seal_copy(p.b, SR_MSG_DATA_CTRL, ka, sizeof(ka), out[1]);
	len[2] = seal_copy(p.b, SR_MSG_DATA_CTRL, bye, sizeof(bye), out[2]);
	len[3] = seal_copy(p.b, SR_MSG_DATA_CTRL, init, DPC_REKEY_LEN, out[3]);
	len[4] = seal_copy(p.b, SR_MSG_DATA_CTRL, resp, rl, out[4]);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(len[i], DPC_PAD + SR_DP_OVERHEAD);
		assert_int_equal(out[i][0], SR_MSG_DATA);
		assert_memory_equal(out[i], out[0], 8); /* type, phase, version, zero, relay_id */
		assert_int_equal(out[i][14], i);        /* the counter, shared by both kinds */
	}
	free_pair(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(dropped_resp_ends_at_reject_after_time),
	    cmocka_unit_test(completed_rekeys_keep_it_alive),
	    cmocka_unit_test(expired_key_refused_both_ways),
	    cmocka_unit_test(dropped_resp_ends_at_reject_after_packets),
	    cmocka_unit_test(ctrl_looks_like_data),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
