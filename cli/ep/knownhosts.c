/* SPDX-License-Identifier: MIT */
#include "knownhosts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "handle.h"

int knownhosts_host_field(const char *alias, char *out, size_t cap)
{
	size_t n = strlen(alias);
	int w;

	if (handle_valid(alias)) {
		w = snprintf(out, cap, "[%s]:0,%s", alias, alias);
	} else {
		if (n == 0 || n > 63 || alias[0] == '-' || alias[0] == '.' ||
		    strspn(alias, "abcdefghijklmnopqrstuvwxyz0123456789.-") != n)
			return -EINVAL;
		w = snprintf(out, cap, "%s", alias);
	}
	return (w < 0 || (size_t)w >= cap) ? -ENOSPC : 0;
}

int knownhosts_format(const char *alias, const struct sshkey_pub *keys, size_t n, char *out,
		      size_t cap)
{
	char host[KNOWNHOSTS_HOST_BUF], line[SSHKEY_LINE_BUF];
	size_t off;
	int r, w;

	if (n == 0 || n > KNOWNHOSTS_MAX_KEYS)
		return -EINVAL;
	r = knownhosts_host_field(alias, host, sizeof(host));
	if (r < 0)
		return r;
	w = snprintf(out, cap, "# portless: host keys of %s (signed device record)\n", alias);
	if (w < 0 || (size_t)w >= cap)
		return -ENOSPC;
	off = (size_t)w;
	for (size_t i = 0; i < n; i++) {
		r = sshkey_pub_format(&keys[i], 0, line, sizeof(line));
		if (r < 0)
			return r;
		w = snprintf(out + off, cap - off, "%s %s\n", host, line);
		if (w < 0 || (size_t)w >= cap - off)
			return -ENOSPC;
		off += (size_t)w;
	}
	return 0;
}

int knownhosts_write_user(uid_t uid, gid_t gid, const char *dir, const char *name,
			  const char *alias, const struct sshkey_pub *keys, size_t n, char *path,
			  size_t cap)
{
	size_t size = 128 + KNOWNHOSTS_MAX_KEYS * (KNOWNHOSTS_HOST_BUF + SSHKEY_LINE_BUF);
	char *text = malloc(size);
	int r;

	if (!text)
		return -ENOMEM;
	r = knownhosts_format(alias, keys, n, text, size);
	if (r == 0)
		r = ctl_write_user_file(uid, gid, dir, name, text, strlen(text), path, cap);
	free(text);
	return r;
}
