/* SPDX-License-Identifier: MIT */
#include "conn.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void update_read(struct conn *c)
{
	bool want = !c->closed && !c->connecting && !c->read_paused && c->in_len < c->in_cap;

	if (want && !ev_is_active(&c->rio))
		ev_io_start(c->loop, &c->rio);
	else if (!want && ev_is_active(&c->rio))
		ev_io_stop(c->loop, &c->rio);
}

static void update_write(struct conn *c)
{
	bool want = !c->closed && (c->connecting || conn_pending(c) > 0);

	if (want && !ev_is_active(&c->wio))
		ev_io_start(c->loop, &c->wio);
	else if (!want && ev_is_active(&c->wio))
		ev_io_stop(c->loop, &c->wio);
}

static void fail(struct conn *c, int err)
{
	ev_io_stop(c->loop, &c->rio);
	ev_io_stop(c->loop, &c->wio);
	c->ops->on_close(c, err);
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = container_of(w, struct conn, rio);
	ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		fail(c, -errno);
		return;
	}
	if (n == 0) {
		fail(c, 0);
		return;
	}
	c->in_len += (size_t)n;
	c->bytes_in += (uint64_t)n;
	if (c->ops->on_data(c) < 0)
		return;
	update_read(c);
}

static int finish_connect(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		fail(c, -err);
		return -1;
	}
	c->connecting = false;
	if (c->ops->on_connected && c->ops->on_connected(c) < 0)
		return -1;
	update_read(c);
	return 0;
}

/* Send what is queued. 0, or -1 when the conn failed (on_close ran). */
static int write_out(struct conn *c)
{
	ssize_t n;

	while (conn_pending(c) > 0) {
		n = send(c->fd, c->out + c->out_off, conn_pending(c), MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			fail(c, -errno);
			return -1;
		}
		c->out_off += (size_t)n;
		c->bytes_out += (uint64_t)n;
	}
	if (conn_pending(c) == 0) {
		c->out_off = c->out_len = 0;
		if (c->ops->on_drain && c->ops->on_drain(c) < 0)
			return -1;
	}
	update_write(c);
	return 0;
}

static void write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = container_of(w, struct conn, wio);

	if (c->connecting && finish_connect(c) < 0)
		return;
	(void)write_out(c);
}

int conn_flush(struct conn *c)
{
	if (c->closed)
		return -1;
	if (c->connecting || conn_pending(c) == 0 || ev_is_active(&c->wio))
		return 0; /* the write watcher is on it */
	return write_out(c);
}

void conn_set_cork(struct conn *c, bool on)
{
	c->corked = on;
	if (!on)
		(void)conn_flush(c);
}

int conn_init(struct conn *c, struct ev_loop *loop, int fd, const struct conn_ops *ops,
	      size_t in_cap, size_t out_max, bool connecting)
{
	memset(c, 0, sizeof(*c));
	c->loop = loop;
	c->fd = fd;
	c->ops = ops;
	c->in_cap = in_cap;
	c->out_max = out_max;
	c->connecting = connecting;
	c->in = malloc(in_cap);
	if (!c->in) {
		c->closed = true;
		return -ENOMEM;
	}
	ev_io_init(&c->rio, read_cb, fd, EV_READ);
	ev_io_init(&c->wio, write_cb, fd, EV_WRITE);
	update_read(c);
	update_write(c);
	return 0;
}

/* Grow the output buffer geometrically, compacting consumed bytes first. */
static int out_reserve(struct conn *c, size_t n)
{
	size_t need, cap;
	uint8_t *p;

	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, conn_pending(c));
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	need = c->out_len + n;
	if (need <= c->out_cap)
		return 0;
	cap = c->out_cap ? c->out_cap : 4096;
	while (cap < need)
		cap *= 2;
	p = realloc(c->out, cap);
	if (!p)
		return -ENOMEM;
	c->out = p;
	c->out_cap = cap;
	return 0;
}

int conn_write(struct conn *c, const void *p, size_t n)
{
	ssize_t w = 0;
	int r;

	if (c->closed)
		return -EPIPE;
	if (n > c->out_max - conn_pending(c))
		return -ENOBUFS;
	/* Nothing queued: try the socket directly and queue only the rest. */
	if (!c->connecting && !c->corked && conn_pending(c) == 0) {
		w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno != EAGAIN && errno != EINTR)
				return -errno;
			w = 0;
		}
		c->bytes_out += (uint64_t)w;
		if ((size_t)w == n)
			return 0;
	}
	r = out_reserve(c, n - (size_t)w);
	if (r < 0)
		return r;
	memcpy(c->out + c->out_len, (const uint8_t *)p + w, n - (size_t)w);
	c->out_len += n - (size_t)w;
	if (!c->corked)
		update_write(c);
	return 0;
}

int conn_set_in_cap(struct conn *c, size_t cap)
{
	uint8_t *p;

	if (cap == 0 || cap < c->in_len || c->closed)
		return -EINVAL;
	if (cap == c->in_cap)
		return 0;
	if (cap < c->in_cap)
		sodium_memzero(c->in + cap, c->in_cap - cap);
	p = realloc(c->in, cap);
	if (!p)
		return -ENOMEM;
	c->in = p;
	c->in_cap = cap;
	update_read(c);
	return 0;
}

void conn_consume(struct conn *c, size_t n)
{
	if (n > c->in_len)
		n = c->in_len;
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
	update_read(c);
}

void conn_pause_read(struct conn *c)
{
	c->read_paused = true;
	update_read(c);
}

void conn_resume_read(struct conn *c)
{
	c->read_paused = false;
	update_read(c);
}

void conn_close(struct conn *c)
{
	if (c->closed && c->fd < 0)
		return;
	c->closed = true;
	if (c->loop) {
		ev_io_stop(c->loop, &c->rio);
		ev_io_stop(c->loop, &c->wio);
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->in)
		sodium_memzero(c->in, c->in_cap);
	if (c->out)
		sodium_memzero(c->out, c->out_cap);
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
	c->in_len = c->out_len = c->out_off = c->out_cap = 0;
}
