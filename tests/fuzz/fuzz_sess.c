/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: session request / answer / end / resume / resumed payloads (what a client
 * sends a device and the device answers, inside envelopes). Decode never
 * crashes; decoded strings are terminated; what decodes re-encodes to the
 * same bytes.
 */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sess.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[SESS_ANSWER_MAX + SESS_REQUEST_MAX];
static struct sess_answer a;

static void same(const uint8_t *x, size_t xlen, size_t ylen)
{
	if (xlen != ylen || memcmp(x, out, xlen) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *in = malloc(size ? size : 1);
	struct sess_request r;
	struct sess_end e;
	struct sess_resume rs;
	struct sess_resumed rd;
	size_t len;

	if (!in)
		return 0;
	if (size)
		memcpy(in, data, size);
	if (sess_request_decode(in, size, &r)) {
		if (strlen(r.user) > SESS_USER_MAX ||
		    sess_request_encode(&r, out, sizeof(out), &len) != 0)
			abort();
		same(in, size, len);
		sess_request_wipe(&r);
	}
	if (sess_answer_decode(in, size, &a)) {
		if (strlen(a.reason) > SESS_REASON_MAX || a.box_len > SESS_BOX_MAX ||
		    sess_answer_encode(&a, out, sizeof(out), &len) != 0)
			abort();
		same(in, size, len);
		sess_answer_wipe(&a);
	}
	if (sess_end_decode(in, size, &e)) {
		if (sess_end_encode(&e, out, sizeof(out), &len) != 0)
			abort();
		same(in, size, len);
	}
	if (sess_resume_decode(in, size, &rs)) {
		if (sess_resume_encode(&rs, out, sizeof(out), &len) != 0)
			abort();
		same(in, size, len);
		sodium_memzero(&rs, sizeof(rs));
	}
	if (sess_resumed_decode(in, size, &rd)) {
		if (sess_resumed_encode(&rd, out, sizeof(out), &len) != 0)
			abort();
		same(in, size, len);
	}
	free(in);
	return 0;
}
