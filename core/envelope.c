/* SPDX-License-Identifier: MIT */
#include "envelope.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* Domain separation for the signature (Ed25519ph over context || inner). */
static const char sig_ctx[] = "portless-envelope-v1";

_Static_assert(ENVELOPE_SEAL_OVERHEAD == crypto_box_SEALBYTES, "sealed box overhead");
_Static_assert(ENVELOPE_MAX < 70 * 1024, "envelope fits a control-plane frame");

const char *envelope_strerror(int err)
{
	switch (err) {
	case ENV_OK:
		return "ok";
	case ENV_E_FORMAT:
		return "malformed envelope";
	case ENV_E_VERSION:
		return "unknown envelope version";
	case ENV_E_NOT_FOR_ME:
		return "envelope addressed to someone else";
	case ENV_E_DECRYPT:
		return "envelope does not decrypt with my key";
	case ENV_E_SENDER:
		return "sender key does not belong to the claimed sender";
	case ENV_E_SIGNATURE:
		return "bad signature";
	case ENV_E_EXPIRED:
		return "envelope expired";
	case ENV_E_TOO_BIG:
		return "envelope too big";
	case ENV_E_MISMATCH:
		return "signed sender/recipient differ from the outer ones";
	case ENV_E_REPLAY:
		return "envelope already seen (replay)";
	case ENV_E_ARG:
		return "invalid argument";
	case ENV_E_EXPIRY_FAR:
		return "envelope expiry too far ahead (more than a day and the clock skew)";
	case ENV_E_REPLAY_FULL:
		return "too many unexpired notifications from this sender (replay cache quota)";
	case ENV_E_REPLAY_STORE:
		return "replay cache file cannot be read or written";
	}
	return "unknown envelope error";
}

static void sign_inner(const uint8_t *inner, size_t len, const uint8_t *sk, uint8_t sig[64])
{
	crypto_sign_state st;

	crypto_sign_init(&st);
	crypto_sign_update(&st, (const uint8_t *)sig_ctx, sizeof(sig_ctx));
	crypto_sign_update(&st, inner, len);
	crypto_sign_final_create(&st, sig, NULL, sk);
	sodium_memzero(&st, sizeof(st));
}

static bool verify_inner(const uint8_t *inner, size_t len, const uint8_t *pk, const uint8_t *sig)
{
	crypto_sign_state st;

	crypto_sign_init(&st);
	crypto_sign_update(&st, (const uint8_t *)sig_ctx, sizeof(sig_ctx));
	crypto_sign_update(&st, inner, len);
	return crypto_sign_final_verify(&st, sig, pk) == 0;
}

int envelope_seal(const struct identity *from, const struct pubkeys *to, uint16_t type,
		  const uint8_t id[ENVELOPE_ID_LEN], uint64_t expiry, const uint8_t *payload,
		  size_t payload_len, uint8_t *out, size_t outcap, size_t *outlen)
{
	size_t inner_cap = ENVELOPE_INNER_OVERHEAD + payload_len;
	uint8_t *inner, *sealed;
	struct wr w, o;
	int r = ENV_OK;

	if (payload_len > ENVELOPE_MAX_PAYLOAD)
		return ENV_E_TOO_BIG;
	if (!handle_valid(from->pub.handle) || !handle_valid(to->handle) ||
	    (payload_len && !payload))
		return ENV_E_ARG;
	inner = malloc(inner_cap);
	if (!inner)
		return ENV_E_ARG;
	wr_init(&w, inner, inner_cap);
	wr_u8(&w, ENVELOPE_VERSION);
	wr_str8(&w, from->pub.handle);
	wr_str8(&w, to->handle);
	wr_u16(&w, type);
	wr_bytes(&w, id, ENVELOPE_ID_LEN);
	wr_u64(&w, expiry);
	wr_lv32(&w, payload, payload_len);
	uint8_t *sig = wr_reserve(&w, crypto_sign_BYTES);
	if (!sig) {
		r = ENV_E_ARG;
		goto out;
	}
	sign_inner(inner, w.len - crypto_sign_BYTES, identity_sign_sk(from), sig);

	wr_init(&o, out, outcap);
	wr_u8(&o, ENVELOPE_VERSION);
	wr_str8(&o, from->pub.handle);
	wr_str8(&o, to->handle);
	wr_u32(&o, (uint32_t)(w.len + crypto_box_SEALBYTES));
	sealed = wr_reserve(&o, w.len + crypto_box_SEALBYTES);
	if (!sealed || crypto_box_seal(sealed, inner, w.len, to->box_pk) != 0) {
		r = sealed ? ENV_E_ARG : ENV_E_TOO_BIG;
		goto out;
	}
	*outlen = o.len;
out:
	sodium_memzero(inner, inner_cap);
	free(inner);
	return r;
}

