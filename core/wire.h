/* SPDX-License-Identifier: MIT */
/**
 * @file wire.h  Big-endian, bounds-checked encode/decode.
 *
 * A writer (struct wr) and a reader (struct rd) carry a sticky error flag:
 * a write past the capacity or a read past the end sets it and turns every
 * later call into a no-op, so a codec checks once at the end (wr_ok/rd_done)
 * instead of after every field. Lengths are checked as `len - off < need`.
 */
#ifndef PORTLESS_WIRE_H
#define PORTLESS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}
static inline void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}
static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t get_be32(const uint8_t *p)
{
	return ((uint32_t)get_be16(p) << 16) | get_be16(p + 2);
}
static inline uint64_t get_be64(const uint8_t *p)
{
	return ((uint64_t)get_be32(p) << 32) | get_be32(p + 4);
}

/** Writer over caller storage. */
struct wr {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool err;
};

void wr_init(struct wr *w, void *buf, size_t cap);
void wr_u8(struct wr *w, uint8_t v);
void wr_u16(struct wr *w, uint16_t v);
void wr_u32(struct wr *w, uint32_t v);
void wr_u64(struct wr *w, uint64_t v);
void wr_bytes(struct wr *w, const void *p, size_t n);
/** u8 length then bytes; sets err when @p n > 255. */
void wr_str8(struct wr *w, const char *s);
/** u16 length then bytes; sets err when @p n > 65535. */
void wr_lv16(struct wr *w, const void *p, size_t n);
/** u32 length then bytes. */
void wr_lv32(struct wr *w, const void *p, size_t n);
/** Reserve @p n bytes and return them (NULL on overflow). */
uint8_t *wr_reserve(struct wr *w, size_t n);
static inline bool wr_ok(const struct wr *w)
{
	return !w->err;
}

/** Reader over borrowed bytes. */
struct rd {
	const uint8_t *buf;
	size_t len;
	size_t off;
	bool err;
};

void rd_init(struct rd *r, const void *buf, size_t len);
uint8_t rd_u8(struct rd *r);
uint16_t rd_u16(struct rd *r);
uint32_t rd_u32(struct rd *r);
uint64_t rd_u64(struct rd *r);
/** Copy @p n bytes out (zeroes @p out on error). */
void rd_bytes(struct rd *r, void *out, size_t n);
/** Borrow @p n bytes; NULL on error. */
const uint8_t *rd_ptr(struct rd *r, size_t n);
/** u8 length + bytes into a NUL-terminated string of at most @p cap-1 bytes. */
void rd_str8(struct rd *r, char *out, size_t cap);
/** u16 length + bytes, borrowed; *len set. NULL on error. */
const uint8_t *rd_lv16(struct rd *r, size_t *len);
/** u32 length + bytes, borrowed, at most @p max bytes. NULL on error. */
const uint8_t *rd_lv32(struct rd *r, size_t *len, size_t max);
static inline size_t rd_left(const struct rd *r)
{
	return r->err ? 0 : r->len - r->off;
}
/** True when no error happened and every byte was consumed. */
static inline bool rd_done(const struct rd *r)
{
	return !r->err && r->off == r->len;
}

#endif
