/* SPDX-License-Identifier: MIT */
#include "cp_frame.h"
#include "cp_rot.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "wire.h"

_Static_assert(CP_TAG_LEN == crypto_aead_chacha20poly1305_ietf_ABYTES, "tag size");
_Static_assert(CP_NONCE_LEN == crypto_aead_chacha20poly1305_ietf_NPUBBYTES, "nonce size");
_Static_assert(CP_KEY_LEN == crypto_aead_chacha20poly1305_ietf_KEYBYTES, "key size");

void cp_sess_wipe(struct cp_sess *s)
{
	sodium_memzero(s, sizeof(*s));
}

int cp_frame_check(const uint8_t *in, size_t len, size_t *frame_len)
{
	uint32_t ct;

	*frame_len = CP_FRAME_HDR;
	if (len < CP_FRAME_HDR)
		return -EAGAIN;
	ct = get_be32(in);
	if (ct > CP_CT_MAX)
		return -EMSGSIZE;
	if (ct < CP_TAG_LEN)
		return -EBADMSG;
	*frame_len = CP_FRAME_HDR + (size_t)ct;
	return len < *frame_len ? -EAGAIN : 0;
}

static void make_nonce(uint8_t nonce[CP_NONCE_LEN], uint64_t n)
{
	memset(nonce, 0, 4);
	put_be64(nonce + 4, n);
}

int cp_sess_seal(struct cp_sess *s, const uint8_t *msg, size_t len, uint8_t *out, size_t cap)
{
	uint8_t nonce[CP_NONCE_LEN];
	size_t flen;

	if (len > CP_MSG_MAX)
		return -EMSGSIZE;
	flen = CP_FRAME_HDR + len + CP_TAG_LEN;
	if (cap < flen)
		return -ENOBUFS;
	if (s->txn == UINT64_MAX)
		return -EBADMSG; /* never reuse a nonce */
	if (msg != out + CP_FRAME_HDR)
		memmove(out + CP_FRAME_HDR, msg, len);
	put_be32(out, (uint32_t)(len + CP_TAG_LEN));
	make_nonce(nonce, s->txn++);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(
	    out + CP_FRAME_HDR, out + CP_FRAME_HDR + len, NULL, out + CP_FRAME_HDR, len, out,
	    CP_FRAME_HDR, NULL, nonce, s->tx);
	return (int)flen;
}

int cp_sess_open(struct cp_sess *s, const uint8_t *frame, size_t frame_len, uint8_t *out,
		 size_t cap)
{
	uint8_t nonce[CP_NONCE_LEN];
	size_t ct, len;

	if (frame_len < CP_FRAME_HDR + CP_TAG_LEN || frame_len > CP_FRAME_MAX)
		return -EBADMSG;
	ct = get_be32(frame);
	if (ct != frame_len - CP_FRAME_HDR || s->rxn == UINT64_MAX)
		return -EBADMSG;
	len = ct - CP_TAG_LEN;
	if (cap < len)
		return -EBADMSG;
	make_nonce(nonce, s->rxn);
	if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, NULL, frame + CP_FRAME_HDR, len,
							       frame + CP_FRAME_HDR + len, frame,
							       CP_FRAME_HDR, nonce, s->rx) != 0)
		return -EBADMSG;
	s->rxn++;
	return (int)len;
}

bool cp_recname_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CP_RECNAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
		      ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

bool cp_msg_from_client(uint8_t type)
{
	return type >= CP_T_AUTH && type <= CP_T_ROTATE;
}

/* ---- encode ---- */

