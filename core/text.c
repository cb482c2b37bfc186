/* SPDX-License-Identifier: MIT */
#include "text.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

size_t text_b64_len(size_t n)
{
	return sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
}

int text_to_b64(char *out, size_t cap, const uint8_t *in, size_t n)
{
	if (cap < text_b64_len(n))
		return -ENOSPC;
	sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

int text_from_b64_exact(uint8_t *out, size_t n, const char *in)
{
	size_t got = 0;
	const char *end = NULL;
	size_t inlen = strlen(in);

	if (sodium_base642bin(out, n, in, inlen, NULL, &got, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != n || end != in + inlen) {
		sodium_memzero(out, n);
		return -EINVAL;
	}
	return 0;
}

int text_to_hex(char *out, size_t cap, const uint8_t *in, size_t n)
{
	if (cap < 2 * n + 1)
		return -ENOSPC;
	sodium_bin2hex(out, cap, in, n);
	return 0;
}

int text_from_hex_exact(uint8_t *out, size_t n, const char *in)
{
	size_t got = 0;
	const char *end = NULL;
	size_t inlen = strlen(in);

	if (sodium_hex2bin(out, n, in, inlen, NULL, &got, &end) != 0 || got != n ||
	    end != in + inlen) {
		sodium_memzero(out, n);
		return -EINVAL;
	}
	return 0;
}
