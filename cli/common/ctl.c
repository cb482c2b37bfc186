/* SPDX-License-Identifier: MIT */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "wire.h"

_Static_assert(CTL_FRAME_MAX - 2 <= UINT16_MAX, "frame length is a u16");
_Static_assert(CTL_TEXT_BUF - 1 <= 255 && CTL_PATH_BUF - 1 <= UINT16_MAX, "field sizes");
_Static_assert(CTL_HDR + CTL_SID_LEN + 2 * HANDLE_BUF + 2 * CTL_IP_BUF + CTL_USER_BUF +
		       2 * (2 + CTL_PATH_BUF) <=
		   CTL_FRAME_MAX,
	       "the largest READY fits a frame");
_Static_assert(CTL_HDR + CTL_SID_LEN + 3 + HANDLE_BUF + CTL_USER_BUF + 2 * CTL_IP_BUF + 20 <=
		   CTL_FRAME_MAX,
	       "the largest STATUS_ROW fits a frame");

static const char *const HOPS[] = {
    "none",          "local daemon",      "home",  "directory", "device offline",
    "device answer", "socket rendezvous", "tunnel"};
_Static_assert(sizeof(HOPS) / sizeof(HOPS[0]) == CTL_HOP_MAX + 1, "one name per hop");

const char *ctl_hop_name(unsigned hop)
{
	return hop <= CTL_HOP_MAX ? HOPS[hop] : "unknown";
}

/* ---- encoding ---- */

/* A NUL-terminated field of at most cap-1 bytes as str8. */
static void put_str(struct wr *w, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == cap)
		w->err = true;
	else
		wr_str8(w, s);
}

static void put_text(struct wr *w, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == cap)
		w->err = true;
	else
		wr_lv16(w, s, n);
}

static bool target_valid(const char *t)
{
	size_t n = strlen(t);

	return handle_valid(t) || (n == 2 * CTL_SID_LEN && strspn(t, "0123456789abcdef") == n);
}

