/* SPDX-License-Identifier: MIT */
/** @file handle.h  Identity handles: "@" + 1..55 of [a-z0-9_-], first a letter or digit. */
#ifndef PORTLESS_HANDLE_H
#define PORTLESS_HANDLE_H

#include <stdbool.h>

enum {
	HANDLE_NAME_MAX = 55,             /**< characters after the '@' */
	HANDLE_MAX = HANDLE_NAME_MAX + 1, /**< with the '@' */
	HANDLE_BUF = HANDLE_MAX + 1,      /**< with the NUL */
};

/** True when @p s is a valid handle (with its leading '@'). Bytes >= 0x80 are rejected. */
bool handle_valid(const char *s);

#endif