/* Parse the outer layer; the sealed box pointer borrows from @p in. */
static int parse_outer(const uint8_t *in, size_t len, char from[HANDLE_BUF], char to[HANDLE_BUF],
		       const uint8_t **sealed, size_t *sealed_len)
{
	struct rd r;

	if (len > ENVELOPE_MAX)
		return ENV_E_TOO_BIG;
	rd_init(&r, in, len);
	if (rd_u8(&r) != ENVELOPE_VERSION)
		return r.err ? ENV_E_FORMAT : ENV_E_VERSION;
	rd_str8(&r, from, HANDLE_BUF);
	rd_str8(&r, to, HANDLE_BUF);
	*sealed = rd_lv32(&r, sealed_len, ENVELOPE_MAX);
	if (!rd_done(&r) || !handle_valid(from) || !handle_valid(to) ||
	    *sealed_len < crypto_box_SEALBYTES + crypto_sign_BYTES)
		return ENV_E_FORMAT;
	return ENV_OK;
}

int envelope_peek(const uint8_t *in, size_t len, char from[HANDLE_BUF], char to[HANDLE_BUF])
{
	const uint8_t *sealed;
	size_t sealed_len;

	return parse_outer(in, len, from, to, &sealed, &sealed_len);
}

/*
 * Decode the (already decrypted) inner layer into @p env: the signed bytes
 * are inner[0, *signed_len), the signature follows. Checks nothing else.
 */
static int decode_inner(const uint8_t *inner, size_t len, struct envelope *env, size_t *signed_len,
			const uint8_t **sig)
{
	struct rd r;

	rd_init(&r, inner, len);
	if (rd_u8(&r) != ENVELOPE_VERSION)
		return r.err ? ENV_E_FORMAT : ENV_E_VERSION;
	rd_str8(&r, env->from, sizeof(env->from));
	rd_str8(&r, env->to, sizeof(env->to));
	env->type = rd_u16(&r);
	rd_bytes(&r, env->id, ENVELOPE_ID_LEN);
	env->expiry = rd_u64(&r);
	env->payload = rd_lv32(&r, &env->payload_len, ENVELOPE_MAX_PAYLOAD);
	*signed_len = r.off;
	*sig = rd_ptr(&r, crypto_sign_BYTES);
	return rd_done(&r) ? ENV_OK : ENV_E_FORMAT;
}

/*
 * Parse the outer layer, check it is for @p me (and from @p sender, if
 * given) and decrypt it into @p work.
 */
static int unseal(const struct identity *me, const struct pubkeys *sender, const uint8_t *in,
		  size_t len, uint8_t *work, size_t workcap, char from[HANDLE_BUF],
		  size_t *inner_len)
{
	char to[HANDLE_BUF];
	const uint8_t *sealed;
	size_t sealed_len, n;
	int r;

	r = parse_outer(in, len, from, to, &sealed, &sealed_len);
	if (r != ENV_OK)
		return r;
	if (strcmp(to, me->pub.handle) != 0)
		return ENV_E_NOT_FOR_ME;
	if (sender && strcmp(from, sender->handle) != 0)
		return ENV_E_SENDER;
	n = sealed_len - crypto_box_SEALBYTES;
	if (workcap < n)
		return ENV_E_ARG;
	if (crypto_box_seal_open(work, sealed, sealed_len, me->pub.box_pk, identity_box_sk(me)) !=
	    0)
		return ENV_E_DECRYPT;
	*inner_len = n; /* only now is there plaintext in @p work to wipe */
	return ENV_OK;
}

