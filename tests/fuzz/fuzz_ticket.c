/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the SR ticket payloads a peer can send through the
 * control plane: MSG_SR_TICKET (sr_ticket_decode), the side ticket a client
 * forwards to a device (sr_side_ticket_decode) and MSG_SR_REQUEST
 * (sr_request_decode). What decodes re-encodes to the same bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ticket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen != blen || memcmp(a, b, alen) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *in = malloc(size ? size : 1), out[SR_TICKET_MAX + SR_SIDE_TICKET_MAX + SR_REQ_MAX];
	struct sr_side_ticket st;
	struct sr_request rq;
	struct sr_ticket t;
	size_t len;

	if (!in)
		return 0;
	if (size)
		memcpy(in, data, size);
	if (sr_ticket_decode(in, size, &t)) {
		if (sr_ticket_encode(&t, out, sizeof(out), &len) != 0)
			abort();
		same(in, size, out, len);
		sr_ticket_wipe(&t);
	}
	if (sr_side_ticket_decode(in, size, &st)) {
		if (sr_side_ticket_encode(&st, out, sizeof(out), &len) != 0)
			abort();
		same(in, size, out, len);
		sr_side_ticket_wipe(&st);
	}
	if (sr_request_decode(in, size, &rq)) {
		if (sr_request_encode(&rq, out, sizeof(out), &len) != 0)
			abort();
		same(in, size, out, len);
	}
	free(in);
	return 0;
}