static void enc_body(struct wr *w, const struct cp_msg *m)
{
	switch (m->type) {
	case CP_T_AUTH:
		wr_str8(w, m->handle);
		wr_bytes(w, m->sig, CP_SIG_LEN);
		break;
	case CP_T_ENROLL:
		wr_str8(w, m->handle);
		wr_str8(w, m->code);
		wr_bytes(w, m->sign_pk, CP_KEY_LEN);
		wr_bytes(w, m->box_pk, CP_KEY_LEN);
		wr_bytes(w, m->keysig, CP_SIG_LEN);
		wr_bytes(w, m->sig, CP_SIG_LEN);
		break;
	case CP_T_LOOKUP:
	case CP_T_GET_KEYS:
		wr_str8(w, m->handle);
		break;
	case CP_T_PUT_RECORD:
		wr_str8(w, m->name);
		wr_lv16(w, m->data, m->data_len);
		break;
	case CP_T_GET_RECORD:
		wr_str8(w, m->handle);
		wr_str8(w, m->name);
		break;
	case CP_T_DEL_RECORD:
		wr_str8(w, m->name);
		break;
	case CP_T_NOTIFY:
		wr_u64(w, m->expiry);
		wr_lv32(w, m->data, m->data_len);
		break;
	case CP_T_ACK:
		wr_u16(w, m->nack);
		wr_bytes(w, m->acks, (size_t)m->nack * 8);
		break;
	case CP_T_ROTATE:
		wr_bytes(w, m->keysig, CP_SIG_LEN);
		wr_lv16(w, m->data, m->data_len);
		break;
	case CP_T_MONITOR:
	case CP_T_PING:
	case CP_T_R_OK:
		break;
	case CP_T_CHALLENGE:
		wr_bytes(w, m->challenge, CP_CHALLENGE_LEN);
		break;
	case CP_T_R_ERR:
		wr_u16(w, m->err);
		wr_str8(w, m->errmsg);
		break;
	case CP_T_R_LOOKUP:
		wr_str8(w, m->handle);
		wr_str8(w, m->hostport);
		wr_bytes(w, m->server_pk, CP_KEY_LEN);
		break;
	case CP_T_R_KEYS:
		wr_str8(w, m->handle);
		wr_bytes(w, m->sign_pk, CP_KEY_LEN);
		wr_bytes(w, m->box_pk, CP_KEY_LEN);
		wr_bytes(w, m->keysig, CP_SIG_LEN);
		if (m->data_len)
			wr_lv16(w, m->data, m->data_len);
		break;
	case CP_T_R_RECORD:
		wr_lv16(w, m->data, m->data_len);
		break;
	case CP_T_R_NOTIFIED:
		wr_u64(w, m->seq);
		wr_u8(w, m->flags);
		break;
	case CP_T_PUSH:
		wr_u64(w, m->seq);
		wr_u64(w, m->expiry);
		wr_lv32(w, m->data, m->data_len);
		break;
	case CP_T_REVOKED:
		wr_str8(w, m->handle);
		break;
	default:
		w->err = true;
	}
}

int cp_msg_encode(const struct cp_msg *m, uint8_t *out, size_t cap)
{
	struct wr w;

	if (m->type == CP_T_ACK && m->nack > CP_ACK_MAX)
		return -EINVAL;
	if ((m->type == CP_T_PUT_RECORD || m->type == CP_T_R_RECORD) && m->data_len > CP_RECORD_MAX)
		return -EINVAL;
	if ((m->type == CP_T_NOTIFY || m->type == CP_T_PUSH) && m->data_len > ENVELOPE_MAX)
		return -EINVAL;
	if ((m->type == CP_T_ROTATE || m->type == CP_T_R_KEYS) && m->data_len > CP_ROT_MAX)
		return -EINVAL;
	if (m->type == CP_T_ROTATE && m->data_len == 0)
		return -EINVAL;
	if (m->type == CP_T_REVOKED && (m->req != 0 || !handle_valid(m->handle)))
		return -EINVAL;
	wr_init(&w, out, cap);
	wr_u8(&w, m->type);
	wr_u32(&w, m->req);
	enc_body(&w, m);
	if (!wr_ok(&w))
		return w.len >= cap ? -ENOBUFS : -EINVAL;
	return (int)w.len;
}

