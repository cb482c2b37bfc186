/* SPDX-License-Identifier: MIT */
/**
 * @file authkeys.h  Install and remove per-session key lines in ~/.ssh/authorized_keys.
 *
 * A session's line (sshd(8), AUTHORIZED_KEYS FILE FORMAT, OpenSSH 9.2):
 *
 *     restrict,pty,from="100.64.1.2,fd70::2",expiry-time="20250102030405Z" ssh-ed25519 AAAA... portless-session:<hex>
 *
 * - `restrict` turns off every forwarding, the pty, ~/.ssh/rc and X11;
 *   `pty` gives the pty back (AUTHKEYS_PORT_FORWARDING adds `port-forwarding`
 *   for `ssh -L`).
 * - `from=` is the session's client address on the virtual network: the key
 *   is useless from anywhere else.
 * - `expiry-time=` is YYYYMMDDHHMMSS with a `Z` suffix (UTC); sshd refuses
 *   the key for new logins after it. Omitted when the expiry is 0.
 * - the comment `portless-session:<session id in lowercase hex>` names the
 *   session; removal matches it exactly as the line's last word.
 *
 * Writing (the daemon runs as root and writes into homes that users
 * control): the home is opened as a directory, `.ssh` relative to it with
 * O_NOFOLLOW (created 0700 and fchown'ed to the user when missing), the
 * existing file read with O_NOFOLLOW|O_NONBLOCK and refused unless it is a
 * regular file owned by the user with one link; the new content goes to a
 * temporary file made with O_CREAT|O_EXCL|O_NOFOLLOW in the same `.ssh`,
 * fchown'ed to the user, mode 0600, fsync'ed, renamed over authorized_keys,
 * and the directory fsync'ed. Every line that is not ours stays byte for
 * byte (a missing final newline is added only when a line is appended after
 * it). Symlinks, wrong owners and group/other-writable `.ssh` are refused
 * with -ELOOP / -EPERM.
 *
 * Concurrency: the daemon serialises its own calls (one event loop); an
 * edit the user makes at the same instant may be lost (last rename wins),
 * as with any editor.
 */
#ifndef PORTLESS_AUTHKEYS_H
#define PORTLESS_AUTHKEYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum {
	AUTHKEYS_SID_MAX = 32,       /**< session id bytes */
	AUTHKEYS_LINE_BUF = 1024,    /**< longest line we write, with NUL */
	AUTHKEYS_FILE_MAX = 1 << 20, /**< larger authorized_keys files are refused (-EFBIG) */
};

/** Options beyond `restrict,pty`. */
enum authkeys_flags {
	AUTHKEYS_PORT_FORWARDING = 1 << 0, /**< add `port-forwarding` (allows ssh -L/-R) */
};

/** What a session line says. */
struct authkeys_entry {
	const char *from;   /**< client address: IPv4/IPv6 literal, optional /prefix */
	const char *from2;  /**< optional second address (the session's other family), or NULL */
	uint64_t expiry;    /**< Unix time after which sshd refuses the key; 0 = none */
	const char *key;    /**< "ssh-ed25519 AAAA..." (type and base64; no comment) */
	const uint8_t *sid; /**< session id */
	size_t sid_len;     /**< 1..AUTHKEYS_SID_MAX */
	unsigned flags;     /**< enum authkeys_flags */
};

/** The comment word that marks every portless line ("portless-session:"). */
#define AUTHKEYS_MARK "portless-session:"

/**
 * Render the line (no newline) for @p e. -EINVAL when the address is not
 * an IP literal, the key is not "<type> <base64>", or the sid length is
 * out of range; -ENOSPC when @p cap is too small.
 */
int authkeys_format_line(const struct authkeys_entry *e, char *out, size_t cap)
    __attribute__((warn_unused_result));

/**
 * Append @p line (one line, no newline inside) to `<home>/.ssh/authorized_keys`,
 * files owned by @p uid:@p gid. Lower-level form for tests and callers that
 * already resolved the user.
 */
int authkeys_install_home(const char *home, uid_t uid, gid_t gid, const char *line)
    __attribute__((warn_unused_result));

/**
 * Remove the lines whose last word is `portless-session:<hex of sid>`
 * (@p sid NULL: every portless line). *@p removed (optional) gets the count.
 * A missing file or .ssh counts as nothing to remove (0). The file is
 * rewritten only when a line goes.
 */
int authkeys_remove_home(const char *home, uid_t uid, gid_t gid, const uint8_t *sid, size_t sid_len,
			 unsigned *removed) __attribute__((warn_unused_result));

/** authkeys_install_home() for local user @p user (getpwnam_r). -ENOENT: no such user. */
int authkeys_install(const char *user, const char *line) __attribute__((warn_unused_result));

/** authkeys_remove_home() for local user @p user, removing one session's lines. */
int authkeys_remove(const char *user, const uint8_t *sid, size_t sid_len, unsigned *removed)
    __attribute__((warn_unused_result));

/**
 * Start-up clean-up: remove every portless line of each user in the
 * NULL-terminated @p users. Keeps going past a failing user; returns the
 * first error (users that do not exist are skipped with a warning).
 * *@p removed (optional) gets the total.
 */
int authkeys_remove_all(const char *const *users, unsigned *removed)
    __attribute__((warn_unused_result));

#endif
