/* SPDX-License-Identifier: MIT */
/**
 * @file ctl.h  The local control socket between `portless` (any user) and `portlessd` (root).
 *
 * Transport: a Unix stream socket, default /run/portless/portlessd.sock, in
 * a root-owned 0755 directory. The socket is 0666 (any local user may ask
 * for sessions) unless the config names a group, then root:<group> 0660.
 * The daemon learns who is asking from SO_PEERCRED, never from the
 * messages: files it hands over are owned by that uid.
 *
 * Wire format (all integers big-endian; str8 = u8 length + bytes, lv16 =
 * u16 length + bytes; no NULs inside strings):
 *
 *     frame:   u16 len | u8 version (=1) | u8 type | payload
 *              len counts version+type+payload: 2 .. CTL_FRAME_MAX-2
 *
 *     UP          str8 device handle | str8 user ("" = the caller's own login) | u32 flags
 *     DOWN        str8 target (a device handle, or a session id as 32 hex digits)
 *     STATUS      (empty)
 *     PROGRESS    u8 hop | lv16 text                         (zero or more, then READY or ERROR)
 *     READY       sid[16] | str8 device | str8 device ip | str8 client ip | str8 user |
 *                 lv16 key file path | lv16 known_hosts path | str8 host alias
 *     ERROR       u8 hop | lv16 text
 *     DOWN_OK     u16 sessions closed
 *     STATUS_ROW  sid[16] | u8 role | u8 state | u8 transport | str8 peer | str8 user |
 *                 str8 device ip | str8 client ip | u64 bytes in | u64 bytes out | u32 age s
 *     STATUS_END  u16 rows sent
 *     ENDED       sid[16] | u8 hop (why) | lv16 text        (a READY session ended)
 *
 * Conversations: UP -> PROGRESS* -> READY | ERROR; the session stays up while
 * the requesting connection stays open (so `portless ssh` keeps the socket
 * across exec of ssh, and the session ends with ssh), unless UP carried
 * CTL_UP_DETACH; ENDED may follow READY. DOWN -> DOWN_OK | ERROR.
 * STATUS -> STATUS_ROW* -> STATUS_END. A malformed frame closes the connection.
 */
#ifndef PORTLESS_CTL_H
#define PORTLESS_CTL_H

#include <ev.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conn.h"
#include "handle.h"

enum {
	CTL_VERSION = 1,
	CTL_FRAME_MAX = 2048, /**< whole frame, length field included */
	CTL_HDR = 4,          /**< u16 len, u8 version, u8 type */
	CTL_SID_LEN = 16,
	CTL_USER_BUF = 33, /**< user name, with NUL */
	CTL_IP_BUF = INET6_ADDRSTRLEN,
	CTL_PATH_BUF = 256,
	CTL_TEXT_BUF = 256,
	CTL_TARGET_BUF = 65,      /**< a handle or 32 hex digits, with NUL */
	CTL_LINE_BUF = 768,       /**< an authorized_keys line, with NUL */
	CTL_OUT_MAX = 256 * 1024, /**< server output queue cap per peer */
};

/** Message types. */
enum ctl_type {
	CTL_UP = 1,
	CTL_DOWN = 2,
	CTL_STATUS = 3,
	CTL_KEYS = 4, /**< sshd's AuthorizedKeysCommand: the live session key lines of a user */
	CTL_PROGRESS = 16,
	CTL_READY = 17,
	CTL_ERROR = 18,
	CTL_DOWN_OK = 19,
	CTL_STATUS_ROW = 20,
	CTL_STATUS_END = 21,
	CTL_ENDED = 22,
	CTL_KEY_LINE = 23, /**< one authorized_keys line (answer to KEYS) */
	CTL_KEYS_END = 24, /**< u16 lines sent */
};

/** Which hop a progress line waits on, or which hop failed. */
enum ctl_hop {
	CTL_HOP_NONE = 0,
	CTL_HOP_DAEMON = 1,         /**< local: bad request, refused, internal error */
	CTL_HOP_HOME = 2,           /**< our home on the control plane (unreachable) */
	CTL_HOP_DIRECTORY = 3,      /**< looking the device up (unknown device) */
	CTL_HOP_DEVICE_OFFLINE = 4, /**< the device's home says it is not connected */
	CTL_HOP_DEVICE_ANSWER = 5,  /**< no answer from the device (not authorised or offline) */
	CTL_HOP_SR = 6,             /**< the socket rendezvous (ticket refused, unreachable) */
	CTL_HOP_TUNNEL = 7,         /**< TUN / data path did not come up in time */
	CTL_HOP_MAX = 7,
};

