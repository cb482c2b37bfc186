/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: envelope_peek, envelope_peek_inner and envelope_open on
 * arbitrary bytes, with fixed recipient and sender keys (derived from
 * constant seeds so the seed corpus stays valid across runs). Two thirds of the inputs are instead
 * re-sealed validly first with the fuzz input as payload, so the inner parser
 * is reached too.
 */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct identity *fixed(const char *handle, const char *text)
{
	struct identity *id = NULL;
	char err[128];

	if (identity_parse(text, strlen(text), &id, err, sizeof(err)) != 0)
		abort();
	(void)handle;
	return id;
}

static struct identity *me, *sender;
static uint8_t work[ENVELOPE_MAX];

static void init(void)
{
	if (sodium_init() < 0)
		abort();
	me = fixed("@bob", "portless-key v1\nhandle @bob\n"
			   "sign-seed tegmGN1IwKLJBrXdWGl48dvJbQhg6+icN90jwT9i0I8=\n"
			   "sign-public /ACAvObSpeO7eyVaIpyY6ZXZd6wwyp8cXwY9hmgbvkE=\n"
			   "box-secret YBz0TBdU1ibzP+sFu0OyvY/5cMxGb+f5WFRwEV30soQ=\n"
			   "box-public Av4wA+ctNGCiAm1kW4Sv6bwSr7K14nExMQIg7yaH3U8=\n");
	sender = fixed("@alice", "portless-key v1\nhandle @alice\n"
				 "sign-seed U9UScUzjqC9Uu8z9g+akO3q4sYaoaexvn01biNokH30=\n"
				 "sign-public pMCjyXDIv7OOi9W3/qBrS0LlbggXNrDG9SWBkbN7K7c=\n"
				 "box-secret bxEzxrNh6/1a/i9YM30mGT/iLeehRTwJTlilI3oiN/M=\n"
				 "box-public l/pQLutr7NJ0F8Mnn6hpHJnqweLmvW2yj8Ye3KxrrRk=\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char from[HANDLE_BUF], to[HANDLE_BUF];
	static uint8_t sealed[ENVELOPE_MAX];
	struct envelope env;
	size_t len;

	if (!me)
		init();
	(void)envelope_peek(data, size, from, to);
	(void)envelope_open(me, &sender->pub, data, size, 1, work, sizeof(work), &env);
	(void)envelope_peek_inner(me, data, size, work, sizeof(work), &env);
	if (size > 17 && data[0] % 3 != 0 &&
	    envelope_seal(sender, &me->pub, data[1], data + 1, 2, data + 17, size - 17, sealed,
			  sizeof(sealed), &len) == ENV_OK) {
		/* Flip one byte chosen by the input, then open: must never crash. */
		if (data[2] % 2)
			sealed[data[3] % len] ^= data[4] | 1;
		(void)envelope_open(me, &sender->pub, sealed, len, 1, work, sizeof(work), &env);
		(void)envelope_peek_inner(me, sealed, len, work, sizeof(work), &env);
	}
	return 0;
}