/* ---- decode ---- */

static void dec_handle(struct rd *r, char *out)
{
	rd_str8(r, out, HANDLE_BUF);
	if (!r->err && !handle_valid(out))
		r->err = true;
}

static void dec_name(struct rd *r, char *out)
{
	rd_str8(r, out, CP_RECNAME_BUF);
	if (!r->err && !cp_recname_valid(out))
		r->err = true;
}

static void dec_printable(struct rd *r, char *out, size_t cap)
{
	rd_str8(r, out, cap);
	for (size_t i = 0; !r->err && out[i]; i++)
		if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e)
			r->err = true;
}

static void dec_lv32(struct rd *r, struct cp_msg *m, size_t max)
{
	m->data = rd_lv32(r, &m->data_len, max);
	if (!m->data)
		r->err = true;
}

static void dec_lv16(struct rd *r, struct cp_msg *m, size_t max)
{
	m->data = rd_lv16(r, &m->data_len);
	if (!m->data || m->data_len > max)
		r->err = true;
}

static int dec_client(struct rd *r, struct cp_msg *m)
{
	switch (m->type) {
	case CP_T_AUTH:
		dec_handle(r, m->handle);
		rd_bytes(r, m->sig, CP_SIG_LEN);
		break;
	case CP_T_ENROLL:
		dec_handle(r, m->handle);
		dec_printable(r, m->code, CP_CODE_BUF);
		rd_bytes(r, m->sign_pk, CP_KEY_LEN);
		rd_bytes(r, m->box_pk, CP_KEY_LEN);
		rd_bytes(r, m->keysig, CP_SIG_LEN);
		rd_bytes(r, m->sig, CP_SIG_LEN);
		break;
	case CP_T_LOOKUP:
	case CP_T_GET_KEYS:
		dec_handle(r, m->handle);
		break;
	case CP_T_PUT_RECORD:
		dec_name(r, m->name);
		dec_lv16(r, m, CP_RECORD_MAX);
		break;
	case CP_T_GET_RECORD:
		dec_handle(r, m->handle);
		dec_name(r, m->name);
		break;
	case CP_T_DEL_RECORD:
		dec_name(r, m->name);
		break;
	case CP_T_NOTIFY:
		m->expiry = rd_u64(r);
		dec_lv32(r, m, ENVELOPE_MAX);
		break;
	case CP_T_ACK:
		m->nack = rd_u16(r);
		if (m->nack == 0 || m->nack > CP_ACK_MAX)
			r->err = true;
		m->acks = rd_ptr(r, (size_t)m->nack * 8);
		break;
	case CP_T_ROTATE:
		rd_bytes(r, m->keysig, CP_SIG_LEN);
		dec_lv16(r, m, CP_ROT_MAX);
		if (m->data_len == 0)
			r->err = true;
		break;
	case CP_T_MONITOR:
	case CP_T_PING:
		break;
	default:
		return -ENOTSUP;
	}
	return 0;
}

static int dec_server(struct rd *r, struct cp_msg *m)
{
	switch (m->type) {
	case CP_T_CHALLENGE:
		rd_bytes(r, m->challenge, CP_CHALLENGE_LEN);
		break;
	case CP_T_R_OK:
		break;
	case CP_T_R_ERR:
		m->err = rd_u16(r);
		dec_printable(r, m->errmsg, sizeof(m->errmsg));
		if (m->err == 0)
			r->err = true;
		break;
	case CP_T_R_LOOKUP:
		dec_handle(r, m->handle);
		dec_printable(r, m->hostport, CP_HOSTPORT_BUF);
		rd_bytes(r, m->server_pk, CP_KEY_LEN);
		break;
	case CP_T_R_KEYS:
		dec_handle(r, m->handle);
		rd_bytes(r, m->sign_pk, CP_KEY_LEN);
		rd_bytes(r, m->box_pk, CP_KEY_LEN);
		rd_bytes(r, m->keysig, CP_SIG_LEN);
		if (!r->err && r->off < r->len) { /* a rotation proof follows */
			dec_lv16(r, m, CP_ROT_MAX);
			if (m->data_len == 0)
				r->err = true;
		}
		break;
	case CP_T_R_RECORD:
		dec_lv16(r, m, CP_RECORD_MAX);
		break;
	case CP_T_R_NOTIFIED:
		m->seq = rd_u64(r);
		m->flags = rd_u8(r);
		break;
	case CP_T_PUSH:
		m->seq = rd_u64(r);
		m->expiry = rd_u64(r);
		dec_lv32(r, m, ENVELOPE_MAX);
		break;
	case CP_T_REVOKED: /* a push: req 0, one valid handle, nothing after it */
		dec_handle(r, m->handle);
		if (m->req != 0)
			r->err = true;
		break;
	default:
		return -ENOTSUP;
	}
	return 0;
}

