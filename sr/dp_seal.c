/* SPDX-License-Identifier: MIT */
#include "dp_seal.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "dp_aead.h"
#include "replay.h"
#include "wire.h"

enum { NONCE_LEN = DP_AEAD_NONCE_LEN, REKEY_RETRY_S = 1 };

/*
 * One direction key, prepared for its AEAD. It owns an OpenSSL context:
 * never copy one, move it (rx_move, tx_move) or wipe it (dkey_wipe).
 */
struct dkey {
	struct dp_aead_key a; /* first: the AES state's 16-byte alignment */
	bool valid;
	uint8_t phase;
};

struct rxkey {
	struct dkey k;
	struct replay_win win;
	double born;
};

struct txkey {
	struct dkey k;
	uint64_t ctr;
	double born;
};

struct dp_state {
	struct txkey tx, tx_next;
	struct rxkey rx_cur, rx_prev, rx_next;
	uint8_t chain[DP_KEY_LEN], chain_next[DP_KEY_LEN];
	uint8_t aead, side, impl;
	uint32_t epoch;
	struct dp_limits lim;
	/* initiator of a rekey */
	bool rk_pending;
	bool rk_forced;
	double rk_sent;
	struct dp_keypair rk_kp;
	/* responder: the answer, re-sent on a duplicate INIT */
	uint8_t rk_resp[DPC_REKEY_LEN];
};

void dp_limits_default(struct dp_limits *l)
{
	l->rekey_after_packets = 1ULL << 32;
	l->rekey_after_seconds = 120;
	l->reject_after_packets = 0; /* 3 x rekey_after_packets */
	l->reject_after_seconds = 0; /* 3 x rekey_after_seconds */
}

/*
 * The reject limits: explicit, or three times the rekey limits (saturating).
 * The packet limit is at least 2^32: with a small rekey_after_packets a bulk
 * sender's queue (TCP: megabytes) can hold more than that in front of the
 * REKEY_RESP; the time limit stays the hard stop there.
 */
static void limits_fix(struct dp_limits *l)
{
	if (!l->reject_after_packets) {
		l->reject_after_packets = l->rekey_after_packets > SR_DP_CTR_LIMIT / 3
					      ? SR_DP_CTR_LIMIT
					      : 3 * l->rekey_after_packets;
		if (l->reject_after_packets < DP_REJECT_PACKETS_MIN)
			l->reject_after_packets = DP_REJECT_PACKETS_MIN;
	}
	if (l->reject_after_packets > SR_DP_CTR_LIMIT)
		l->reject_after_packets = SR_DP_CTR_LIMIT;
	if (l->reject_after_seconds <= 0)
		l->reject_after_seconds = 3 * l->rekey_after_seconds;
}

static void dkey_wipe(struct dkey *d)
{
	dp_aead_key_wipe(&d->a);
	sodium_memzero(d, sizeof(*d));
}

/* Replace @p d (wiped first) with @p key; on error @p d stays empty (invalid). */
static int dkey_set(const struct dp_state *s, struct dkey *d, const uint8_t key[DP_KEY_LEN],
		    uint32_t epoch)
{
	int r;

	dkey_wipe(d);
	r = dp_aead_key_init(&d->a, s->aead, s->impl, key);
	if (r < 0)
		return r;
	d->valid = true;
	d->phase = (uint8_t)epoch;
	return 0;
}

/* *dst = *src, the old *dst wiped, *src left empty: each context has one owner. */
static void rx_move(struct rxkey *dst, struct rxkey *src)
{
	dkey_wipe(&dst->k);
	*dst = *src;
	sodium_memzero(src, sizeof(*src));
}

static void tx_move(struct txkey *dst, struct txkey *src)
{
	dkey_wipe(&dst->k);
	*dst = *src;
	sodium_memzero(src, sizeof(*src));
}

static size_t state_size(void)
{
	return (sizeof(struct dp_state) + 63) & ~(size_t)63; /* keeps the AES state aligned */
}

struct dp_state *dp_state_new(const struct dp_keys *k, const struct dp_limits *lim, double now)
{
	struct dp_state *s;

	if (k->aead != DP_AEAD_CHACHA20POLY1305 &&
	    !(k->aead == DP_AEAD_AES256GCM && crypto_aead_aes256gcm_is_available()))
		return NULL;
	s = sodium_malloc(state_size());
	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->aead = k->aead;
	s->side = k->side;
	s->impl = (uint8_t)dp_aead_impl_default();
	if (lim)
		s->lim = *lim;
	else
		dp_limits_default(&s->lim);
	limits_fix(&s->lim);
	if (dkey_set(s, &s->tx.k, k->tx, 0) < 0 || dkey_set(s, &s->rx_cur.k, k->rx, 0) < 0) {
		dp_state_free(s);
		return NULL;
	}
	s->tx.born = now;
	s->rx_cur.born = now;
	memcpy(s->chain, k->chain, DP_KEY_LEN);
	return s;
}

