/* SPDX-License-Identifier: MIT */
#include "sess.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "wire.h"

bool sess_user_valid(const char *u)
{
	size_t n = strlen(u);

	if (n == 0 || n > SESS_USER_MAX || !((u[0] >= 'a' && u[0] <= 'z') || u[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((u[i] >= 'a' && u[i] <= 'z') || (u[i] >= '0' && u[i] <= '9') || u[i] == '_' ||
		      u[i] == '-'))
			return false;
	return true;
}

int sess_request_encode(const struct sess_request *r, uint8_t *out, size_t cap, size_t *len)
{
	uint8_t tk[SR_SIDE_TICKET_MAX];
	size_t tklen;
	struct wr w;
	int rc;

	if (!sess_user_valid(r->user))
		return -EINVAL;
	rc = sr_side_ticket_encode(&r->ticket, tk, sizeof(tk), &tklen);
	if (rc < 0)
		return rc;
	wr_init(&w, out, cap);
	wr_u8(&w, SESS_VERSION);
	wr_bytes(&w, r->session_id, SR_SID_LEN);
	wr_lv16(&w, tk, tklen);
	wr_bytes(&w, r->client_pk, DP_PK_LEN);
	wr_u8(&w, r->aead_mask);
	wr_str8(&w, r->user);
	sodium_memzero(tk, sizeof(tk));
	if (!wr_ok(&w))
		return -ENOSPC;
	*len = w.len;
	return 0;
}

bool sess_request_decode(const uint8_t *in, size_t len, struct sess_request *r)
{
	const uint8_t *tk;
	size_t tklen;
	struct rd d;

	memset(r, 0, sizeof(*r));
	rd_init(&d, in, len);
	if (rd_u8(&d) != SESS_VERSION)
		return false;
	rd_bytes(&d, r->session_id, SR_SID_LEN);
	tk = rd_lv16(&d, &tklen);
	rd_bytes(&d, r->client_pk, DP_PK_LEN);
	r->aead_mask = rd_u8(&d);
	rd_str8(&d, r->user, sizeof(r->user));
	if (!rd_done(&d) || !tk || !sess_user_valid(r->user) ||
	    !sr_side_ticket_decode(tk, tklen, &r->ticket) || r->ticket.side != SR_SIDE_B ||
	    memcmp(r->ticket.session_id, r->session_id, SR_SID_LEN) != 0) {
		sess_request_wipe(r);
		return false;
	}
	return true;
}

int sess_answer_encode(const struct sess_answer *a, uint8_t *out, size_t cap, size_t *len)
{
	struct wr w;

	wr_init(&w, out, cap);
	wr_u8(&w, SESS_VERSION);
	wr_bytes(&w, a->session_id, SR_SID_LEN);
	wr_u8(&w, a->status);
	if (a->status == SESS_OK) {
		if (!sess_user_valid(a->user))
			return -EINVAL;
		wr_bytes(&w, a->device_pk, DP_PK_LEN);
		wr_u8(&w, a->aead);
		wr_bytes(&w, &a->device_v4, 4);
		wr_bytes(&w, &a->client_v4, 4);
		wr_bytes(&w, &a->device_v6, 16);
		wr_bytes(&w, &a->client_v6, 16);
		wr_u16(&w, a->mtu);
		wr_u64(&w, a->expiry);
		wr_str8(&w, a->user);
		wr_lv16(&w, a->box, a->box_len);
		wr_lv16(&w, a->hostkeys, strnlen(a->hostkeys, SESS_HOSTKEYS_MAX + 1));
		if (a->box_len < crypto_aead_chacha20poly1305_ietf_ABYTES ||
		    a->box_len > SESS_BOX_MAX || strlen(a->hostkeys) > SESS_HOSTKEYS_MAX)
			return -EINVAL;
	} else {
		wr_str8(&w, a->reason);
	}
	if (!wr_ok(&w))
		return -ENOSPC;
	*len = w.len;
	return 0;
}

/* Copy a length-prefixed text field into a NUL-terminated buffer; no NULs inside. */
static bool take_text(struct rd *d, char *out, size_t cap)
{
	size_t n;
	const uint8_t *p = rd_lv16(d, &n);

	if (!p || n >= cap || memchr(p, 0, n))
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

static bool take_bytes(struct rd *d, uint8_t *out, size_t cap, size_t *len)
{
	const uint8_t *p = rd_lv16(d, len);

	if (!p || *len > cap)
		return false;
	memcpy(out, p, *len);
	return true;
}

/* The answer key: the chain key under its own context, with the session as AD. */
static void box_key(const uint8_t chain[DP_KEY_LEN], uint8_t key[32])
{
	static const char ctx[] = "portless-answer-key-v1";

	crypto_generichash(key, 32, (const uint8_t *)ctx, sizeof(ctx), chain, DP_KEY_LEN);
}

static void box_ad(const struct sess_answer *a, uint8_t ad[SR_SID_LEN + DP_PK_LEN])
{
	memcpy(ad, a->session_id, SR_SID_LEN);
	memcpy(ad + SR_SID_LEN, a->device_pk, DP_PK_LEN);
}

int sess_answer_seal(struct sess_answer *a, const uint8_t chain[DP_KEY_LEN])
{
	static const uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	uint8_t key[32], ad[SR_SID_LEN + DP_PK_LEN];
	size_t n = strnlen(a->sshkey, sizeof(a->sshkey));
	unsigned long long clen;

	if (n > SESS_SSHKEY_MAX)
		return -EINVAL;
	box_key(chain, key); /* used once: the chain key is the session's own */
	box_ad(a, ad);
	crypto_aead_chacha20poly1305_ietf_encrypt(a->box, &clen, (const uint8_t *)a->sshkey, n, ad,
						  sizeof(ad), NULL, nonce, key);
	a->box_len = (size_t)clen;
	sodium_memzero(a->sshkey, sizeof(a->sshkey));
	sodium_memzero(key, sizeof(key));
	return 0;
}

int sess_answer_open(struct sess_answer *a, const uint8_t chain[DP_KEY_LEN])
{
	static const uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	uint8_t key[32], ad[SR_SID_LEN + DP_PK_LEN];
	unsigned long long n;
	int r;

	if (a->box_len < crypto_aead_chacha20poly1305_ietf_ABYTES || a->box_len > SESS_BOX_MAX)
		return -EINVAL;
	box_key(chain, key);
	box_ad(a, ad);
	r = crypto_aead_chacha20poly1305_ietf_decrypt((uint8_t *)a->sshkey, &n, NULL, a->box,
						      a->box_len, ad, sizeof(ad), nonce, key);
	sodium_memzero(key, sizeof(key));
	if (r != 0 || memchr(a->sshkey, 0, (size_t)n)) {
		sodium_memzero(a->sshkey, sizeof(a->sshkey));
		return -EBADMSG;
	}
	a->sshkey[n] = '\0';
	return 0;
}

bool sess_answer_decode(const uint8_t *in, size_t len, struct sess_answer *a)
{
	struct rd d;
	bool ok;

	memset(a, 0, sizeof(*a));
	rd_init(&d, in, len);
	if (rd_u8(&d) != SESS_VERSION)
		return false;
	rd_bytes(&d, a->session_id, SR_SID_LEN);
	a->status = rd_u8(&d);
	if (a->status == SESS_OK) {
		rd_bytes(&d, a->device_pk, DP_PK_LEN);
		a->aead = rd_u8(&d);
		rd_bytes(&d, &a->device_v4, 4);
		rd_bytes(&d, &a->client_v4, 4);
		rd_bytes(&d, &a->device_v6, 16);
		rd_bytes(&d, &a->client_v6, 16);
		a->mtu = rd_u16(&d);
		a->expiry = rd_u64(&d);
		rd_str8(&d, a->user, sizeof(a->user));
		ok = take_bytes(&d, a->box, sizeof(a->box), &a->box_len) &&
		     a->box_len >= crypto_aead_chacha20poly1305_ietf_ABYTES &&
		     take_text(&d, a->hostkeys, sizeof(a->hostkeys)) && sess_user_valid(a->user) &&
		     a->mtu >= 1280;
	} else {
		rd_str8(&d, a->reason, sizeof(a->reason));
		ok = true;
	}
	if (!ok || !rd_done(&d)) {
		sess_answer_wipe(a);
		return false;
	}
	return true;
}

int sess_end_encode(const struct sess_end *e, uint8_t *out, size_t cap, size_t *len)
{
	struct wr w;

	wr_init(&w, out, cap);
	wr_u8(&w, SESS_VERSION);
	wr_bytes(&w, e->session_id, SR_SID_LEN);
	wr_u8(&w, e->reason);
	if (!wr_ok(&w))
		return -ENOSPC;
	*len = w.len;
	return 0;
}

bool sess_end_decode(const uint8_t *in, size_t len, struct sess_end *e)
{
	struct rd d;

	rd_init(&d, in, len);
	if (rd_u8(&d) != SESS_VERSION)
		return false;
	rd_bytes(&d, e->session_id, SR_SID_LEN);
	e->reason = rd_u8(&d);
	return rd_done(&d);
}

void sess_request_wipe(struct sess_request *r)
{
	sodium_memzero(r, sizeof(*r));
}

void sess_answer_wipe(struct sess_answer *a)
{
	sodium_memzero(a, sizeof(*a));
}

int sess_resume_encode(const struct sess_resume *r, uint8_t *out, size_t cap, size_t *len)
{
	uint8_t tk[SR_SIDE_TICKET_MAX];
	size_t tklen;
	struct wr w;
	int rc = sr_side_ticket_encode(&r->ticket, tk, sizeof(tk), &tklen);

	if (rc < 0)
		return rc;
	wr_init(&w, out, cap);
	wr_u8(&w, SESS_VERSION);
	wr_bytes(&w, r->session_id, SR_SID_LEN);
	wr_lv16(&w, tk, tklen);
	wr_bytes(&w, r->client_pk, DP_PK_LEN);
	wr_u8(&w, r->aead_mask);
	sodium_memzero(tk, sizeof(tk));
	if (!wr_ok(&w))
		return -ENOSPC;
	*len = w.len;
	return 0;
}

bool sess_resume_decode(const uint8_t *in, size_t len, struct sess_resume *r)
{
	const uint8_t *tk;
	size_t tklen;
	struct rd d;

	memset(r, 0, sizeof(*r));
	rd_init(&d, in, len);
	if (rd_u8(&d) != SESS_VERSION)
		return false;
	rd_bytes(&d, r->session_id, SR_SID_LEN);
	tk = rd_lv16(&d, &tklen);
	rd_bytes(&d, r->client_pk, DP_PK_LEN);
	r->aead_mask = rd_u8(&d);
	if (!rd_done(&d) || !tk || !sr_side_ticket_decode(tk, tklen, &r->ticket) ||
	    r->ticket.side != SR_SIDE_B) {
		sodium_memzero(r, sizeof(*r));
		return false;
	}
	return true;
}

int sess_resumed_encode(const struct sess_resumed *r, uint8_t *out, size_t cap, size_t *len)
{
	struct wr w;

	wr_init(&w, out, cap);
	wr_u8(&w, SESS_VERSION);
	wr_bytes(&w, r->session_id, SR_SID_LEN);
	wr_u8(&w, r->status);
	wr_bytes(&w, r->device_pk, DP_PK_LEN);
	wr_u8(&w, r->aead);
	if (!wr_ok(&w))
		return -ENOSPC;
	*len = w.len;
	return 0;
}

bool sess_resumed_decode(const uint8_t *in, size_t len, struct sess_resumed *r)
{
	struct rd d;

	rd_init(&d, in, len);
	if (rd_u8(&d) != SESS_VERSION)
		return false;
	rd_bytes(&d, r->session_id, SR_SID_LEN);
	r->status = rd_u8(&d);
	rd_bytes(&d, r->device_pk, DP_PK_LEN);
	r->aead = rd_u8(&d);
	return rd_done(&d);
}

const char *sess_end_reason_str(int reason)
{
	switch (reason) {
	case SESS_END_CLOSED:
		return "closed";
	case SESS_END_IDLE:
		return "idle";
	case SESS_END_EXPIRED:
		return "maximum duration";
	case SESS_END_SR_LOST:
		return "relay lost";
	case SESS_END_REVOKED:
		return "revoked";
	default:
		return "error";
	}
}
