/* SPDX-License-Identifier: MIT */
/** @file text.h  Base64 and hex through libsodium (no hand-written codecs). */
#ifndef PORTLESS_TEXT_H
#define PORTLESS_TEXT_H

#include <stddef.h>
#include <stdint.h>

/** Characters (with NUL) needed to hold @p n bytes as standard base64. */
size_t text_b64_len(size_t n);

/** Encode to standard, padded base64; -ENOSPC when @p cap is too small. */
int text_to_b64(char *out, size_t cap, const uint8_t *in, size_t n)
    __attribute__((warn_unused_result));

/**
 * Decode exactly @p n bytes of standard base64 from the NUL-terminated @p in.
 * -EINVAL on bad characters, trailing garbage or a different length.
 */
int text_from_b64_exact(uint8_t *out, size_t n, const char *in) __attribute__((warn_unused_result));

/** Lowercase hex; -ENOSPC when @p cap < 2n+1. */
int text_to_hex(char *out, size_t cap, const uint8_t *in, size_t n)
    __attribute__((warn_unused_result));

/** Decode exactly @p n bytes of hex from @p in; -EINVAL otherwise. */
int text_from_hex_exact(uint8_t *out, size_t n, const char *in) __attribute__((warn_unused_result));

#endif