int envelope_check_expiry(uint64_t expiry, uint64_t now)
{
	if (expiry < now)
		return ENV_E_EXPIRED;
	if (expiry - now > ENVELOPE_EXPIRY_AHEAD)
		return ENV_E_EXPIRY_FAR;
	return ENV_OK;
}

/* Decrypt and decode; verify the signature when @p sender is given; check expiry then. */
static int open_inner(const struct identity *me, const struct pubkeys *sender, const uint8_t *in,
		      size_t len, uint64_t now, uint8_t *work, size_t workcap, struct envelope *env)
{
	char from[HANDLE_BUF];
	const uint8_t *sig;
	size_t inner_len = 0, signed_len;
	int r;

	memset(env, 0, sizeof(*env));
	r = unseal(me, sender, in, len, work, workcap, from, &inner_len);
	if (r == ENV_OK)
		r = decode_inner(work, inner_len, env, &signed_len, &sig);
	if (r == ENV_OK && sender && !verify_inner(work, signed_len, sender->sign_pk, sig))
		r = ENV_E_SIGNATURE;
	if (r == ENV_OK && (strcmp(env->from, from) != 0 || strcmp(env->to, me->pub.handle) != 0))
		r = ENV_E_MISMATCH;
	if (r == ENV_OK && sender)
		r = envelope_check_expiry(env->expiry, now);
	if (r != ENV_OK) {
		sodium_memzero(work, inner_len);
		memset(env, 0, sizeof(*env));
	}
	return r;
}

int envelope_open(const struct identity *me, const struct pubkeys *sender, const uint8_t *in,
		  size_t len, uint64_t now, uint8_t *work, size_t workcap, struct envelope *env)
{
	return open_inner(me, sender, in, len, now, work, workcap, env);
}

int envelope_peek_inner(const struct identity *me, const uint8_t *in, size_t len, uint8_t *work,
			size_t workcap, struct envelope *env)
{
	return open_inner(me, NULL, in, len, 0, work, workcap, env);
}

struct replay_entry {
	uint8_t key[16]; /* BLAKE2b-128 of from || id */
	uint64_t expiry;
	bool used;
};

struct replay_cache {
	size_t cap;
	struct replay_entry e[];
};

struct replay_cache *replay_cache_new(size_t capacity)
{
	struct replay_cache *rc;

	if (capacity == 0)
		return NULL;
	rc = calloc(1, sizeof(*rc) + capacity * sizeof(rc->e[0]));
	if (rc)
		rc->cap = capacity;
	return rc;
}

void replay_cache_free(struct replay_cache *rc)
{
	free(rc);
}

int replay_cache_add(struct replay_cache *rc, const char *from, const uint8_t id[ENVELOPE_ID_LEN],
		     uint64_t expiry, uint64_t now)
{
	uint8_t key[16];
	crypto_generichash_state st;
	struct replay_entry *slot = NULL;

	crypto_generichash_init(&st, NULL, 0, sizeof(key));
	crypto_generichash_update(&st, (const uint8_t *)from, strlen(from) + 1);
	crypto_generichash_update(&st, id, ENVELOPE_ID_LEN);
	crypto_generichash_final(&st, key, sizeof(key));
	for (size_t i = 0; i < rc->cap; i++) {
		struct replay_entry *e = &rc->e[i];

		if (e->used && e->expiry < now)
			e->used = false; /* expired: its envelope would be refused anyway */
		if (e->used && !memcmp(e->key, key, sizeof(key)))
			return ENV_E_REPLAY;
		if (!e->used) {
			if (!slot || slot->used)
				slot = e; /* a free slot beats any used one */
		} else if (!slot || (slot->used && e->expiry < slot->expiry)) {
			slot = e; /* full so far: remember the entry nearest to expiry */
		}
	}
	memcpy(slot->key, key, sizeof(key));
	slot->expiry = expiry;
	slot->used = true;
	return ENV_OK;
}
