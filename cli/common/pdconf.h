/* SPDX-License-Identifier: MIT */
/**
 * @file pdconf.h  portlessd configuration (/etc/portless/portlessd.conf), parsed with libinih.
 *
 * INI sections and keys (see docs/ENDPOINT.md and scripts/portlessd.conf.example):
 *
 *     [identity]      keys = /var/lib/portless            (absolute directory)
 *     [controlplane]  address = host:port                 (required)
 *                     server-key = <base64 32 bytes>      (required)
 *     [device]        enabled = yes|no                    (default no)
 *                     virtual-prefix = 100.64.0.0/10      (IPv4 CIDR)
 *                     virtual-prefix6 = fd70:6c73:7300::/48 (IPv6 ULA, /8../96)
 *                     address-alternative = 0             (0..15: another stable address
 *                                                          when the derived one conflicts)
 *                     allowed-ports = 22[,2222...]        (default 22)
 *                     max-sessions = 16                   (1..1024)
 *                     idle-timeout = 30m                  (duration)
 *                     max-duration = 12h                  (duration)
 *                     sshd-host-keys = /etc/ssh/ssh_host_ed25519_key.pub[,...]
 *                     authorized-keys-users = alice,bob   (default: every user of every [allow])
 *                     authorized-keys = file|command      (default file: ~user/.ssh/authorized_keys;
 *                                                          command: sshd's AuthorizedKeysCommand)
 *                     keys-socket = /run/portless/keys.sock (command mode)
 *                     keys-user = nobody                  (sshd's AuthorizedKeysCommandUser)
 *                     run-as = portless                   (command mode, device only: the
 *                                                          unprivileged user it becomes)
 *     [allow @alice]  users = alice,bob                   (one section per client identity)
 *                     key = pl:xxxx-...                   (optional: the expected fingerprint)
 *                     max-sessions = 8                    (default: half of [device]'s)
 *     [client]        enabled = yes|no                    (default no)
 *                     socket = /run/portless/portlessd.sock
 *                     group = portless                    (optional: socket 0660 for this group)
 *                     sr = @relay[,@relay2...]            (required when enabled)
 *                     overlay = 100.64.0.0/10, fd70:6c73:7300::/48 (the virtual networks
 *                                                          devices' addresses must lie in)
 *     [interface]     ifup = /usr/local/lib/portless/portless-ifup   (optional; run after
 *                            an interface is configured)
 *                     ifdown = /usr/local/lib/portless/portless-ifdown (before it is removed)
 *                     script-timeout = 5s                 (1s..60s)
 *     [session]       rekey-after = 2m                    (5s..1d: new session keys
 *                                                          this often, both roles)
 *                     rekey-packets = 4294967296          (1000..2^32 packets per key)
 *
 * Durations: a number with an optional unit s, m, h or d (`90`, `30s`, `5m`,
 * `12h`, `1d`), 1 second .. 30 days. Booleans: yes/no, true/false, on/off, 1/0.
 * Lists are comma separated, spaces around items allowed, no duplicates.
 * User names: 1..32 of [a-z0-9_.-], not starting with '-' or '.'; a
 * trailing '$' is not allowed.
 *
 * Strict: unknown sections and keys, duplicate keys, lines without '=',
 * lines longer than PDCONF_LINE_MAX, NUL bytes and bad values are errors
 * naming the line, e.g. `portlessd.conf:7: unknown key 'foo' in [device]: "foo = 1"`.
 * Cross-field checks run at the end (no role enabled, device without any
 * [allow], client without sr, idle-timeout above max-duration, an allowed
 * user missing from authorized-keys-users). Multi-line continuation values
 * (an indented line) count as a duplicate key and are rejected.
 */
#ifndef PORTLESS_PDCONF_H
#define PORTLESS_PDCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "handle.h"
#include "addrplan.h"
#include "identity.h"
#include "ipaddr.h"

