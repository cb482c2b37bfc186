/* SPDX-License-Identifier: MIT */
/**
 * @file knownhosts.h  Per-session known_hosts files for `ssh -o HostKeyAlias=@device`.
 *
 * `portless ssh` runs ssh with
 *
 *     -o HostKeyAlias=@device -o UserKnownHostsFile=<file> -o StrictHostKeyChecking=yes
 *
 * where <file> holds the device's sshd host keys from its signed device
 * record, so the first connection is verified without a trust-on-first-use
 * prompt. With HostKeyAlias set, ssh looks the alias up verbatim (no port).
 *
 * known_hosts reserves lines that start with '@' for markers
 * (`@cert-authority`, `@revoked`); OpenSSH 9.2 skips `@device ssh-ed25519 ...`
 * as an invalid marker. So a handle alias is written as the pattern list
 * `[@device]:0,@device`: the first entry (port 0, never looked up) only keeps
 * the line from starting with '@', the second matches the alias exactly.
 * Aliases that do not start with '@' are written as they are.
 *
 *     # portless: host keys of @device (signed device record)
 *     [@device]:0,@device ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI...
 */
#ifndef PORTLESS_KNOWNHOSTS_H
#define PORTLESS_KNOWNHOSTS_H

#include <stddef.h>
#include <sys/types.h>

#include "sshkey.h"

enum {
	KNOWNHOSTS_MAX_KEYS = 8,
	KNOWNHOSTS_HOST_BUF = 2 * 64 + 8, /**< host field for the longest alias */
};

/**
 * The host field for @p alias ("[@dev]:0,@dev" or "host.example").
 * @p alias: a handle, or 1..63 of [a-z0-9.-]. -EINVAL otherwise, -ENOSPC.
 */
int knownhosts_host_field(const char *alias, char *out, size_t cap)
    __attribute__((warn_unused_result));

/**
 * The whole file for @p alias with @p n (1..KNOWNHOSTS_MAX_KEYS) keys: one
 * comment line, then one `<host field> <type> <base64>` line per key.
 * Key comments are not copied. -EINVAL, -ENOSPC.
 */
int knownhosts_format(const char *alias, const struct sshkey_pub *keys, size_t n, char *out,
		      size_t cap) __attribute__((warn_unused_result));

/**
 * Format and write the file as `<dir>/u<uid>/<name>` owned by the user,
 * mode 0600 (ctl_write_user_file). The path goes to @p path.
 */
int knownhosts_write_user(uid_t uid, gid_t gid, const char *dir, const char *name,
			  const char *alias, const struct sshkey_pub *keys, size_t n, char *path,
			  size_t cap) __attribute__((warn_unused_result));

#endif