static bool user_valid(const char *u)
{
	size_t n = strlen(u);

	return n < CTL_USER_BUF &&
	       (n == 0 ||
		(u[0] != '-' && strspn(u, "abcdefghijklmnopqrstuvwxyz"
					  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n));
}

static void put_ready(struct wr *w, const struct ctl_ready *m)
{
	wr_bytes(w, m->sid, CTL_SID_LEN);
	put_str(w, m->device, sizeof(m->device));
	put_str(w, m->device_ip, sizeof(m->device_ip));
	put_str(w, m->client_ip, sizeof(m->client_ip));
	put_str(w, m->user, sizeof(m->user));
	put_text(w, m->key_path, sizeof(m->key_path));
	put_text(w, m->known_hosts_path, sizeof(m->known_hosts_path));
	put_str(w, m->host_alias, sizeof(m->host_alias));
	put_str(w, m->device_ip6, sizeof(m->device_ip6));
	put_str(w, m->client_ip6, sizeof(m->client_ip6));
}

static void put_row(struct wr *w, const struct ctl_row *m)
{
	wr_bytes(w, m->sid, CTL_SID_LEN);
	wr_u8(w, m->role);
	wr_u8(w, m->state);
	wr_u8(w, m->transport);
	put_str(w, m->peer, sizeof(m->peer));
	put_str(w, m->user, sizeof(m->user));
	put_str(w, m->device_ip, sizeof(m->device_ip));
	put_str(w, m->client_ip, sizeof(m->client_ip));
	wr_u64(w, m->bytes_in);
	wr_u64(w, m->bytes_out);
	wr_u32(w, m->age);
	wr_u64(w, m->dropped);
	put_str(w, m->relay, sizeof(m->relay));
}

/* Field checks shared by both directions (a sender must not send what a receiver refuses). */
static bool msg_valid(const struct ctl_msg *m)
{
	switch (m->type) {
	case CTL_UP:
		return strnlen(m->up.device, HANDLE_BUF) < HANDLE_BUF &&
		       handle_valid(m->up.device) &&
		       strnlen(m->up.user, CTL_USER_BUF) < CTL_USER_BUF && user_valid(m->up.user) &&
		       strnlen(m->up.relay, HANDLE_BUF) < HANDLE_BUF &&
		       (!m->up.relay[0] || handle_valid(m->up.relay));
	case CTL_DOWN:
		return strnlen(m->down.target, CTL_TARGET_BUF) < CTL_TARGET_BUF &&
		       target_valid(m->down.target);
	case CTL_PROGRESS:
	case CTL_ERROR:
		return m->progress.hop <= CTL_HOP_MAX;
	case CTL_READY:
		return strnlen(m->ready.device, HANDLE_BUF) < HANDLE_BUF &&
		       handle_valid(m->ready.device);
	case CTL_ENDED:
		return m->ended.hop <= CTL_HOP_MAX;
	case CTL_STATUS_ROW:
		return strnlen(m->row.relay, HANDLE_BUF) < HANDLE_BUF &&
		       (!m->row.relay[0] || handle_valid(m->row.relay)) &&
		       m->row.role >= CTL_ROLE_CLIENT && m->row.role <= CTL_ROLE_DEVICE &&
		       m->row.state >= CTL_STATE_SETUP && m->row.state <= CTL_STATE_CLOSING &&
		       m->row.transport <= CTL_TRANSPORT_TCP;
	case CTL_KEYS:
		return strnlen(m->keys_user, CTL_USER_BUF) < CTL_USER_BUF && m->keys_user[0] &&
		       user_valid(m->keys_user);
	case CTL_KEY_LINE:
		return strnlen(m->line, CTL_LINE_BUF) < CTL_LINE_BUF && !strchr(m->line, '\n');
	case CTL_STATUS:
	case CTL_DOWN_OK:
	case CTL_STATUS_END:
	case CTL_KEYS_END:
		return true;
	}
	return false;
}

static void put_body(struct wr *w, const struct ctl_msg *m)
{
	switch (m->type) {
	case CTL_UP:
		put_str(w, m->up.device, sizeof(m->up.device));
		put_str(w, m->up.user, sizeof(m->up.user));
		wr_u32(w, m->up.flags);
		put_str(w, m->up.relay, sizeof(m->up.relay));
		break;
	case CTL_DOWN:
		put_str(w, m->down.target, sizeof(m->down.target));
		break;
	case CTL_PROGRESS:
	case CTL_ERROR:
		wr_u8(w, m->progress.hop);
		put_text(w, m->progress.text, sizeof(m->progress.text));
		break;
	case CTL_READY:
		put_ready(w, &m->ready);
		break;
	case CTL_STATUS_ROW:
		put_row(w, &m->row);
		break;
	case CTL_ENDED:
		wr_bytes(w, m->ended.sid, CTL_SID_LEN);
		wr_u8(w, m->ended.hop);
		put_text(w, m->ended.text, sizeof(m->ended.text));
		break;
	case CTL_KEYS:
		put_str(w, m->keys_user, sizeof(m->keys_user));
		break;
	case CTL_KEY_LINE:
		put_text(w, m->line, sizeof(m->line));
		break;
	case CTL_DOWN_OK:
	case CTL_STATUS_END:
	case CTL_KEYS_END:
		wr_u16(w, m->count);
		break;
	default: /* CTL_STATUS: empty */
		break;
	}
}

int ctl_encode(const struct ctl_msg *m, uint8_t *buf, size_t cap)
{
	struct wr w;
	uint8_t *lenp;

	if (!msg_valid(m))
		return -EINVAL;
	wr_init(&w, buf, cap < CTL_FRAME_MAX ? cap : CTL_FRAME_MAX);
	lenp = wr_reserve(&w, 2);
	wr_u8(&w, CTL_VERSION);
	wr_u8(&w, m->type);
	put_body(&w, m);
	if (!wr_ok(&w) || !lenp)
		return cap < CTL_FRAME_MAX ? -ENOSPC : -EINVAL;
	put_be16(lenp, (uint16_t)(w.len - 2));
	return (int)w.len;
}

/* ---- decoding ---- */

/* An lv16 text field into a NUL-terminated buffer; no NULs inside. */
static void get_text(struct rd *r, char *out, size_t cap)
{
	size_t n;
	const uint8_t *p = rd_lv16(r, &n);

	if (!p || n >= cap || memchr(p, 0, n)) {
		r->err = true;
		out[0] = '\0';
		return;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}

static void get_ready(struct rd *r, struct ctl_ready *m)
{
	rd_bytes(r, m->sid, CTL_SID_LEN);
	rd_str8(r, m->device, sizeof(m->device));
	rd_str8(r, m->device_ip, sizeof(m->device_ip));
	rd_str8(r, m->client_ip, sizeof(m->client_ip));
	rd_str8(r, m->user, sizeof(m->user));
	get_text(r, m->key_path, sizeof(m->key_path));
	get_text(r, m->known_hosts_path, sizeof(m->known_hosts_path));
	rd_str8(r, m->host_alias, sizeof(m->host_alias));
	rd_str8(r, m->device_ip6, sizeof(m->device_ip6));
	rd_str8(r, m->client_ip6, sizeof(m->client_ip6));
}

static void get_row(struct rd *r, struct ctl_row *m)
{
	rd_bytes(r, m->sid, CTL_SID_LEN);
	m->role = rd_u8(r);
	m->state = rd_u8(r);
	m->transport = rd_u8(r);
	rd_str8(r, m->peer, sizeof(m->peer));
	rd_str8(r, m->user, sizeof(m->user));
	rd_str8(r, m->device_ip, sizeof(m->device_ip));
	rd_str8(r, m->client_ip, sizeof(m->client_ip));
	m->bytes_in = rd_u64(r);
	m->bytes_out = rd_u64(r);
	m->age = rd_u32(r);
	m->dropped = rd_u64(r);
	rd_str8(r, m->relay, sizeof(m->relay));
}

static void get_body(struct rd *r, struct ctl_msg *m)
{
	switch (m->type) {
	case CTL_UP:
		rd_str8(r, m->up.device, sizeof(m->up.device));
		rd_str8(r, m->up.user, sizeof(m->up.user));
		m->up.flags = rd_u32(r);
		rd_str8(r, m->up.relay, sizeof(m->up.relay));
		break;
	case CTL_DOWN:
		rd_str8(r, m->down.target, sizeof(m->down.target));
		break;
	case CTL_PROGRESS:
	case CTL_ERROR:
		m->progress.hop = rd_u8(r);
		get_text(r, m->progress.text, sizeof(m->progress.text));
		break;
	case CTL_READY:
		get_ready(r, &m->ready);
		break;
	case CTL_STATUS_ROW:
		get_row(r, &m->row);
		break;
	case CTL_ENDED:
		rd_bytes(r, m->ended.sid, CTL_SID_LEN);
		m->ended.hop = rd_u8(r);
		get_text(r, m->ended.text, sizeof(m->ended.text));
		break;
	case CTL_KEYS:
		rd_str8(r, m->keys_user, sizeof(m->keys_user));
		break;
	case CTL_KEY_LINE:
		get_text(r, m->line, sizeof(m->line));
		break;
	case CTL_DOWN_OK:
	case CTL_STATUS_END:
	case CTL_KEYS_END:
		m->count = rd_u16(r);
		break;
	case CTL_STATUS:
		break;
	default:
		r->err = true;
	}
}

int ctl_decode(const uint8_t *buf, size_t len, struct ctl_msg *m, size_t *used)
{
	size_t flen;
	struct rd r;

	*used = 0;
	if (len < 2)
		return 0;
	flen = get_be16(buf);
	if (flen < 2 || flen > CTL_FRAME_MAX - 2)
		return -EMSGSIZE;
	if (len - 2 < flen)
		return 0;
	if (buf[2] != CTL_VERSION)
		return -EPROTO;
	memset(m, 0, sizeof(*m));
	m->type = buf[3];
	rd_init(&r, buf + CTL_HDR, flen - 2);
	get_body(&r, m);
	if (!rd_done(&r) || !msg_valid(m)) {
		memset(m, 0, sizeof(*m));
		return -EBADMSG;
	}
	*used = 2 + flen;
	return 1;
}

/* ---- daemon side ---- */

int ctl_peer_cred(int fd, uid_t *uid, gid_t *gid, pid_t *pid)
{
	struct ucred uc;
	socklen_t l = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &l) < 0)
		return -errno;
	if (l != sizeof(uc))
		return -EPROTO;
	*uid = uc.uid;
	*gid = uc.gid;
	if (pid)
		*pid = uc.pid;
	return 0;
}