enum {
	PDCONF_PATH_MAX = 256,  /**< with NUL */
	PDCONF_USER_BUF = 33,   /**< 32 characters + NUL */
	PDCONF_MAX_USERS = 32,  /**< per [allow] and in authorized-keys-users */
	PDCONF_MAX_ALLOW = 64,  /**< [allow @x] sections */
	PDCONF_MAX_LOCAL = 64,  /**< [local x] sections */
	PDCONF_MAX_OVERLAY = 8, /**< [client] overlay networks */
	PDCONF_MAX_PORTS = 16,
	PDCONF_MAX_HOSTKEYS = 8,
	PDCONF_MAX_SR = 8,
	PDCONF_ADDR_BUF = 128,
	PDCONF_LINE_MAX = 190, /**< longer lines are rejected (libinih's buffer is 200) */
	PDCONF_FILE_MAX = 1 << 16,
	PDCONF_ERR_BUF = 512,
	PDCONF_MAX_SESSIONS = 1024,
	PDCONF_MAX_DURATION = 30 * 86400,
};

/** One `[allow @handle]` section. */
struct pdconf_allow {
	char handle[HANDLE_BUF];
	char users[PDCONF_MAX_USERS][PDCONF_USER_BUF];
	size_t n_users;
	char key[ID_FPR_BUF];  /**< expected key fingerprint ("" = pinned on first use) */
	unsigned max_sessions; /**< this identity's concurrent sessions (0: pdconf_allow_max()) */
};

/**
 * [local NAME] / [local %GROUP]: what a local user of this client (or any
 * member of a local group) may ask portlessd for. Without a rule a local
 * user may ask for any device as their own login name only (local root: as
 * any name); asking as `root` always needs a rule naming it. In `as`,
 * `%self` is the asker's own login name and `*` any name but root.
 */
struct pdconf_local {
	char name[PDCONF_USER_BUF];                 /**< user or group name */
	bool group;                                 /**< written %GROUP */
	char devices[PDCONF_MAX_USERS][HANDLE_BUF]; /**< devices ("*" = any) */
	size_t n_devices;
	char as[PDCONF_MAX_USERS][PDCONF_USER_BUF]; /**< remote users ("%self" = own login) */
	size_t n_as;
};

/** The whole configuration, defaults filled in. */
struct pdconf {
	char keys_dir[PDCONF_PATH_MAX];   /**< [identity] keys */
	char cp_address[PDCONF_ADDR_BUF]; /**< [controlplane] address (validated host:port) */
	uint8_t cp_server_key[32];        /**< [controlplane] server-key */
	bool have_cp_address, have_cp_key;

	bool device_enabled;
	uint32_t prefix_addr; /**< virtual-prefix network, host byte order */
	uint8_t prefix_len;
	uint8_t prefix6[16]; /**< virtual-prefix6 network (ULA); prefix6_len 0: the default */
	uint8_t prefix6_len;
	unsigned addr_alt; /**< address-alternative: 0 the derived address, 1.. stable others */
	uint16_t ports[PDCONF_MAX_PORTS];
	size_t n_ports;
	unsigned max_sessions;
	unsigned idle_timeout; /**< seconds */
	unsigned max_duration; /**< seconds */
	char host_keys[PDCONF_MAX_HOSTKEYS][PDCONF_PATH_MAX];
	size_t n_host_keys;
	char ak_users[PDCONF_MAX_USERS][PDCONF_USER_BUF]; /**< authorized-keys-users (filled
							   *   from the [allow]s when not given) */
	size_t n_ak_users;
	bool ak_users_given;
	bool ak_command; /**< [device] authorized-keys = command: session key lines
					  *   live in the daemon, sshd asks through its
					  *   AuthorizedKeysCommand (no file is written) */
	char keys_socket[PDCONF_PATH_MAX]; /**< [device] keys-socket (for the command) */
	char run_as[PDCONF_USER_BUF];      /**< [device] run-as: the unprivileged user of a
					    *   command-mode device ("" = portless, else nobody) */
	char keys_user[PDCONF_USER_BUF];   /**< [device] keys-user: sshd's
					    *   AuthorizedKeysCommandUser, the only one answered */

