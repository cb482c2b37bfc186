/* SPDX-License-Identifier: MIT */
#include "cp_rot.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "wire.h"

#define ROT_CTX "portless-rotate v1"

/* The signed message: context (with its NUL) | the encoding up to the signature. */
static size_t signed_msg(const uint8_t *enc, size_t body, uint8_t *out)
{
	memcpy(out, ROT_CTX, sizeof(ROT_CTX));
	memcpy(out + sizeof(ROT_CTX), enc, body);
	return sizeof(ROT_CTX) + body;
}

int cp_rot_make(const struct identity *old_id, const struct pubkeys *new_pk, uint64_t now,
		uint8_t *out, size_t cap)
{
	uint8_t msg[sizeof(ROT_CTX) + CP_ROT_MAX];
	struct wr w;
	size_t n;

	if (strcmp(old_id->pub.handle, new_pk->handle) != 0)
		return -EINVAL;
	wr_init(&w, out, cap);
	wr_u8(&w, CP_ROT_VERSION);
	wr_str8(&w, new_pk->handle);
	wr_bytes(&w, old_id->pub.sign_pk, CP_KEY_LEN);
	wr_bytes(&w, new_pk->sign_pk, CP_KEY_LEN);
	wr_bytes(&w, new_pk->box_pk, CP_KEY_LEN);
	wr_u64(&w, now);
	if (!wr_ok(&w) || cap - w.len < CP_SIG_LEN)
		return -ENOBUFS;
	n = signed_msg(out, w.len, msg);
	crypto_sign_detached(out + w.len, NULL, msg, n, identity_sign_sk(old_id));
	return (int)(w.len + CP_SIG_LEN);
}

int cp_rot_decode(const uint8_t *in, size_t len, struct cp_rot *out)
{
	struct rd r;

	memset(out, 0, sizeof(*out));
	rd_init(&r, in, len);
	if (rd_u8(&r) != CP_ROT_VERSION)
		return -EBADMSG;
	rd_str8(&r, out->handle, sizeof(out->handle));
	if (r.err || !handle_valid(out->handle))
		return -EBADMSG;
	rd_bytes(&r, out->old_sign_pk, CP_KEY_LEN);
	rd_bytes(&r, out->new_sign_pk, CP_KEY_LEN);
	rd_bytes(&r, out->new_box_pk, CP_KEY_LEN);
	out->time = rd_u64(&r);
	rd_bytes(&r, out->sig, CP_SIG_LEN);
	return rd_done(&r) ? 0 : -EBADMSG;
}

bool cp_rot_verify(const uint8_t *proof, size_t len, const uint8_t old_sign_pk[CP_KEY_LEN],
		   const struct pubkeys *new_pk)
{
	uint8_t msg[sizeof(ROT_CTX) + CP_ROT_MAX];
	struct cp_rot rot;
	size_t n;

	if (len > CP_ROT_MAX || cp_rot_decode(proof, len, &rot) != 0)
		return false;
	if (strcmp(rot.handle, new_pk->handle) != 0 ||
	    sodium_memcmp(rot.old_sign_pk, old_sign_pk, CP_KEY_LEN) != 0 ||
	    sodium_memcmp(rot.new_sign_pk, new_pk->sign_pk, CP_KEY_LEN) != 0 ||
	    sodium_memcmp(rot.new_box_pk, new_pk->box_pk, CP_KEY_LEN) != 0)
		return false;
	n = signed_msg(proof, len - CP_SIG_LEN, msg);
	return crypto_sign_verify_detached(rot.sig, msg, n, old_sign_pk) == 0;
}
