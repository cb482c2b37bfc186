/* SPDX-License-Identifier: MIT */
/**
 * @file conn.h  libev stream connection with buffered, back-pressured I/O.
 *
 * A conn is embedded in its owner's struct (recover the owner with
 * container_of). Reading fills an input buffer and calls ops->on_data, which
 * consumes what it can with conn_consume(); when the input buffer is full and
 * nothing is consumed, reading stops until it is. Writes queue into an output
 * buffer drained by a write watcher that is only active while data is
 * queued; above out_max, conn_write() refuses (-ENOBUFS). A relay pauses the
 * reading side with conn_pause_read() when the other side's queue is above
 * conn_congested(), and resumes it from on_drain.
 *
 * Callbacks return 0 to continue, or a negative value when they closed (and
 * may have freed) the conn: the conn code then touches it no more.
 */
#ifndef PORTLESS_CONN_H
#define PORTLESS_CONN_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif

struct conn;

struct conn_ops {
	/** New bytes in conn_in(); consume with conn_consume(). */
	int (*on_data)(struct conn *c);
	/** The output queue fell to empty (optional). */
	int (*on_drain)(struct conn *c);
	/** EOF (err 0) or error (-errno); the owner must conn_close() and free. */
	void (*on_close)(struct conn *c, int err);
	/** Non-blocking connect finished (optional). */
	int (*on_connected)(struct conn *c);
};

struct conn {
	struct ev_loop *loop;
	int fd;
	ev_io rio;
	ev_io wio;
	const struct conn_ops *ops;
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;
	size_t out_off, out_len, out_cap, out_max;
	bool connecting;
	bool read_paused; /**< paused by the owner (back-pressure) */
	bool corked;      /**< conn_write() only queues; the owner calls conn_flush() */
	bool closed;
	uint64_t bytes_in, bytes_out;
};

/**
 * Take ownership of non-blocking @p fd. @p in_cap is the input buffer size
 * (the largest message the owner parses at once), @p out_max the most that
 * may be queued for output. @p connecting: fd has a connect() in progress.
 */
int conn_init(struct conn *c, struct ev_loop *loop, int fd, const struct conn_ops *ops,
	      size_t in_cap, size_t out_max, bool connecting) __attribute__((warn_unused_result));

/** Queue bytes for output. -ENOBUFS when over out_max (nothing queued). */
int conn_write(struct conn *c, const void *p, size_t n) __attribute__((warn_unused_result));

/** Start of unconsumed input. */
static inline const uint8_t *conn_in(const struct conn *c)
{
	return c->in;
}
static inline size_t conn_in_len(const struct conn *c)
{
	return c->in_len;
}

/**
 * Resize the input buffer to @p cap bytes (>= the unconsumed input), so an
 * owner can start small (idle connections cost little) and grow only for a
 * large message. -EINVAL when @p cap < conn_in_len(), -ENOMEM.
 */
int conn_set_in_cap(struct conn *c, size_t cap) __attribute__((warn_unused_result));

/** Drop @p n bytes from the front of the input. */
void conn_consume(struct conn *c, size_t n);

/** Bytes waiting to be written. */
static inline size_t conn_pending(const struct conn *c)
{
	return c->out_len - c->out_off;
}

/** True when the output queue is above half of out_max (pause your source). */
static inline bool conn_congested(const struct conn *c)
{
	return conn_pending(c) > c->out_max / 2;
}

/**
 * Corked, conn_write() only queues (no send, no write watcher): a server
 * answering many requests in one loop iteration sends them in one go with
 * conn_flush() (e.g. from an ev_prepare) instead of one send per message.
 * Uncorking flushes.
 */
void conn_set_cork(struct conn *c, bool on);

/**
 * Send what is queued now; the write watcher takes over what the socket does
 * not take. On a socket error on_close() runs (as from the loop). 0, or -1
 * when the conn was closed.
 */
int conn_flush(struct conn *c);

void conn_pause_read(struct conn *c);
void conn_resume_read(struct conn *c);

/** Stop watchers, close the fd, wipe and free buffers. Idempotent. */
void conn_close(struct conn *c);

#endif