/** UP flags. */
enum ctl_up_flags {
	CTL_UP_DETACH =
	    1u << 0, /**< keep the session after the connection closes (portless up -d) */
	/**
	 * End the session when the requesting process exits (pidfd on its
	 * SO_PEERCRED pid). `portless ssh` sets it with DETACH: ssh closes every
	 * inherited descriptor at start-up, but keeps portless's pid across exec.
	 */
	CTL_UP_FOLLOW_PID = 1u << 1,
};

enum ctl_role { CTL_ROLE_CLIENT = 1, CTL_ROLE_DEVICE = 2 };
enum ctl_state { CTL_STATE_SETUP = 1, CTL_STATE_UP = 2, CTL_STATE_CLOSING = 3 };
enum ctl_transport { CTL_TRANSPORT_NONE = 0, CTL_TRANSPORT_UDP = 1, CTL_TRANSPORT_TCP = 2 };

struct ctl_up {
	char device[HANDLE_BUF];
	char user[CTL_USER_BUF];
	uint32_t flags;
	char relay[HANDLE_BUF]; /**< "" = the daemon's [client] sr list; else one of that list */
};
struct ctl_down {
	char target[CTL_TARGET_BUF];
};
struct ctl_text {    /**< PROGRESS and ERROR */
	uint8_t hop; /**< enum ctl_hop */
	char text[CTL_TEXT_BUF];
};
struct ctl_ready {
	uint8_t sid[CTL_SID_LEN];
	char device[HANDLE_BUF];
	char device_ip[CTL_IP_BUF];
	char client_ip[CTL_IP_BUF];
	char user[CTL_USER_BUF];
	char key_path[CTL_PATH_BUF];
	char known_hosts_path[CTL_PATH_BUF];
	char host_alias[HANDLE_BUF];
	char device_ip6[CTL_IP_BUF]; /**< the device's IPv6 (ULA) virtual address */
	char client_ip6[CTL_IP_BUF]; /**< the session's own IPv6 address (bind ssh -6 to it) */
};
struct ctl_row {
	uint8_t sid[CTL_SID_LEN];
	uint8_t role, state, transport; /**< enum ctl_role, ctl_state, ctl_transport */
	char peer[HANDLE_BUF];
	char user[CTL_USER_BUF];
	char device_ip[CTL_IP_BUF];
	char client_ip[CTL_IP_BUF];
	uint64_t bytes_in, bytes_out;
	uint32_t age;
	uint64_t dropped;       /**< received packets the session's filter refused */
	char relay[HANDLE_BUF]; /**< the relay the session uses ("" when none / device rows) */
};
struct ctl_ended {
	uint8_t sid[CTL_SID_LEN];
	uint8_t hop;
	char text[CTL_TEXT_BUF];
};

/** One decoded message. */
struct ctl_msg {
	uint8_t type; /**< enum ctl_type */
	union {
		struct ctl_up up;
		struct ctl_down down;
		struct ctl_text progress, error;
		struct ctl_ready ready;
		struct ctl_row row;
		struct ctl_ended ended;
		char keys_user[CTL_USER_BUF]; /**< KEYS: the local user sshd asks about */
		char line[CTL_LINE_BUF];      /**< KEY_LINE */
		uint16_t count;               /**< DOWN_OK, STATUS_END, KEYS_END */
	};
};

/** Short name of a hop ("home", "device answer", ...). */
const char *ctl_hop_name(unsigned hop);

/**
 * Encode @p m as one frame into @p buf. Returns the frame length, -EINVAL
 * when a field is invalid (unknown type or hop, bad handle, NUL-less or
 * over-long string), -ENOSPC when @p cap is too small.
 */
int ctl_encode(const struct ctl_msg *m, uint8_t *buf, size_t cap)
    __attribute__((warn_unused_result));

/**
 * Decode the first frame of @p buf. Returns 1 with *@p used set when a whole
 * valid frame was decoded, 0 when more bytes are needed, -EPROTO for an
 * unknown version, -EMSGSIZE for a length out of range, -EBADMSG for a bad
 * frame (unknown type, short or trailing bytes, invalid field).
 */