void dp_state_free(struct dp_state *s)
{
	if (!s)
		return;
	dkey_wipe(&s->tx.k);
	dkey_wipe(&s->tx_next.k);
	dkey_wipe(&s->rx_cur.k);
	dkey_wipe(&s->rx_prev.k);
	dkey_wipe(&s->rx_next.k);
	sodium_free(s); /* sodium_free wipes the region */
}

static void nonce_of(uint8_t n[NONCE_LEN], uint64_t ctr)
{
	memset(n, 0, 4);
	put_be64(n + 4, ctr); /* ctr < 2^56: the same as 0^5 || u56 */
}

/* The 56-bit counter at offset 8 of the clear header. */
static void put_ctr(uint8_t *b, uint64_t ctr)
{
	for (int i = 6; i >= 0; i--, ctr >>= 8)
		b[i] = (uint8_t)ctr;
}

static uint64_t get_ctr(const uint8_t *b)
{
	uint64_t v = 0;

	for (int i = 0; i < 7; i++)
		v = v << 8 | b[i];
	return v;
}

static int encrypt(const struct dkey *k, uint8_t *m, size_t mlen, uint8_t *tag, const uint8_t *ad,
		   uint64_t ctr)
{
	uint8_t n[NONCE_LEN];

	nonce_of(n, ctr);
	return dp_aead_seal(&k->a, n, ad, SR_DP_AAD, m, mlen, tag);
}

static int decrypt(const struct dkey *k, uint8_t *c, size_t clen, const uint8_t *tag,
		   const uint8_t *ad, uint64_t ctr)
{
	uint8_t n[NONCE_LEN];

	nonce_of(n, ctr);
	return dp_aead_open(&k->a, n, ad, SR_DP_AAD, c, clen, tag);
}

/* A control message grows to DPC_PAD bytes: all of them look alike, and like a TCP ACK. */
static int pad_ctrl(struct pkt *p)
{
	size_t n = p->len;
	uint8_t *z;

	if (n > DPC_PAD)
		return -EINVAL;
	if (pkt_tailroom(p) < DPC_PAD - n + SR_DP_TAG)
		return -ENOSPC;
	z = pkt_put(p, DPC_PAD - n); /* never NULL: the room was checked */
	memset(z, 0, DPC_PAD - n);
	return 0;
}

int dp_seal(struct dp_state *s, uint8_t type, uint32_t relay_id, struct pkt *p, double now)
{
	uint8_t *h, *tag;
	int r;

	if (type != SR_MSG_DATA && type != SR_MSG_DATA_CTRL)
		return -EINVAL;
	if (s->tx.ctr >= s->lim.reject_after_packets)
		return -ESTALE;
	if (now - s->tx.born >= s->lim.reject_after_seconds)
		return -EKEYEXPIRED;
	if (pkt_headroom(p) < SR_DP_HDR || pkt_tailroom(p) < SR_DP_TAG)
		return -ENOSPC;
	if (type == SR_MSG_DATA_CTRL && (r = pad_ctrl(p)) < 0)
		return r;
	tag = pkt_put(p, SR_DP_TAG);
	h = pkt_push(p, SR_DP_HDR);
	if (!tag || !h)
		return -ENOSPC;
	h[0] = SR_MSG_DATA; /* the kind travels encrypted, in h[SR_DP_AAD] */
	h[1] = s->tx.k.phase;
	h[2] = SR_DP_VERSION;
	h[3] = 0;
	put_be32(h + 4, relay_id);
	put_ctr(h + 8, s->tx.ctr);
	h[SR_DP_AAD] = type;
	r = encrypt(&s->tx.k, h + SR_DP_AAD, p->len - SR_DP_AAD - SR_DP_TAG, tag, h, s->tx.ctr);
	if (r < 0)
		return r;
	s->tx.ctr++;
	return 0;
}

static struct rxkey *rx_for_phase(struct dp_state *s, uint8_t phase)
{
	if (s->rx_cur.k.valid && s->rx_cur.k.phase == phase)
		return &s->rx_cur;
	if (s->rx_prev.k.valid && s->rx_prev.k.phase == phase)
		return &s->rx_prev;
	if (s->rx_next.k.valid && s->rx_next.k.phase == phase)
		return &s->rx_next;
	return NULL;
}

