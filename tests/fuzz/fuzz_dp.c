/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: sealed data packets (dp_open) and in-band control
 * (dp_ctrl_input, rekey) between two sides with fixed keys. The input is a
 * list of operations [op u8][len u8][len bytes]:
 *   op % 4 == 0: the bytes as a packet off the wire into B (dp_open);
 *   op % 4 == 1: A seals the bytes (kind DATA or, op bit 2, DATA_CTRL: padded
 *                to DPC_PAD, longer ones refused); bit 3
 *                flips one byte before B opens it; an opened DATA_CTRL goes
 *                to dp_ctrl_input and its reply back to A;
 *   op % 4 == 2: A rekeys now: its REKEY_INIT goes to B, B's reply to A;
 *   op % 4 == 3: the bytes straight into B's dp_ctrl_input.
 * Invariants: a tampered packet never opens; while A is honest (no
 * fuzz-chosen control message has reached B yet) an untampered packet opens
 * with its plaintext intact. A dishonest peer can desynchronise its own
 * session (e.g. a REKEY_INIT with a key it does not hold: found by this
 * harness) - it could as well stop sending - so that is not checked.
 * Each input runs twice: with ChaCha20-Poly1305, and (where the CPU has
 * AES-NI) with AES-256-GCM, A sealing through OpenSSL and B through
 * libsodium (PORTLESS_AEAD_IMPL), so rekeys move and free EVP contexts.
 */
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t buf[SR_HEADROOM + 256 + 64];

static void keys(struct dp_keys *k, uint8_t side, uint8_t aead)
{
	memset(k, 0, sizeof(*k));
	k->aead = aead;
	k->side = side;
	memset(side == SR_SIDE_A ? k->tx : k->rx, 0xa1, DP_KEY_LEN);
	memset(side == SR_SIDE_A ? k->rx : k->tx, 0xb2, DP_KEY_LEN);
	memset(k->chain, 0xc3, DP_KEY_LEN);
}

/* Feed @p msg (a control message) to @p to; its reply (if any) to @p back. */
static void ctrl(struct dp_state *to, struct dp_state *back, const uint8_t *msg, size_t len,
		 double now)
{
	uint8_t reply[DPC_MAX], reply2[DPC_MAX];
	size_t rl = 0, rl2 = 0;

	if (dp_ctrl_input(to, msg, len, now, reply, &rl) >= 0 && rl)
		(void)dp_ctrl_input(back, reply, rl, now, reply2, &rl2);
}

static struct dp_state *state_on(const struct dp_keys *k, const char *impl)
{
	struct dp_state *s;

	setenv("PORTLESS_AEAD_IMPL", impl, 1);
	s = dp_state_new(k, NULL, 0);
	unsetenv("PORTLESS_AEAD_IMPL");
	if (!s)
		abort();
	return s;
}

static void run(const uint8_t *data, size_t size, uint8_t aead)
{
	struct dp_state *a, *b;
	struct dp_keys ka, kb;
	struct pkt p;
	size_t off = 0;
	double now = 1;
	uint8_t type, msg[DPC_MAX];
	bool honest = true;

	keys(&ka, SR_SIDE_A, aead);
	keys(&kb, SR_SIDE_B, aead);
	a = state_on(&ka, "openssl");
	b = state_on(&kb, "sodium");
	for (int i = 0; i < 32 && size - off >= 2; i++) {
		uint8_t op = data[off];
		size_t len = data[off + 1];
		const uint8_t *d = data + off + 2;

		off += 2;
		if (len > size - off)
			len = size - off;
		off += len;
		now += 0.5;
		pkt_init(&p, buf, sizeof(buf), SR_HEADROOM);
		switch (op % 4) {
		case 0:
			memcpy(pkt_put(&p, len), d, len);
			(void)dp_open(b, &p, &type, now);
			break;
		case 1: {
			uint8_t t = op & 4 ? SR_MSG_DATA_CTRL : SR_MSG_DATA;
			int r;

			memcpy(pkt_put(&p, len), d, len);
			if (dp_seal(a, t, 42, &p, now) != 0)
				break;
			if (pkt_data(&p)[0] != SR_MSG_DATA)
				abort(); /* the clear type never says control (before tampering) */
			if (op & 8)
				pkt_data(&p)[(size_t)(op >> 4) % p.len] ^= 0x80;
			r = dp_open(b, &p, &type, now);
			if (op & 8 && r == 0)
				abort(); /* a tampered packet opened */
			if (!(op & 8) && honest &&
			    (r != 0 || type != t || p.len != (t == SR_MSG_DATA ? len : DPC_PAD) ||
			     memcmp(pkt_data(&p), d, len) != 0))
				abort();
			if (r == 0 && type == SR_MSG_DATA_CTRL) {
				honest = false;
				ctrl(b, a, pkt_data(&p), p.len, now);
			}
			break;
		}
		case 2: {
			size_t ml;

			dp_rekey_now(a);
			ml = dp_rekey_poll(a, now, msg);
			if (ml)
				ctrl(b, a, msg, ml, now);
			break;
		}
		default:
			honest = false;
			ctrl(b, a, d, len, now);
			break;
		}
	}
	dp_state_free(a);
	dp_state_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;

	if (!ready && sodium_init() >= 0)
		ready = 1;
	run(data, size, DP_AEAD_CHACHA20POLY1305);
	if (crypto_aead_aes256gcm_is_available())
		run(data, size, DP_AEAD_AES256GCM);
	return 0;
}