static void peer_unlink(struct ctl_peer *p)
{
	if (!p->pprev)
		return;
	if (p->next)
		p->next->pprev = p->pprev;
	*p->pprev = p->next;
	p->pprev = NULL;
	p->next = NULL;
}

static void peer_destroy(struct ctl_peer *p)
{
	peer_unlink(p);
	conn_close(&p->conn);
	free(p);
}

/* Tell the owner once, then free unless a callback is still on the stack. */
void ctl_peer_close(struct ctl_peer *p)
{
	if (p->closing)
		return;
	p->closing = true;
	if (p->srv->ops->on_close)
		p->srv->ops->on_close(p);
	if (p->depth == 0)
		peer_destroy(p);
}

static bool is_request(uint8_t t)
{
	return t == CTL_UP || t == CTL_DOWN || t == CTL_STATUS || t == CTL_KEYS;
}

static int peer_on_data(struct conn *c)
{
	struct ctl_peer *p = container_of(c, struct ctl_peer, conn);
	struct ctl_msg m;
	size_t used;
	int r;

	while (!p->closing) {
		r = ctl_decode(conn_in(c), conn_in_len(c), &m, &used);
		if (r == 0)
			return 0;
		if (r < 0 || !is_request(m.type)) {
			log_msg(PL_LOG_WARN, "ctl: bad message from pid %d (uid %u), closing",
				(int)p->pid, (unsigned)p->uid);
			break;
		}
		conn_consume(c, used);
		p->depth++;
		p->srv->ops->on_request(p, &m);
		p->depth--;
	}
	if (!p->closing)
		ctl_peer_close(p); /* a bad frame: on_close, then freed here (depth 0) */
	else
		peer_destroy(p); /* closed by the owner inside on_request: deferred free */
	return -1;
}