int cp_msg_decode(const uint8_t *in, size_t len, struct cp_msg *m)
{
	struct rd r;
	int ret;

	memset(m, 0, sizeof(*m));
	rd_init(&r, in, len);
	m->type = rd_u8(&r);
	m->req = rd_u32(&r);
	if (r.err)
		return -EBADMSG;
	ret = cp_msg_from_client(m->type) ? dec_client(&r, m) : dec_server(&r, m);
	if (ret < 0)
		return ret;
	return rd_done(&r) ? 0 : -EBADMSG;
}

const char *cp_strerror(int err)
{
	static const char *const msgs[] = {
	    [CP_OK] = "success",
	    [CP_E_PROTO] = "protocol error",
	    [CP_E_AUTH] = "identity authentication failed",
	    [CP_E_NOT_AUTHED] = "not authenticated",
	    [CP_E_UNKNOWN_IDENTITY] = "unknown identity",
	    [CP_E_CODE_INVALID] = "wrong enrollment code",
	    [CP_E_CODE_EXPIRED] = "enrollment code expired",
	    [CP_E_CODE_USED] = "enrollment code already used",
	    [CP_E_RATE_LIMITED] = "too many attempts, retry later",
	    [CP_E_QUEUE_FULL] = "recipient's queue is full",
	    [CP_E_QUOTA] = "sender quota exceeded",
	    [CP_E_TOO_BIG] = "too big",
	    [CP_E_EXPIRY] = "bad expiry",
	    [CP_E_FORGED_SENDER] = "envelope sender is not the authenticated identity",
	    [CP_E_NOT_FOUND] = "not found",
	    [CP_E_LIMIT] = "limit reached",
	    [CP_E_STORE] = "server storage failure",
	    [CP_E_BUSY] = "server busy",
	    [CP_E_ENROLLED] = "identity already enrolled",
	    [CP_E_REMOTE_HOME] = "identity's home is on another server (not supported yet)",
	    [CP_E_REPLACED] = "replaced by a newer monitor connection",
	    [CP_E_INTERNAL] = "internal server error",
	    [CP_E_REVOKED] = "identity revoked",
	    [CP_E_CONNECT] = "cannot connect to the control plane",
	    [CP_E_SERVER_KEY] = "server key mismatch (handshake failed: not the pinned server key)",
	    [CP_E_TIMEOUT] = "timed out",
	    [CP_E_CLOSED] = "connection closed",
	    [CP_E_NOMEM] = "out of memory",
	    [CP_E_BAD_KEYS] = "public keys fail their signature",
	    [CP_E_KEY_CHANGED] = "identity's keys changed since pinned",
	    [CP_E_ENVELOPE] = "cannot seal or open envelope",
	    [CP_E_CONFIG] = "bad configuration",
	    [CP_E_ARG] = "invalid argument",
	};

	if (err < 0 || (size_t)err >= sizeof(msgs) / sizeof(msgs[0]) || !msgs[err])
		return "unknown error";
	return msgs[err];
}
