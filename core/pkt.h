/* SPDX-License-Identifier: MIT */
/** @file pkt.h  Packet buffer with headroom (room in front for encapsulation). */
#ifndef PORTLESS_PKT_H
#define PORTLESS_PKT_H

#include <stddef.h>
#include <stdint.h>

/**
 * A packet: [base .. base+cap) is storage; the data is [off .. off+len).
 * Headers are prepended with pkt_push() into the headroom, so sealing a
 * packet needs no copy. Storage is owned by whoever made the pkt.
 */
struct pkt {
	uint8_t *base;
	size_t cap;
	size_t off;
	size_t len;
};

/** Point @p p at caller storage with @p headroom bytes reserved in front. */
void pkt_init(struct pkt *p, void *storage, size_t cap, size_t headroom);

/** Allocate a pkt with @p cap bytes of storage; NULL on ENOMEM. */
struct pkt *pkt_new(size_t cap, size_t headroom);

/** Free a pkt from pkt_new(); wipes the storage; NULL is a no-op. */
void pkt_free(struct pkt *p);

/** First data byte. */
static inline uint8_t *pkt_data(const struct pkt *p)
{
	return p->base + p->off;
}

/** Bytes free in front of the data. */
static inline size_t pkt_headroom(const struct pkt *p)
{
	return p->off;
}

/** Bytes free after the data. */
static inline size_t pkt_tailroom(const struct pkt *p)
{
	return p->cap - p->off - p->len;
}

/** Grow data by @p n in front; returns the new start or NULL (nothing changed). */
uint8_t *pkt_push(struct pkt *p, size_t n) __attribute__((warn_unused_result));

/** Remove @p n bytes from the front; returns the removed bytes or NULL. */
uint8_t *pkt_pull(struct pkt *p, size_t n) __attribute__((warn_unused_result));

/** Grow data by @p n at the end; returns the start of the new bytes or NULL. */
uint8_t *pkt_put(struct pkt *p, size_t n) __attribute__((warn_unused_result));

/** Shrink data to @p len bytes; returns -EINVAL when @p len > current length. */
int pkt_trim(struct pkt *p, size_t len) __attribute__((warn_unused_result));

/** Reset to empty with @p headroom reserved; -EINVAL when it doesn't fit. */
int pkt_reset(struct pkt *p, size_t headroom) __attribute__((warn_unused_result));

#endif