	struct pdconf_allow allow[PDCONF_MAX_ALLOW];
	size_t n_allow;

	bool client_enabled;
	char socket_path[PDCONF_PATH_MAX];  /**< [client] socket */
	char socket_group[PDCONF_USER_BUF]; /**< [client] group ("" = socket 0666) */
	char sr[PDCONF_MAX_SR][HANDLE_BUF];
	size_t n_sr;
	struct pdconf_local local[PDCONF_MAX_LOCAL];
	size_t n_local;
	struct ipaddr overlay[PDCONF_MAX_OVERLAY]; /**< [client] overlay: where answers' addresses
						    *   must lie (default the device defaults) */
	size_t n_overlay;

	char ifup[PDCONF_PATH_MAX];   /**< [interface] ifup ("" = none) */
	char ifdown[PDCONF_PATH_MAX]; /**< [interface] ifdown ("" = none) */
	unsigned script_timeout;      /**< seconds (default 5) */

	unsigned rekey_after;   /**< [session] seconds (default 120) */
	uint64_t rekey_packets; /**< [session] (default 2^32) */
};

/** Default path of the configuration file. */
#define PDCONF_DEFAULT_PATH "/etc/portless/portlessd.conf"

/** Fill @p c with the defaults (what an empty file means, before cross-checks). */
void pdconf_defaults(struct pdconf *c);

/**
 * Parse @p len bytes of @p text (need not be NUL-terminated) into @p c.
 * @p name prefixes error messages ("portlessd.conf:7: ..."). On failure,
 * returns -EINVAL with the message in @p err (always NUL-terminated).
 */
int pdconf_parse(struct pdconf *c, const char *name, const char *text, size_t len, char *err,
		 size_t errcap) __attribute__((warn_unused_result));

/**
 * Read and parse the file at @p path (NULL: PDCONF_DEFAULT_PATH). -errno
 * when it cannot be read (message in @p err), -EINVAL when it is invalid.
 */
int pdconf_load(struct pdconf *c, const char *path, char *err, size_t errcap)
    __attribute__((warn_unused_result));

/** The [allow] entry for client identity @p handle, or NULL (not authorised). */
const struct pdconf_allow *pdconf_find_allow(const struct pdconf *c, const char *handle);

/**
 * How many sessions identity @p a may hold at once: its [allow] max-sessions,
 * else half the device's max-sessions (rounded up), so one identity can never
 * take every slot.
 */
unsigned pdconf_allow_max(const struct pdconf *c, const struct pdconf_allow *a);

/** True when @p handle may log in as local user @p user. */
bool pdconf_user_allowed(const struct pdconf *c, const char *handle, const char *user);

/**
 * May local user @p login (member of @p groups, n_groups of them) ask for
 * @p device as remote user @p user? With no rule for the user (or a group
 * of theirs): only as @p login itself (local root: any name), never as root;
 * with rules, only what one of them names. On false, @p why (cap bytes) says which rule
 * is missing, as the line to add.
 */
bool pdconf_local_allowed(const struct pdconf *c, const char *login, const char *const *groups,
			  size_t n_groups, const char *device, const char *user, char *why,
			  size_t cap);

/**
 * The stable virtual addresses identity @p handle has as a device under this
 * configuration ([device] virtual-prefix, virtual-prefix6,
 * address-alternative); @p pc gets the address plan used. 0 or -errno.
 */
int pdconf_device_addrs(const struct pdconf *c, const char *handle, struct addrplan_cfg *pc,
			struct ipaddr *v4, struct ipaddr *v6) __attribute__((warn_unused_result));

/** True when @p a lies in one of the [client] overlay networks. */
bool pdconf_in_overlay(const struct pdconf *c, const struct ipaddr *a);

/** True when TCP port @p port is in allowed-ports. */
bool pdconf_port_allowed(const struct pdconf *c, uint16_t port);

/** Parse a duration ("90", "30s", "5m", "12h", "1d") into seconds; false when invalid. */
bool pdconf_parse_duration(const char *s, unsigned *out);

#endif