static void peer_on_close(struct conn *c, int err)
{
	struct ctl_peer *p = container_of(c, struct ctl_peer, conn);

	if (err < 0)
		log_msg_errno(PL_LOG_DEBUG, -err, "ctl: peer pid %d", (int)p->pid);
	ctl_peer_close(p);
}

static const struct conn_ops PEER_OPS = {
    .on_data = peer_on_data,
    .on_close = peer_on_close,
};

int ctl_server_adopt(struct ctl_server *s, int fd, struct ctl_peer **out)
{
	struct ctl_peer *p = calloc(1, sizeof(*p));
	int r;

	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	r = ctl_peer_cred(fd, &p->uid, &p->gid, &p->pid);
	if (r < 0) {
		close(fd);
		free(p);
		return r;
	}
	r = conn_init(&p->conn, s->loop, fd, &PEER_OPS, CTL_FRAME_MAX, CTL_OUT_MAX, false);
	if (r < 0) {
		conn_close(&p->conn); /* closes fd */
		free(p);
		return r;
	}
	p->srv = s;
	p->next = s->peers;
	if (s->peers)
		s->peers->pprev = &p->next;
	p->pprev = &s->peers;
	s->peers = p;
	if (out)
		*out = p;
	return 0;
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_server *s = container_of(w, struct ctl_server, accept_w);
	int fd, r;

	for (int i = 0; i < 16; i++) {
		fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_msg_errno(PL_LOG_WARN, errno, "ctl: accept");
			return;
		}
		r = ctl_server_adopt(s, fd, NULL);
		if (r < 0)
			log_msg_errno(PL_LOG_WARN, -r, "ctl: cannot take a connection");
	}
}

/* Replace a stale socket file at @p path; refuse anything else there. */
static int clear_stale(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	return unlink(path) < 0 ? -errno : 0;
}

static int bind_listen(int fd, const char *path, gid_t gid)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	mode_t old;
	int r = 0;

	strcpy(sa.sun_path, path);
	old = umask(0177); /* born 0600: no window in which others could connect */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		r = -errno;
	umask(old);
	if (r < 0)
		return r;
	if (gid != (gid_t)-1 && chown(path, 0, gid) < 0)
		return -errno;
	if (chmod(path, gid != (gid_t)-1 ? 0660 : 0666) < 0)
		return -errno;
	return listen(fd, 64) < 0 ? -errno : 0;
}

int ctl_server_open(struct ctl_server *s, struct ev_loop *loop, const char *path, gid_t gid,
		    const struct ctl_server_ops *ops, void *ctx)
{
	int r;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (strlen(path) >= sizeof(s->path) ||
	    strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	r = clear_stale(path);
	if (r < 0)
		return r;
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -errno;
	r = bind_listen(s->fd, path, gid);
	if (r < 0) {
		close(s->fd);
		s->fd = -1;
		unlink(path);
		return r;
	}
	strcpy(s->path, path);
	s->loop = loop;
	s->ops = ops;
	s->ctx = ctx;
	ev_io_init(&s->accept_w, accept_cb, s->fd, EV_READ);
	ev_io_start(loop, &s->accept_w);
	return 0;
}

void ctl_server_close(struct ctl_server *s)
{
	while (s->peers) {
		struct ctl_peer *p = s->peers;

		ctl_peer_close(p);
		if (s->peers == p) { /* inside its on_request: off the list now, freed there */
			peer_unlink(p);
			conn_close(&p->conn);
		}
	}
	if (s->fd >= 0) {
		ev_io_stop(s->loop, &s->accept_w);
		close(s->fd);
		s->fd = -1;
		if (s->path[0])
			unlink(s->path);
	}
}

int ctl_peer_send(struct ctl_peer *p, const struct ctl_msg *m)
{
	uint8_t buf[CTL_FRAME_MAX];
	int n;

	if (p->closing)
		return -EPIPE;
	n = ctl_encode(m, buf, sizeof(buf));
	if (n < 0)
		return n;
	return conn_write(&p->conn, buf, (size_t)n);
}

/* ---- files handed to the caller ---- */

static bool component_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 200 || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] == '/' || (unsigned char)name[i] < 0x21 ||
		    (unsigned char)name[i] > 0x7e)
			return false;
	return true;
}