int ctl_decode(const uint8_t *buf, size_t len, struct ctl_msg *m, size_t *used)
    __attribute__((warn_unused_result));

/* ---- daemon side ---- */

/** Credentials of the process at the other end of Unix socket @p fd (SO_PEERCRED). */
int ctl_peer_cred(int fd, uid_t *uid, gid_t *gid, pid_t *pid) __attribute__((warn_unused_result));

struct ctl_peer;

struct ctl_server_ops {
	/**
	 * One request from @p p (UP, DOWN or STATUS only; replies are refused
	 * as requests). Answer with ctl_peer_send(). Return 0, or <0 after
	 * ctl_peer_close(p).
	 */
	int (*on_request)(struct ctl_peer *p, const struct ctl_msg *m);
	/** @p p is going away (EOF, error, bad frame, ctl_peer_close): called exactly once. */
	void (*on_close)(struct ctl_peer *p);
};

struct ctl_server {
	struct ev_loop *loop;
	int fd;
	ev_io accept_w;
	const struct ctl_server_ops *ops;
	void *ctx; /**< the owner's */
	struct ctl_peer *peers;
	char path[108];
};

/** One connected `portless` process. */
struct ctl_peer {
	struct conn conn;
	struct ctl_server *srv;
	struct ctl_peer *next, **pprev;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	void *user; /**< the owner's (e.g. the session this peer holds) */
	int depth;  /**< > 0 while inside on_request */
	bool closing;
};

/**
 * Listen on @p path: a stale socket file there is replaced (anything else
 * there is an error), mode 0666, or 0660 with group @p gid when @p gid is
 * not (gid_t)-1. The parent directory must exist.
 */
int ctl_server_open(struct ctl_server *s, struct ev_loop *loop, const char *path, gid_t gid,
		    const struct ctl_server_ops *ops, void *ctx)
    __attribute__((warn_unused_result));

/** Take an already connected socket (tests, socket activation) as a peer. */
int ctl_server_adopt(struct ctl_server *s, int fd, struct ctl_peer **out)
    __attribute__((warn_unused_result));

/** Close every peer (their on_close runs), stop listening, unlink the socket. */
void ctl_server_close(struct ctl_server *s);

/** Queue one message to @p p. -ENOBUFS when its queue is full, -EINVAL for a bad message. */
int ctl_peer_send(struct ctl_peer *p, const struct ctl_msg *m) __attribute__((warn_unused_result));

/** Close @p p (on_close runs); freed now, or on return from on_request when inside it. */
void ctl_peer_close(struct ctl_peer *p);

/**
 * Write @p len bytes as a new file `<dir>/u<uid>/<name>` owned by @p uid:@p gid,
 * mode 0600. `<dir>/u<uid>` is made 0700 for the user when missing and must
 * be a directory owned by @p uid (no symlinks: O_NOFOLLOW); the file is
 * created with O_CREAT|O_EXCL|O_NOFOLLOW then fchown'ed. @p name is one path
 * component. The full path goes to @p out. -EEXIST when the file exists.
 */
int ctl_write_user_file(uid_t uid, gid_t gid, const char *dir, const char *name, const void *data,
			size_t len, char *out, size_t cap) __attribute__((warn_unused_result));

/** Remove `<dir>/u<uid>/<name>` (missing is fine). */
int ctl_remove_user_file(uid_t uid, const char *dir, const char *name);

/* ---- client side (blocking, for the `portless` command) ---- */

struct ctl_client {
	int fd;
	uint8_t buf[CTL_FRAME_MAX];
	size_t len;
};

/** Connect to the daemon's socket (blocking, close-on-exec). -errno. */
int ctl_client_open(struct ctl_client *c, const char *path) __attribute__((warn_unused_result));

/** Use an already connected socket. */
void ctl_client_init_fd(struct ctl_client *c, int fd);

int ctl_client_send(struct ctl_client *c, const struct ctl_msg *m)
    __attribute__((warn_unused_result));

/**
 * Wait up to @p timeout_ms (-1: forever) for the next message. 0, or
 * -ETIMEDOUT, -ECONNRESET (daemon closed), -EBADMSG/-EPROTO/-EMSGSIZE.
 */
int ctl_client_recv(struct ctl_client *c, struct ctl_msg *m, int timeout_ms)
    __attribute__((warn_unused_result));

void ctl_client_close(struct ctl_client *c);

#endif
