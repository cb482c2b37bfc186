/* SPDX-License-Identifier: MIT */
/* Shared bits of the SR test helpers (header-only, static functions). */
#ifndef PORTLESS_SR_TEST_UTIL_H
#define PORTLESS_SR_TEST_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

/* Write @p text to @p path atomically (tmp + rename). */
static inline int sr_write_file(const char *path, const char *text)
{
	char tmp[4200];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	if (fclose(f) != 0)
		return -EIO;
	return rename(tmp, path) == 0 ? 0 : -errno;
}

/* Read a small text file, waiting up to @p wait_s for it to appear. */
static inline int sr_read_file(const char *path, char *out, size_t cap, double wait_s)
{
	struct timespec ts = {0, 20 * 1000 * 1000};
	FILE *f = NULL;
	size_t n;

	for (double t = 0; t <= wait_s && !(f = fopen(path, "r")); t += 0.02)
		nanosleep(&ts, NULL);
	if (!f)
		return -ENOENT;
	n = fread(out, 1, cap - 1, f);
	fclose(f);
	out[n] = '\0';
	while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
	return 0;
}

static inline int sr_hex_in(uint8_t *out, size_t cap, const char *hex, size_t *len)
{
	return sodium_hex2bin(out, cap, hex, strlen(hex), "\n ", len, NULL);
}

#endif
