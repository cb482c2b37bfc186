/* SPDX-License-Identifier: MIT */
/**
 * @file tun.h  Userspace TUN device: open, read/write whole IP packets, close.
 *
 * The kernel-facing calls go through a small ops table (struct tun_ops):
 * tun_ops_kernel is the real /dev/net/tun, tun_ops_fake (tun_fake.h) is a
 * socketpair a unit test can drive. Callers only ever see struct tun_dev and
 * struct pkt, so offloads (IFF_VNET_HDR, GSO super-packets) and multi-queue
 * can be added later behind tun_read()/tun_read_batch() without changing them.
 */
#ifndef PORTLESS_TUN_H
#define PORTLESS_TUN_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "gso.h"
#include "pkt.h"

struct iovec;

enum {
	TUN_NAME_MAX = IFNAMSIZ, /**< buffer for an interface name, with NUL */
	TUN_DEFAULT_MTU = 1420,  /**< 1500 - 40 (IPv6) - 8 (UDP) - 32 (SR header + tag) */
	TUN_MIN_MTU = 1280,      /**< IPv6 minimum */
	TUN_MAX_PACKET = 65535,  /**< largest IP packet a read can return */
	TUN_BATCH_MAX = 64,      /**< most packets one tun_read_batch() takes */
};

/** Options for tun_open_ex(); zero-initialise, then set what you need. */
struct tun_open_opts {
	const char *name; /**< interface name or template ("pl%d" when NULL) */
	unsigned flags;   /**< 0 or TUN_OPEN_VNET (needs ops with readv/writev) */
};

/** tun_open_opts.flags */
enum {
	TUN_OPEN_VNET = 1u << 1, /**< IFF_VNET_HDR: lets tun_set_offload() turn on TSO */
};

/**
 * The kernel seam. Every function returns >= 0 or -errno; none logs.
 * open() creates the interface (name template in, actual name out) and
 * returns a non-blocking fd the caller may watch with libev.
 */
struct tun_ops {
	int (*open)(const struct tun_open_opts *o, char name_out[TUN_NAME_MAX]);
	ssize_t (*read)(int fd, void *buf, size_t len);
	ssize_t (*write)(int fd, const void *buf, size_t len);
	void (*close)(int fd);
	/** Optional (IFF_VNET_HDR devices): scatter/gather I/O and TUNSETOFFLOAD. */
	ssize_t (*readv)(int fd, const struct iovec *iov, int n);
	ssize_t (*writev)(int fd, const struct iovec *iov, int n);
	int (*offload)(int fd, unsigned tun_f_flags);
};

/**
 * The real thing: /dev/net/tun with IFF_TUN | IFF_NO_PI (| IFF_VNET_HDR with
 * TUN_OPEN_VNET), O_NONBLOCK, O_CLOEXEC. The 10-byte virtio header of a VNET
 * device stays inside tun.c: tun_read()/tun_write() see plain IP packets.
 */
extern const struct tun_ops tun_ops_kernel;

struct tun_dev;

/**
 * Create a TUN interface named @p name ("pl%d" when NULL; a "%d" template
 * lets the kernel pick the number), with TUN_OPEN_VNET on the kernel ops
 * (offloads stay off until tun_set_offload()).
 * The interface exists until tun_close().
 * Returns 0 or -errno (-EPERM without CAP_NET_ADMIN, -ENOENT without
 * /dev/net/tun, -EBUSY when the name is taken).
 */
int tun_open(const char *name, struct tun_dev **out) __attribute__((warn_unused_result));

/** tun_open() with explicit ops (tun_ops_kernel, tun_ops_fake) and options. */
int tun_open_ex(const struct tun_ops *ops, const struct tun_open_opts *o, struct tun_dev **out)
    __attribute__((warn_unused_result));

/** The non-blocking fd to watch for EV_READ (and EV_WRITE when a write said -EAGAIN). */
int tun_fd(const struct tun_dev *dev);

/** The interface name the kernel gave (e.g. "pl0"). */
const char *tun_name(const struct tun_dev *dev);

/**
 * Read one packet into @p p (borrowed): the packet is placed at the current
 * data offset (the caller's headroom is kept for encapsulation) and p->len is
 * set. Keep the tailroom larger than the MTU: a packet that fills it
 * exactly is treated as truncated. Returns the packet length, -EAGAIN when nothing is queued,
 * -EMSGSIZE when the packet did not fit the tailroom (it is consumed and lost), or another -errno.
 */
ssize_t tun_read(struct tun_dev *dev, struct pkt *p) __attribute__((warn_unused_result));

/**
 * Read up to @p n packets (n <= TUN_BATCH_MAX), one per pkt, stopping at the
 * first -EAGAIN. Returns the number read (0 when none), or -errno when the
 * first read failed otherwise. Oversized packets are skipped and counted.
 */
int tun_read_batch(struct tun_dev *dev, struct pkt **pkts, int n)
    __attribute__((warn_unused_result));

/**
 * Write one whole IP packet (the data of @p p, borrowed). Returns 0,
 * -EAGAIN when the device queue is full (watch EV_WRITE and retry), or -errno.
 */
int tun_write(struct tun_dev *dev, const struct pkt *p) __attribute__((warn_unused_result));

/** Write raw bytes (one whole IP packet); same results as tun_write(). */
int tun_write_buf(struct tun_dev *dev, const void *buf, size_t len)
    __attribute__((warn_unused_result));

/**
 * Write @p n packets; returns how many were written (stops at the first
 * -EAGAIN), or -errno when the first failed otherwise.
 */
int tun_write_batch(struct tun_dev *dev, struct pkt *const *pkts, int n)
    __attribute__((warn_unused_result));

/**
 * Turn on checksum + TSO4/TSO6 offload (TUNSETOFFLOAD) on a TUN_OPEN_VNET
 * device: reads may then return TCP super-packets up to 64 KiB (see
 * tun_read_gso()) and packets with a partial checksum, which tun_read()
 * completes. Idempotent. 0, -EOPNOTSUPP (no VNET, or the environment
 * variable PORTLESS_TUN_OFFLOAD=0), or -errno.
 */
int tun_set_offload(struct tun_dev *dev) __attribute__((warn_unused_result));

/** True once tun_set_offload() succeeded. */
bool tun_offloading(const struct tun_dev *dev);

/**
 * tun_read() that also reports GSO metadata in @p g. For g->type != GSO_NONE
 * the packet is a TCP super-packet with a partial checksum (g->needs_csum):
 * send it whole after gso_csum_finish(), or cut it with gso_segment().
 * Non-GSO packets come back with their checksum complete.
 */
ssize_t tun_read_gso(struct tun_dev *dev, struct pkt *p, struct tun_gso *g)
    __attribute__((warn_unused_result));

/** Counters since open. */
struct tun_stats {
	unsigned long long rx_packets, rx_bytes, rx_oversize;
	unsigned long long tx_packets, tx_bytes, tx_errors;
};

/** Copy the counters. */
void tun_get_stats(const struct tun_dev *dev, struct tun_stats *st);

/** The ops the device runs on (lets a fake find its own state). */
const struct tun_ops *tun_get_ops(const struct tun_dev *dev);

/** Close the fd (the kernel removes a non-persistent interface) and free; NULL is a no-op. */
void tun_close(struct tun_dev *dev);

#endif
