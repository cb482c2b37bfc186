/* SPDX-License-Identifier: MIT */
/**
 * @file cp_frame.h  Control-plane frames: AEAD session, message codec.
 *
 * I/O-free: bytes in, bytes out. A session (struct cp_sess) holds one key
 * and one 64-bit counter per direction; the nonce of frame n is
 * 4 zero bytes || u64 n (big-endian). The frame header (u32 ciphertext
 * length) is the associated data. Layout: cp_proto.h, docs/PROTOCOL.md.
 */
#ifndef PORTLESS_CP_FRAME_H
#define PORTLESS_CP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cp_proto.h"

/** Keys of one established connection; wipe with cp_sess_wipe(). */
struct cp_sess {
	uint8_t tx[CP_KEY_LEN];
	uint8_t rx[CP_KEY_LEN];
	uint64_t txn, rxn;        /**< next nonce counter per direction */
	uint8_t sid[CP_HASH_LEN]; /**< session hash, signed by identity auth */
};

void cp_sess_wipe(struct cp_sess *s);

/**
 * Look at the start of a byte stream. Returns 0 with *frame_len set when a
 * whole frame is present; -EAGAIN when more bytes are needed (*frame_len is
 * the total length needed so far); -EMSGSIZE when the header announces more
 * than CP_CT_MAX; -EBADMSG when less than a tag.
 */
int cp_frame_check(const uint8_t *in, size_t len, size_t *frame_len)
    __attribute__((warn_unused_result));

/**
 * Seal @p len (<= CP_MSG_MAX) plaintext bytes as one frame into @p out
 * (@p cap >= len + CP_FRAME_HDR + CP_TAG_LEN). In place when
 * msg == out + CP_FRAME_HDR. Returns the frame length or -EMSGSIZE/-ENOBUFS.
 */
int cp_sess_seal(struct cp_sess *s, const uint8_t *msg, size_t len, uint8_t *out, size_t cap)
    __attribute__((warn_unused_result));

/**
 * Open one whole frame (from cp_frame_check) into @p out (@p cap >= frame
 * length - CP_FRAME_HDR - CP_TAG_LEN). Returns the plaintext length or
 * -EBADMSG (forged, replayed, reordered or wrong key: the connection must close).
 */
int cp_sess_open(struct cp_sess *s, const uint8_t *frame, size_t frame_len, uint8_t *out,
		 size_t cap) __attribute__((warn_unused_result));

/** A decoded message. Pointers borrow the buffer that was decoded. */
struct cp_msg {
	uint8_t type; /**< enum cp_msg_type */
	uint32_t req; /**< request id, echoed in the answer; 0 for pushes */
	char handle[HANDLE_BUF];
	char name[CP_RECNAME_BUF];
	char code[CP_CODE_BUF];
	char hostport[CP_HOSTPORT_BUF];
	char errmsg[CP_ERRMSG_MAX + 1];
	uint16_t err;
	uint8_t sign_pk[CP_KEY_LEN], box_pk[CP_KEY_LEN], server_pk[CP_KEY_LEN];
	uint8_t keysig[CP_SIG_LEN], sig[CP_SIG_LEN];
	uint8_t challenge[CP_CHALLENGE_LEN];
	uint64_t seq, expiry;
	uint8_t flags;       /**< CP_T_R_NOTIFIED: CP_NOTIFIED_* bits */
	const uint8_t *data; /**< record data or envelope */
	size_t data_len;
	uint16_t nack;
	const uint8_t *acks; /**< nack x u64 (big-endian), for CP_T_ACK */
};

/**
 * Encode @p m (the fields its type uses) into @p out. Returns the length
 * or -EINVAL (bad field, e.g. too long) / -ENOBUFS.
 */
int cp_msg_encode(const struct cp_msg *m, uint8_t *out, size_t cap)
    __attribute__((warn_unused_result));

/**
 * Decode one message; strict (every byte used, handles valid, sizes within
 * limits). Returns 0 or -EBADMSG (unknown type: -ENOTSUP).
 */
int cp_msg_decode(const uint8_t *in, size_t len, struct cp_msg *m)
    __attribute__((warn_unused_result));

/** Valid record name: [a-z0-9._-]{1,CP_RECNAME_MAX}. */
bool cp_recname_valid(const char *s);

/** True when @p type is sent by clients. */
bool cp_msg_from_client(uint8_t type);

#endif