/* Responder: the peer sends under the next keys, so switch ours too. */
static void promote_next(struct dp_state *s)
{
	rx_move(&s->rx_prev, &s->rx_cur);
	rx_move(&s->rx_cur, &s->rx_next);
	tx_move(&s->tx, &s->tx_next);
	memcpy(s->chain, s->chain_next, DP_KEY_LEN);
	s->epoch++;
	sodium_memzero(s->chain_next, DP_KEY_LEN);
}

int dp_open(struct dp_state *s, struct pkt *p, uint8_t *type, double now)
{
	uint8_t *h = pkt_data(p);
	struct rxkey *rx;
	uint64_t ctr;
	size_t clen;
	int r;

	if (p->len < SR_DP_OVERHEAD || h[0] != SR_MSG_DATA || h[2] != SR_DP_VERSION)
		return -EPROTO;
	rx = rx_for_phase(s, h[1]);
	if (!rx)
		return -ENOKEY;
	ctr = get_ctr(h + 8);
	if (now - rx->born >= s->lim.reject_after_seconds)
		return -EKEYEXPIRED;
	r = replay_check(&rx->win, ctr);
	if (r < 0)
		return r;
	clen = p->len - SR_DP_AAD - SR_DP_TAG;
	if (decrypt(&rx->k, h + SR_DP_AAD, clen, h + SR_DP_AAD + clen, h, ctr) != 0)
		return -EBADMSG;
	if (ctr >= s->lim.reject_after_packets)
		return -EKEYEXPIRED; /* authentic, but the peer used the key too long */
	if (h[SR_DP_AAD] != SR_MSG_DATA && h[SR_DP_AAD] != SR_MSG_DATA_CTRL)
		return -EPROTO; /* authentic but not ours to read: not recorded */
	replay_commit(&rx->win, ctr);
	*type = h[SR_DP_AAD];
	if (!pkt_pull(p, SR_DP_HDR) || pkt_trim(p, clen - 1) < 0)
		return -EPROTO;
	if (rx == &s->rx_next)
		promote_next(s);
	return 0;
}

bool dp_expired(const struct dp_state *s, double now)
{
	return now - s->tx.born >= s->lim.reject_after_seconds ||
	       now - s->rx_cur.born >= s->lim.reject_after_seconds;
}

static size_t put_rekey(uint8_t msg[DPC_MAX], uint8_t op, uint32_t epoch, const uint8_t pk[32])
{
	msg[0] = op;
	put_be32(msg + 1, epoch);
	memcpy(msg + 5, pk, DP_PK_LEN);
	return DPC_REKEY_LEN;
}

static bool rekey_due(const struct dp_state *s, double now)
{
	/* B waits longer on time so both sides rarely start together (A wins a race). */
	double age = s->rx_next.k.valid ? 0 : now - s->tx.born;
	double lim = s->lim.rekey_after_seconds + (s->side == SR_SIDE_B ? 10 : 0);

	return s->rk_forced || age >= lim || s->tx.ctr >= s->lim.rekey_after_packets;
}

size_t dp_rekey_poll(struct dp_state *s, double now, uint8_t msg[DPC_MAX])
{
	if (s->rx_next.k.valid)
		return 0; /* we are the responder of a rekey in flight */
	if (s->rk_pending) {
		if (now - s->rk_sent < REKEY_RETRY_S)
			return 0;
	} else {
		if (!rekey_due(s, now))
			return 0;
		dp_keypair_new(&s->rk_kp);
		s->rk_pending = true;
		s->rk_forced = false;
	}
	s->rk_sent = now;
	return put_rekey(msg, DPC_REKEY_INIT, s->epoch + 1, s->rk_kp.pk);
}

void dp_rekey_now(struct dp_state *s)
{
	s->rk_forced = true;
}

/* New keys for epoch @p e from our pair and the peer's key. */
static int derive_epoch(struct dp_state *s, uint32_t e, const struct dp_keypair *mine,
			const uint8_t *peer_pk, struct dp_keys *k)
{
	const uint8_t *pk_a = s->side == SR_SIDE_A ? mine->pk : peer_pk;
	const uint8_t *pk_b = s->side == SR_SIDE_A ? peer_pk : mine->pk;

	return dp_derive_rekey(s->chain, e, mine, s->side, pk_a, pk_b, s->aead, k);
}