/* <dir>/u<uid>: made 0700 for the user when missing; must be the user's own directory. */
static int open_user_dir(uid_t uid, gid_t gid, const char *dir, bool create)
{
	const int fl = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	char sub[32];
	struct stat st;
	bool made = false;
	int bfd, fd;

	snprintf(sub, sizeof(sub), "u%u", (unsigned)uid);
	bfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0)
		return -errno;
	if (create && mkdirat(bfd, sub, 0700) == 0)
		made = true;
	fd = openat(bfd, sub, fl);
	close(bfd);
	if (fd < 0)
		return errno == ENOTDIR ? -ELOOP : -errno;
	if (made && (fchown(fd, uid, gid) < 0 || fchmod(fd, 0700) < 0))
		goto eperm;
	if (fstat(fd, &st) < 0 || st.st_uid != uid)
		goto eperm;
	return fd;
eperm:
	log_msg(PL_LOG_WARN, "ctl: refusing %s/%s (not owned by uid %u)", dir, sub, (unsigned)uid);
	close(fd);
	return -EPERM;
}

static int write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;
	ssize_t w;

	while (len > 0) {
		w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int ctl_write_user_file(uid_t uid, gid_t gid, const char *dir, const char *name, const void *data,
			size_t len, char *out, size_t cap)
{
	int dfd, fd, r;

	if (!component_ok(name))
		return -EINVAL;
	if ((size_t)snprintf(out, cap, "%s/u%u/%s", dir, (unsigned)uid, name) >= cap)
		return -ENAMETOOLONG;
	dfd = open_user_dir(uid, gid, dir, true);
	if (dfd < 0)
		return dfd;
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = 0;
	if (fchown(fd, uid, gid) < 0 || fchmod(fd, 0600) < 0)
		r = -errno;
	if (!r)
		r = write_all(fd, data, len);
	close(fd);
	if (r < 0)
		unlinkat(dfd, name, 0);
out:
	close(dfd);
	return r;
}

int ctl_remove_user_file(uid_t uid, const char *dir, const char *name)
{
	int dfd, r = 0;

	if (!component_ok(name))
		return -EINVAL;
	dfd = open_user_dir(uid, (gid_t)-1, dir, false);
	if (dfd == -ENOENT)
		return 0;
	if (dfd < 0)
		return dfd;
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		r = -errno;
	close(dfd);
	return r;
}

/* ---- client side ---- */

void ctl_client_init_fd(struct ctl_client *c, int fd)
{
	c->fd = fd;
	c->len = 0;
}

int ctl_client_open(struct ctl_client *c, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, r;

	c->fd = -1;
	c->len = 0;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	c->fd = fd;
	return 0;
}

int ctl_client_send(struct ctl_client *c, const struct ctl_msg *m)
{
	uint8_t buf[CTL_FRAME_MAX];
	size_t off = 0;
	ssize_t w;
	int n = ctl_encode(m, buf, sizeof(buf));

	if (n < 0)
		return n;
	while (off < (size_t)n) {
		w = send(c->fd, buf + off, (size_t)n - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		off += (size_t)w;
	}
	return 0;
}

int ctl_client_recv(struct ctl_client *c, struct ctl_msg *m, int timeout_ms)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	size_t used;
	ssize_t n;
	int r;

	for (;;) {
		r = ctl_decode(c->buf, c->len, m, &used);
		if (r < 0)
			return r;
		if (r == 1) {
			memmove(c->buf, c->buf + used, c->len - used);
			c->len -= used;
			return 0;
		}
		r = poll(&pfd, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		c->len += (size_t)n;
	}
}

void ctl_client_close(struct ctl_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
}
