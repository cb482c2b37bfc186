/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: control-plane frames and messages (everything either
 * side of a control-plane connection parses after the handshake: frames
 * (cp_frame_check, cp_sess_open), messages (cp_msg_decode) including the
 * records of PUT_RECORD / R_RECORD, envelopes of NOTIFY / PUSH and the
 * revoked handle of REVOKED; corpus/cp_msg has a seed per message type).
 *
 * The input is a byte stream cut into frames as a receiver would. Byte 0
 * bit 0 set: each chunk is first sealed validly under a fixed session key so
 * the decoder behind the AEAD is reached; clear: the raw bytes are opened
 * (forgeries must fail). Every message that decodes re-encodes identically.
 */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cp_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t frame[CP_FRAME_MAX], plain[CP_MSG_MAX], re[CP_MSG_MAX];

static void decode_one(const uint8_t *msg, size_t len)
{
	struct cp_msg m;
	uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan sees overreads */
	int n;

	if (!copy)
		return;
	if (len)
		memcpy(copy, msg, len);
	if (cp_msg_decode(copy, len, &m) == 0) {
		n = cp_msg_encode(&m, re, sizeof(re));
		if (n < 0 || (size_t)n != len || memcmp(re, copy, len) != 0)
			abort();
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cp_sess tx = {0}, rx = {0};
	size_t off = 1, fl, chunk;
	int n;

	if (size < 1)
		return 0;
	memset(tx.tx, 7, sizeof(tx.tx));
	memset(rx.rx, 7, sizeof(rx.rx));
	if (!(data[0] & 1)) {
		/* raw stream: frames as they come off the socket */
		for (int i = 0; i < 64 && off < size; i++) {
			n = cp_frame_check(data + off, size - off, &fl);
			if (n != 0)
				break;
			(void)cp_sess_open(&rx, data + off, fl, plain, sizeof(plain));
			decode_one(data + off + CP_FRAME_HDR, fl - CP_FRAME_HDR); /* as if opened */
			off += fl;
		}
		return 0;
	}
	/* sealed: u16 length-prefixed chunks, each sealed then opened and decoded */
	for (int i = 0; i < 64 && size - off >= 2; i++) {
		chunk = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (chunk > size - off)
			chunk = size - off;
		n = cp_sess_seal(&tx, data + off, chunk, frame, sizeof(frame));
		if (n < 0)
			abort();
		if (cp_frame_check(frame, (size_t)n, &fl) != 0 || fl != (size_t)n)
			abort();
		n = cp_sess_open(&rx, frame, fl, plain, sizeof(plain));
		if (n < 0 || (size_t)n != chunk || memcmp(plain, data + off, chunk) != 0)
			abort();
		decode_one(plain, chunk);
		off += chunk;
	}
	return 0;
}