static int on_init(struct dp_state *s, uint32_t e, const uint8_t *pk, double now, uint8_t *reply,
		   size_t *reply_len)
{
	struct dp_keypair kp;
	struct dp_keys k;
	int r;

	if (e != s->epoch + 1)
		return DP_CTRL_NONE; /* stale or from the future: ignore */
	if (s->rk_pending && s->side == SR_SIDE_A)
		return DP_CTRL_NONE; /* both started: A's INIT wins */
	if (s->rx_next.k.valid) {    /* duplicate INIT: our answer was lost */
		memcpy(reply, s->rk_resp, DPC_REKEY_LEN);
		*reply_len = DPC_REKEY_LEN;
		return DP_CTRL_NONE;
	}
	s->rk_pending = false;
	dp_keypair_wipe(&s->rk_kp);
	dp_keypair_new(&kp);
	r = derive_epoch(s, e, &kp, pk, &k);
	if (r == 0 && (r = dkey_set(s, &s->rx_next.k, k.rx, e)) == 0)
		r = dkey_set(s, &s->tx_next.k, k.tx, e);
	if (r < 0) { /* no answer: the peer's retry tries again */
		dkey_wipe(&s->rx_next.k);
		dkey_wipe(&s->tx_next.k);
	} else {
		replay_init(&s->rx_next.win);
		s->rx_next.born = now;
		s->tx_next.ctr = 0;
		s->tx_next.born = now;
		memcpy(s->chain_next, k.chain, DP_KEY_LEN);
		*reply_len = put_rekey(s->rk_resp, DPC_REKEY_RESP, e, kp.pk);
		memcpy(reply, s->rk_resp, DPC_REKEY_LEN);
	}
	dp_keypair_wipe(&kp);
	dp_keys_wipe(&k);
	return r < 0 ? -EPROTO : DP_CTRL_NONE;
}

static int on_resp(struct dp_state *s, uint32_t e, const uint8_t *pk, double now, uint8_t *reply,
		   size_t *reply_len)
{
	struct dkey nrx, ntx; /* the new keys, made before the old ones go */
	struct dp_keys k;
	int r;

	if (!s->rk_pending || e != s->epoch + 1)
		return DP_CTRL_NONE;
	memset(&nrx, 0, sizeof(nrx));
	memset(&ntx, 0, sizeof(ntx));
	r = derive_epoch(s, e, &s->rk_kp, pk, &k);
	if (r == 0 && (r = dkey_set(s, &nrx, k.rx, e)) == 0)
		r = dkey_set(s, &ntx, k.tx, e);
	if (r < 0) {
		dkey_wipe(&nrx);
		dkey_wipe(&ntx);
	} else {
		rx_move(&s->rx_prev, &s->rx_cur);
		s->rx_cur.k = nrx; /* moved: the stack copies are zeroed below */
		replay_init(&s->rx_cur.win);
		s->rx_cur.born = now;
		dkey_wipe(&s->tx.k);
		s->tx.k = ntx;
		sodium_memzero(&nrx, sizeof(nrx));
		sodium_memzero(&ntx, sizeof(ntx));
		s->tx.ctr = 0;
		s->tx.born = now;
		memcpy(s->chain, k.chain, DP_KEY_LEN);
		s->epoch = e;
		reply[0] = DPC_KEEPALIVE; /* lets the responder switch its send key */
		*reply_len = 1;
	}
	s->rk_pending = false;
	dp_keypair_wipe(&s->rk_kp);
	dp_keys_wipe(&k);
	return r < 0 ? -EPROTO : DP_CTRL_REKEYED;
}

/* Length of control message @p op without padding; 0 for an unknown op. */
static size_t ctrl_len(uint8_t op)
{
	switch (op) {
	case DPC_KEEPALIVE:
		return 1;
	case DPC_CLOSE:
		return 2;
	case DPC_REKEY_INIT:
	case DPC_REKEY_RESP:
		return DPC_REKEY_LEN;
	}
	return 0;
}

/* The message, then only zeros up to DPC_PAD. */
static bool ctrl_well_formed(const uint8_t *msg, size_t len)
{
	size_t need = len ? ctrl_len(msg[0]) : 0;

	if (!need || len < need || len > DPC_PAD)
		return false;
	for (size_t i = need; i < len; i++)
		if (msg[i])
			return false;
	return true;
}

int dp_ctrl_input(struct dp_state *s, const uint8_t *msg, size_t len, double now,
		  uint8_t reply[DPC_MAX], size_t *reply_len)
{
	*reply_len = 0;
	if (!ctrl_well_formed(msg, len))
		return -EPROTO;
	switch (msg[0]) {
	case DPC_CLOSE:
		return DP_CTRL_CLOSE;
	case DPC_REKEY_INIT:
		return on_init(s, get_be32(msg + 1), msg + 5, now, reply, reply_len);
	case DPC_REKEY_RESP:
		return on_resp(s, get_be32(msg + 1), msg + 5, now, reply, reply_len);
	}
	return DP_CTRL_NONE; /* KEEPALIVE */
}

uint32_t dp_epoch(const struct dp_state *s)
{
	return s->epoch;
}

int dp_aead(const struct dp_state *s)
{
	return s->aead;
}

uint64_t dp_tx_counter(const struct dp_state *s)
{
	return s->tx.ctr;
}
